package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
)

// Workflow steps.
const (
	stepReopen   = "reopen"   // 4203 cplt_flag=0
	stepDelete   = "delete"   // 4204
	stepFees     = "fees"     // 4201A, in batches
	stepVisit    = "visit"    // 4202
	stepComplete = "complete" // 4203 cplt_flag=1
	stepSingle   = "single"   // one transaction
	stepDone     = "done"
)

// Step outcomes in the reply and the state.
const (
	outcomeOK         = "ok"
	outcomeReconciled = "reconciled" // the platform had it already: not resent
	outcomeTolerated  = "tolerated"  // refused, and the workflow goes on
	outcomeRejected   = "rejected"
)

// wfState is a workflow's progress, stored under wf/<message id>.
type wfState struct {
	Op      string `json:"op"`
	MdtrtID string `json:"mdtrtId"`
	Step    string `json:"step"`
	// Bounds are the exclusive end indices of the 4201A batches, fixed
	// when the workflow starts so a settings change cannot shift them.
	Bounds []int `json:"bounds,omitempty"`
	// Batch is the next 4201A batch (0-based).
	Batch int `json:"batch"`
	// Pending, when set, are the bkkp_sn of the current batch still to send
	// (after reconciliation found part of it on the platform).
	Pending  []string   `json:"pending,omitempty"`
	Inflight *inflight  `json:"inflight,omitempty"`
	Steps    []stepLog  `json:"steps"`
	Started  time.Time  `json:"started"`
	Final    *finalized `json:"final,omitempty"`
	// Sent is set once a call of the workflow may have left (written as
	// in flight and not stopped by medgate's own checks or before it was
	// sent): from then on a failed check is no longer an invalid message.
	Sent bool `json:"sent,omitempty"`
	// Claiming is set on a new upload or cancel's state, written before it
	// claims its visit (claim.go), and cleared once it holds the claim and
	// has made its start under it (the check that the visit is not
	// uploaded already, the patient's record); it is stored with the
	// state's next write.
	Claiming bool `json:"claiming,omitempty"`

	version int64
}

// inflight is a call written down before it is sent. If it is still set
// when a workflow resumes, the call's outcome is unknown.
type inflight struct {
	Step  string   `json:"step"`
	Infno string   `json:"infno"`
	MsgID string   `json:"msgid"`
	Batch int      `json:"batch"`
	Lines []string `json:"lines,omitempty"`
}

// stepLog is one finished call, as the reply lists it.
type stepLog struct {
	Step    string `json:"step"`
	Infno   string `json:"infno"`
	MsgID   string `json:"msgid,omitempty"`
	Batch   int    `json:"batch,omitempty"` // 1-based
	Lines   int    `json:"lines,omitempty"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
}

// finalized is a finished workflow's reply, returned again if the message
// is handled again before the host stored the outcome.
type finalized struct {
	Status      sdk.Status      `json:"status"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	External    *sdk.External   `json:"external,omitempty"`
	Diagnostics sdk.Diagnostics `json:"diagnostics,omitempty"`
}

func (f *finalized) response() *sdk.HandleResponse {
	return &sdk.HandleResponse{Status: f.Status, Payload: f.Payload, External: f.External, Diagnostics: f.Diagnostics}
}

func wfKey(messageID string) string { return "wf/" + messageID }

// errBusy says another instance advanced the same workflow meanwhile.
var errBusy = errors.New("the workflow's state changed under us (another medgate instance is handling this message)")

// load returns the message's workflow state, or nil.
func (r *run) load(ctx context.Context) (*wfState, error) {
	e, err := r.h.Get(ctx, wfKey(r.req.MessageID))
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("selfpay: read the workflow state of %s: %w", r.req.MessageID, err)
	}
	var st wfState
	if err := json.Unmarshal(e.Value, &st); err != nil {
		return nil, fmt.Errorf("selfpay: the workflow state of %s is unreadable: %w; delete key %s to start over", r.req.MessageID, err, wfKey(r.req.MessageID))
	}
	st.version = e.Version
	return &st, nil
}

// save writes the state with compare-and-set.
func (r *run) save(ctx context.Context, st *wfState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("selfpay: encode the workflow state: %w", err)
	}
	// Write even when ctx just ended: the call it records happened.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	v, err := r.h.CompareAndSet(sctx, wfKey(r.req.MessageID), st.version, b)
	if errors.Is(err, sdk.ErrConflict) {
		return errBusy
	}
	if err != nil {
		return fmt.Errorf("selfpay: store the workflow state of %s: %w", r.req.MessageID, err)
	}
	st.version = v
	return nil
}

func (st *wfState) log(l stepLog) { st.Steps = append(st.Steps, l) }

// send makes one workflow call: it writes the call down as in flight, then
// sends it. On return the in-flight record is cleared in st when the
// outcome is known (answer, refusal, or not sent); it stays when the call
// may have reached the platform. The caller records the step and saves.
func (r *run) send(ctx context.Context, st *wfState, step string, batch int, infno string, input any, lines []string) (*hsa.Result, error) {
	if err := r.beforeCall(ctx); err != nil {
		return nil, err
	}
	msgid, err := r.s.client.NewMsgID(ctx, r.h)
	if err != nil {
		return nil, err
	}
	sent := st.Sent
	st.Inflight = &inflight{Step: step, Infno: infno, MsgID: msgid, Batch: batch, Lines: lines}
	st.Sent = true
	if err := r.save(ctx, st); err != nil {
		return nil, err
	}
	// A call refused for an expired sign-in goes out again with a new
	// msgid: the call in flight is then that one.
	resending := func(ctx context.Context, id string) error {
		st.Inflight.MsgID = id
		return r.save(ctx, st)
	}
	res, err := r.s.client.Do(ctx, r.h, hsa.Call{Infno: infno, Input: input, MessageID: r.req.MessageID, MsgID: msgid, Resending: resending})
	if ve := (*hsa.ValidationError)(nil); errors.As(err, &ve) {
		st.Sent = sent // medgate's own checks stopped it: it never left
	}
	var te *hsa.TransportError
	if errors.As(err, &te) {
		if te.Sent {
			return nil, err
		}
		st.Inflight, st.Sent = nil, sent
		if serr := r.save(ctx, st); serr != nil {
			return nil, serr
		}
		return nil, err
	}
	st.Inflight = nil
	if terr := r.transient(err); terr != err {
		// Refused for a passing cause: not run, so nothing is in flight
		// and the next attempt sends it again (a new msgid).
		if serr := r.save(ctx, st); serr != nil {
			return nil, serr
		}
		return nil, terr
	}
	return res, err
}

// transientRefusalError is a refusal the site lists in transientRefusals:
// a passing cause (the platform busy), not the data. The call was not
// run; the attempt fails, retryable, and the next one sends it again.
type transientRefusalError struct{ be *hsa.BusinessError }

func (e *transientRefusalError) Error() string {
	return e.be.Error() + " (a passing cause listed in transientRefusals)"
}

// transient returns err as a *transientRefusalError when it is a refusal
// listed in transientRefusals, else err as it is.
func (r *run) transient(err error) error {
	var be *hsa.BusinessError
	if errors.As(err, &be) && r.s.opts.transientRefusal(be.Infcode, be.Message) {
		return &transientRefusalError{be: be}
	}
	return err
}
