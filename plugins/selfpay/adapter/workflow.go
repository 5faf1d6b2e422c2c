package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
)

// batches splits fee lines into 4201A calls of at most batchSize lines
// and, with maxInputChars set, at most that many characters of input as
// sent (its ciphertext when the envelope encrypts it).
// It returns the exclusive end index of each batch.
func (r *run) batches(fees []any) []int {
	limit := r.s.cfg.MaxInputChars
	const overhead = len(`{"fsiOwnpayPatnFeeListDDTO":[]}`)
	var bounds []int
	n, chars, size := 0, overhead, overhead
	for i, f := range fees {
		b, _ := json.Marshal(f)
		lc, lb := utf8.RuneCount(b)+1, len(b)+1
		if n > 0 && (n == r.s.opts.batchSize || (limit > 0 && r.s.cfg.InputChars(chars+lc, size+lb) > limit)) {
			bounds = append(bounds, i)
			n, chars, size = 0, overhead, overhead
		}
		n++
		chars += lc
		size += lb
	}
	if n > 0 {
		bounds = append(bounds, len(fees))
	}
	return bounds
}

func (st *wfState) batchRange(k int) (lo, hi int) {
	if k > 0 {
		lo = st.Bounds[k-1]
	}
	return lo, st.Bounds[k]
}

// upload runs selfpay.upload.
func (r *run) upload(ctx context.Context) (*sdk.HandleResponse, error) {
	m, bad := decode(r.req.Payload)
	if bad != nil {
		return bad, nil
	}
	p, pds := parsePart(m)
	if pds.HasError() {
		// Every problem at once: the part's and the payload's.
		_, ds := r.validateUpload(m, false)
		return r.refuse(ctx, append(pds, ds...))
	}
	if p != nil {
		return r.uploadPart(ctx, m, p)
	}
	in, ds := r.validateUpload(m, true)
	if ds.HasError() {
		return r.refuse(ctx, ds)
	}
	// What the checks warn of goes with every answer, the stored reply's
	// too (the checks run again on every attempt).
	resp, err := r.runUpload(ctx, in)
	return withWarnings(resp, ds), err
}

// withWarnings adds the warnings of ds to resp (nil stays nil).
func withWarnings(resp *sdk.HandleResponse, ds sdk.Diagnostics) *sdk.HandleResponse {
	if resp == nil {
		return nil
	}
	for _, d := range ds {
		if d.Severity == sdk.SeverityWarning {
			resp.Diagnostics = append(slices.Clip(resp.Diagnostics), d)
		}
	}
	return resp
}

// runUpload runs the steps of a validated selfpay.upload.
func (r *run) runUpload(ctx context.Context, in *uploadInput) (*sdk.HandleResponse, error) {
	st, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	if st != nil && st.Final != nil {
		r.claimed = st.MdtrtID // released if a crash left it claimed
		return st.Final.response(), nil
	}
	if st != nil && (st.Op != "upload" || st.MdtrtID != in.mdtrtID) {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.id", Rule: "state", Summary: "this message id was used for another operation",
			Detail: fmt.Sprintf("message %s started %s of visit %s; give every message its own id", r.req.MessageID, st.Op, st.MdtrtID)}), nil
	}
	if st == nil {
		// The state (the message's own record) goes before the claim, so
		// that a claim without it is known to be left behind.
		st = &wfState{Op: "upload", MdtrtID: in.mdtrtID, Step: stepDelete, Bounds: r.batches(in.fees), Started: r.a.now().UTC(), Claiming: true}
		if in.reupload {
			st.Step = stepReopen
		}
		if err := r.save(ctx, st); err != nil {
			return nil, err
		}
	}
	if wait, err := r.claim(ctx, st.Op, in.mdtrtID, "$."+nodeMdtrt+".fixmedins_mdtrt_id"); wait != nil || err != nil {
		return wait, err
	}
	if st.Claiming {
		p, err := r.patient(ctx, in.mdtrtID)
		if err != nil {
			return nil, err
		}
		if p != nil && p.Status == statusUploaded && !in.reupload {
			st.Final = &finalized{Status: sdk.StatusInvalid, Diagnostics: sdk.Diagnostics{{Severity: sdk.SeverityError, Field: "$." + nodeMdtrt + ".fixmedins_mdtrt_id", Rule: "state", Summary: "this visit is already uploaded and complete",
				Detail: fmt.Sprintf("message %s completed it at %s; send selfpay.cancel first, or set \"reupload\": true to withdraw the completion and upload again", p.MessageID, shownTime(p.UpdatedAt))}}}
			if err := r.save(ctx, st); err != nil {
				return nil, err
			}
			return st.Final.response(), nil
		}
		if err := r.notePatient(ctx, in, statusUploading, "", ""); err != nil {
			return nil, err
		}
		st.Claiming = false
		r.a.log.Info("self-pay upload started", "site", r.s.code, "message", r.req.MessageID, "visit", in.mdtrtID,
			"patient", hsa.MaskName(str(in.mdtrt["psn_name"])), "lines", len(in.fees), "batches", len(st.Bounds))
	}
	if st.Inflight != nil {
		if err := r.reconcileUpload(ctx, st, in); err != nil {
			return r.stop(ctx, st, in, unsettled(st.Inflight, err))
		}
	}
	code := r.s.cfg.FixmedinsCode
	for st.Step != stepDone {
		switch st.Step {
		case stepReopen:
			res, err := r.send(ctx, st, stepReopen, 0, "4203", map[string]any{"fixmedins_mdtrt_id": in.mdtrtID, "fixmedins_code": code, "cplt_flag": "0"}, nil)
			note, err := r.reopenRefused(ctx, in.mdtrtID, in.mdtrt, err)
			if err != nil {
				return r.stop(ctx, st, in, err)
			}
			l := stepResult(stepReopen, "4203", 0, 0, res, nil)
			if note != nil {
				l = stepResult(stepReopen, "4203", 0, 0, nil, note.BusinessError)
				l.Message = hsa.MaskText(note.Message) + note.why
			}
			st.log(l)
			st.Step = stepDelete
		case stepDelete:
			res, err := r.send(ctx, st, stepDelete, 0, "4204", deleteAll(in.mdtrtID, code), nil)
			note, err := r.clearRefused(ctx, in.mdtrtID, err)
			if err != nil {
				return r.stop(ctx, st, in, err)
			}
			l := stepResult(stepDelete, "4204", 0, 0, res, nil)
			if note != nil {
				l = stepResult(stepDelete, "4204", 0, 0, nil, note.BusinessError)
				l.Message = hsa.MaskText(note.Message) + note.why
			}
			st.log(l)
			st.Step = stepFees
		case stepFees:
			if st.Batch >= len(st.Bounds) {
				st.Step = stepVisit
				continue
			}
			lines, sns := r.batchLines(st, in.fees)
			res, err := r.send(ctx, st, stepFees, st.Batch, "4201A", map[string]any{nodeFees: lines}, sns)
			if err != nil {
				return r.stop(ctx, st, in, err)
			}
			st.log(stepResult(stepFees, "4201A", st.Batch+1, len(lines), res, nil))
			st.Batch++
			st.Pending = nil
		case stepVisit:
			res, err := r.send(ctx, st, stepVisit, 0, "4202", map[string]any{nodeMdtrt: in.mdtrt, nodeDiags: in.diags}, nil)
			if err != nil {
				return r.stop(ctx, st, in, err)
			}
			st.log(stepResult(stepVisit, "4202", 0, 0, res, nil))
			st.Step = stepComplete
		case stepComplete:
			res, err := r.send(ctx, st, stepComplete, 0, "4203", map[string]any{"fixmedins_mdtrt_id": in.mdtrtID, "fixmedins_code": code, "cplt_flag": "1"}, nil)
			if err != nil {
				return r.stop(ctx, st, in, err)
			}
			st.log(stepResult(stepComplete, "4203", 0, 0, res, nil))
			st.Step = stepDone
		default:
			return nil, fmt.Errorf("selfpay: workflow %s is at unknown step %q; delete key %s to start over", r.req.MessageID, st.Step, wfKey(r.req.MessageID))
		}
		if err := r.save(ctx, st); err != nil {
			return nil, err
		}
	}
	return r.finish(ctx, st, in, statusUploaded)
}

// reopenRefusedError is a refusal of the 4203 cplt_flag=0 that opens a
// visit before its re-upload that is not known to mean the visit was not
// complete, with 4208 showing it complete or not listing it (state), or
// refusing to say (query).
type reopenRefusedError struct {
	be    *hsa.BusinessError
	state string
	query error
	// hint, when set, tells staff what they can do about the visit
	// instead (a cancel's fee details left by an upload that stopped).
	hint string
}

func (e *reopenRefusedError) Error() string {
	if e.query != nil {
		return fmt.Sprintf("%v; it is not a refusal listed in nothingToReopen, and 4208, asked whether the visit is complete, was refused too: %v", e.be, e.query)
	}
	return fmt.Sprintf("%v; it is not a refusal listed in nothingToReopen, and %s", e.be, e.state)
}

func (e *reopenRefusedError) Unwrap() error { return e.be }

// reopenRefused settles the outcome of the 4203 cplt_flag=0 that opens
// visit mdtrtID before its re-upload, or before a selfpay.cancel deletes
// its fee details (err, nil when it succeeded). Both need the visit on the
// platform not complete: the re-upload's 4204, 4201A and 4202, and the
// cancel's 4204, would otherwise go over a completed visit. A refusal the
// site lists in nothingToReopen says it was not complete and is
// tolerated. The platform's codes are not public, so another refusal is
// checked with 4208 (searched by the certificate of mdtrt, the visit of
// the re-upload; with mdtrt nil, a cancel's, by what medgate stored of the
// visit): cpltFlag 0, the visit is as the step after needs it and the
// refusal is tolerated (a warning is logged); for a cancel of a visit
// medgate uploaded or began to (its patient record), the visit not listed
// (or without a flag of 0 or 1) and 4207 showing no fee detail of it,
// nothing is there to withdraw (the upload stopped before its 4202) and it
// is tolerated too; cpltFlag 1, or the visit not listed otherwise (it is a
// visit the platform should hold, or an id mistyped), the platform is not in
// the state the workflow assumes and it ends rejected (reopenRefusedError)
// with the 4203's code and message: sending it again earns the same
// refusal, and an upload or cancel, which the host never gives up,
// retried would never end. A refused 4208 leaves the refusal standing
// (rejected); a 4208 without an answer is retried, the 4203 with it. Any
// other error (a refused sign-in: the 4203 never went out) is returned as
// it is.
func (r *run) reopenRefused(ctx context.Context, mdtrtID string, mdtrt map[string]any, err error) (*toleratedRefusal, error) {
	var be *hsa.BusinessError
	if err == nil || !errors.As(err, &be) || be.Infno != "4203" {
		return nil, err
	}
	if r.s.opts.nothingToReopen(be.Infcode, be.Message) {
		return &toleratedRefusal{BusinessError: be}, nil
	}
	open, qerr := r.withdrawalApplied(ctx, mdtrtID, mdtrt)
	var qbe *hsa.BusinessError
	var qge *hsa.GatewayError
	switch {
	case errors.As(qerr, &qbe) || errors.As(qerr, &qge):
		return nil, &reopenRefusedError{be: be, query: qerr}
	case errors.Is(qerr, errWithdrawalUnknown):
		state := strings.TrimPrefix(qerr.Error(), errWithdrawalUnknown.Error()+": ")
		if mdtrt != nil {
			// A re-upload: a visit the platform does not know is uploaded
			// without reupload (the reply says so).
			return nil, &reopenRefusedError{be: be, state: state}
		}
		// A cancel of a visit medgate uploaded, or began to: 4208 not
		// showing it, the platform may hold nothing of it (the upload
		// stopped before its 4202), which leaves nothing to withdraw but
		// the fee details 4207 shows. None, and the cancel holds. A
		// visit medgate never uploaded stays refused: its id may be
		// mistyped, and ok would tell staff another visit was withdrawn.
		p, perr := r.patient(ctx, mdtrtID)
		if perr != nil {
			return nil, perr
		}
		if p == nil || p.Begntime == "" {
			// No upload's record (the cancel writes its own status only).
			return nil, &reopenRefusedError{be: be, state: state}
		}
		left, lerr := r.detailsLeft(ctx, mdtrtID)
		var lbe *hsa.BusinessError
		var lge *hsa.GatewayError
		switch {
		case errors.As(lerr, &lbe) || errors.As(lerr, &lge):
			return nil, &reopenRefusedError{be: be, query: lerr}
		case lerr != nil:
			return nil, lerr
		case left > 0:
			// The cancel cannot withdraw what the platform does not show
			// as a visit; a single 4204 deletes the lines, and the
			// platform refuses it on a complete visit.
			where := ""
			if p.Step != "" && p.Step != stepDone {
				where = fmt.Sprintf(" (medgate's record of the visit shows its upload stopped at step %s)", p.Step)
			}
			hint := fmt.Sprintf("if the fee details are left by an upload that stopped before its 4202%s, delete them with selfpay.4204 {\"feedetail\": {\"fixmedins_mdtrt_id\": %q}} under a new message id", where, mdtrtID)
			return nil, &reopenRefusedError{be: be, state: fmt.Sprintf("%s, and 4207 lists %d fee detail(s) of it", state, left), hint: hint}
		}
		r.a.log.Warn("a 4203 cplt_flag=0 refusal not listed in nothingToReopen was tolerated: 4208 does not show the visit and 4207 no fee details", "site", r.s.code,
			"message", r.req.MessageID, "visit", mdtrtID, "infcode", be.Infcode, "err_msg", hsa.MaskText(be.Message))
		return &toleratedRefusal{BusinessError: be, why: " (not listed in nothingToReopen; 4208 does not show the visit medgate began to upload, and 4207 no fee details of it: nothing to withdraw)"}, nil
	case qerr != nil:
		return nil, qerr
	case !open:
		return nil, &reopenRefusedError{be: be, state: fmt.Sprintf("4208 shows visit %s still complete (cpltFlag 1)", mdtrtID)}
	}
	r.a.log.Warn("a 4203 cplt_flag=0 refusal not listed in nothingToReopen was tolerated: 4208 shows the visit not complete", "site", r.s.code,
		"message", r.req.MessageID, "visit", mdtrtID, "infcode", be.Infcode, "err_msg", hsa.MaskText(be.Message))
	return &toleratedRefusal{BusinessError: be, why: " (not listed in nothingToReopen; 4208 shows the visit not complete)"}, nil
}

// toleratedRefusal is a refusal of the 4204 that clears a visit before
// its upload (or of the 4203 cplt_flag=0 that opens it before a
// re-upload) that leaves the visit as the upload needs it, with why.
type toleratedRefusal struct {
	*hsa.BusinessError
	why string
}

// clearRefusedError is a refusal of the 4204 that clears a visit before
// its upload that is not known to mean there was nothing to delete, with
// 4207 showing fee details left (left) or refusing to say (query).
type clearRefusedError struct {
	be    *hsa.BusinessError
	left  int
	query error
}

func (e *clearRefusedError) Error() string {
	if e.query != nil {
		return fmt.Sprintf("%v; it is not a refusal listed in nothingToDelete, and 4207, asked whether fee details are left, was refused too: %v", e.be, e.query)
	}
	return fmt.Sprintf("%v; it is not a refusal listed in nothingToDelete, and 4207 lists %d fee detail(s) of the visit still on the platform", e.be, e.left)
}

func (e *clearRefusedError) Unwrap() error { return e.be }

// clearRefused settles the outcome of the 4204 that clears a visit's old
// fee details before its upload (err, nil when it succeeded). The upload
// needs the visit to have no fee details on the platform. A refusal the
// site lists in nothingToDelete says so and is tolerated. The platform's
// codes are not public, so another refusal is checked with 4207: no
// detail left, the visit is as the upload needs it and the refusal is
// tolerated too (a cause that also refuses the upload's own calls, a
// sign-in say, refuses them next); details left, the platform is not in
// the state the upload assumes and the upload would add its lines to
// them, so it ends rejected (clearRefusedError): sending the same 4204
// again earns the same refusal, and an upload, which the host never gives
// up, retried would never end. A refused 4207 leaves the refusal
// standing (rejected); a 4207 without an answer is retried, the 4204
// with it. Any other error (a refused sign-in: the 4204 never went out)
// is returned as it is.
func (r *run) clearRefused(ctx context.Context, mdtrtID string, err error) (*toleratedRefusal, error) {
	var be *hsa.BusinessError
	if err == nil || !errors.As(err, &be) || be.Infno != "4204" {
		return nil, err
	}
	if r.s.opts.nothingToDelete(be.Infcode, be.Message) {
		return &toleratedRefusal{BusinessError: be}, nil
	}
	left, qerr := r.detailsLeft(ctx, mdtrtID)
	var qbe *hsa.BusinessError
	var qge *hsa.GatewayError
	switch {
	case errors.As(qerr, &qbe) || errors.As(qerr, &qge):
		return nil, &clearRefusedError{be: be, query: qerr}
	case qerr != nil:
		return nil, qerr
	case left > 0:
		return nil, &clearRefusedError{be: be, left: left}
	}
	r.a.log.Warn("a 4204 refusal not listed in nothingToDelete was tolerated: 4207 shows no fee details", "site", r.s.code,
		"message", r.req.MessageID, "visit", mdtrtID, "infcode", be.Infcode, "err_msg", hsa.MaskText(be.Message))
	return &toleratedRefusal{BusinessError: be, why: " (not listed in nothingToDelete; 4207 shows no fee details of the visit)"}, nil
}

func stepResult(step, infno string, batch, lines int, res *hsa.Result, err error) stepLog {
	l := stepLog{Step: step, Infno: infno, Batch: batch, Lines: lines, Outcome: outcomeOK}
	var be *hsa.BusinessError
	switch {
	case errors.As(err, &be):
		l.MsgID, l.Outcome, l.Message = be.MsgID, outcomeTolerated, hsa.MaskText(be.Message)
	case res != nil:
		l.MsgID = res.MsgID
		if res.Response != nil && res.Response.WarnMsg != "" {
			l.Message = hsa.MaskText(res.Response.WarnMsg)
		}
	}
	return l
}

func deleteAll(mdtrtID, code string) map[string]any {
	return map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": mdtrtID, "fixmedins_code": code}}
}

// batchLines returns the lines of the current batch (only the pending
// ones after a partial reconciliation) and their bkkp_sn.
func (r *run) batchLines(st *wfState, fees []any) ([]any, []string) {
	lo, hi := st.batchRange(st.Batch)
	want := map[string]bool{}
	for _, sn := range st.Pending {
		want[sn] = true
	}
	var lines []any
	var sns []string
	for _, f := range fees[lo:hi] {
		sn := str(f.(map[string]any)["bkkp_sn"])
		if len(want) > 0 && !want[sn] {
			continue
		}
		lines = append(lines, f)
		sns = append(sns, sn)
	}
	return lines, sns
}

// reconcileUpload settles the call in flight when the workflow resumed.
func (r *run) reconcileUpload(ctx context.Context, st *wfState, in *uploadInput) error {
	f := st.Inflight
	r.a.log.Info("reconciling a call whose outcome is unknown", "site", r.s.code, "message", r.req.MessageID, "infno", f.Infno, "msgid", f.MsgID, "step", f.Step)
	switch f.Infno {
	case "4201A":
		present, err := r.linesThere(ctx, in.mdtrtID, in.fees)
		if err != nil {
			return err
		}
		var missing []string
		for _, sn := range f.Lines {
			if !present[sn] {
				missing = append(missing, sn)
			}
		}
		switch {
		case len(missing) == 0:
			st.log(stepLog{Step: stepFees, Infno: "4201A", MsgID: f.MsgID, Batch: f.Batch + 1, Lines: len(f.Lines), Outcome: outcomeReconciled, Message: "4207 shows every line of the batch on the platform"})
			st.Batch, st.Pending = f.Batch+1, nil
		case len(missing) < len(f.Lines):
			st.Batch, st.Pending = f.Batch, missing
		default:
			st.Batch, st.Pending = f.Batch, f.Lines
		}
		st.Step = stepFees
	case "4202":
		applied, err := r.visitApplied(ctx, in.mdtrt, in.diags)
		if err != nil {
			return err
		}
		if applied {
			st.log(stepLog{Step: stepVisit, Infno: "4202", MsgID: f.MsgID, Outcome: outcomeReconciled, Message: "4208 shows the visit on the platform"})
			st.Step = stepComplete
		}
	case "4203":
		if f.Step != stepComplete {
			// cplt_flag=0 of a re-upload, settled as a cancel's.
			if err := r.reconcileWithdrawal(ctx, st, in.mdtrt, stepFees); err != nil {
				return err
			}
			break
		}
		// cplt_flag=1: 4208 shows the visit complete (done) or open (sent
		// again); a visit it does not list, or without either flag, is
		// failed for staff with nothing resent (completionApplied).
		applied, err := r.completionApplied(ctx, in.mdtrtID, in.mdtrt)
		if err != nil {
			return err
		}
		if applied {
			st.log(stepLog{Step: stepComplete, Infno: "4203", MsgID: f.MsgID, Outcome: outcomeReconciled, Message: "4208 shows the visit complete"})
			st.Step = stepDone
		}
	case "4204":
		// Every detail, cleared before the upload: settled as a cancel's.
		if err := r.reconcileWithdrawal(ctx, st, in.mdtrt, stepFees); err != nil {
			return err
		}
	}
	st.Inflight = nil
	return r.save(ctx, st)
}

// unsettledError is a reconciliation query the platform or its gateway
// refused, or answered unusably (hsa.AnswerError: no output, or fewer
// records than it counts): it answered the query, not the call in flight,
// whose outcome stays unknown. The attempt fails, retryable, and the next one reconciles
// again; it never finalises the message as rejected.
type unsettledError struct {
	f   *inflight
	err error
}

func (e *unsettledError) Error() string {
	return fmt.Sprintf("the outcome of %s (msgid %s) is still unknown: its reconciliation query was refused or answered unusably: %v", e.f.Infno, e.f.MsgID, e.err)
}

func (e *unsettledError) Unwrap() error { return e.err }

// unsettled marks a refusal of a query that reconciles f, or an answer
// to it that cannot be used; other errors (transport, pause, state) are
// returned as they are.
func unsettled(f *inflight, err error) error {
	var be *hsa.BusinessError
	var ge *hsa.GatewayError
	var ae *hsa.AnswerError
	if f != nil && (errors.As(err, &be) || errors.As(err, &ge) || errors.As(err, &ae)) {
		return &unsettledError{f: f, err: err}
	}
	return err
}

// uploadedSNs asks 4207 which bkkp_sn of a visit are on the platform. A
// valid record without a readable bkkp_sn is an hsa.AnswerError: it
// settles nothing.
func (r *run) uploadedSNs(ctx context.Context, mdtrtID string) (map[string]bool, error) {
	recs, err := r.uploadedLines(ctx, mdtrtID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(recs))
	for sn := range recs {
		out[sn] = true
	}
	return out, nil
}

// uploadedLines asks 4207 for the fee lines of a visit on the platform,
// by bkkp_sn (records invalidated, valiFlag 0, left out). A valid record
// without a readable bkkp_sn is an hsa.AnswerError: it settles nothing.
func (r *run) uploadedLines(ctx context.Context, mdtrtID string) (map[string]map[string]any, error) {
	recs, err := r.visitQuery(ctx, "4207", mdtrtID)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	for i, raw := range recs {
		var rec map[string]any
		if err := decodeRecord(raw, &rec); err != nil {
			return nil, &hsa.AnswerError{Infno: "4207", Err: fmt.Errorf("record %d of visit %s cannot be read: %w", i+1, mdtrtID, err)}
		}
		if v := str(foldField(rec, "valiFlag")); v == "0" {
			continue // invalidated (deleted) records
		}
		sn := str(foldField(rec, "bkkpSn"))
		if sn == "" {
			sn = str(foldField(rec, "bkkp_sn"))
		}
		if sn == "" {
			// A line on the platform that cannot be told from the others:
			// taken for none, it would be sent again, or its deletion
			// counted as done.
			return nil, &hsa.AnswerError{Infno: "4207", Err: fmt.Errorf("record %d of visit %s has no bkkpSn (or bkkp_sn), so which fee line it is cannot be told; "+
				"check the 4207 output field names against the province's document (schemas/selfpay/4207.yaml)", i+1, mdtrtID)}
		}
		out[sn] = rec
	}
	return out, nil
}

// foldField is a record's value of name, matched as encoding/json
// matches a struct field: exactly, or else without regard to case.
func foldField(rec map[string]any, name string) any {
	if v, ok := rec[name]; ok {
		return v
	}
	for k, v := range rec {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// lineKeys are the fields of a fee line that make it the line sent: what
// is charged (quantity, price, amounts), for what and when. A record the
// platform holds under the line's bkkp_sn with other values is another
// line (an earlier one the sender meant to correct), not the one sent.
var lineKeys = []string{"cnt", "pric", "det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_amt",
	"med_list_codg", "medins_list_codg", "fee_ocur_time"}

// sameLine compares a 4207 record with a fee line sent: every field of
// lineKeys the record carries with a value (camelCase; one answered null
// or empty tells nothing), numbers by value and times whatever their
// layout (sameValue).
func sameLine(rec, line map[string]any) bool {
	for _, k := range lineKeys {
		got, ok := field(rec, k)
		if !ok || strings.TrimSpace(str(got)) == "" {
			continue
		}
		if !sameValue(got, line[k]) {
			return false
		}
	}
	return true
}

// linesThere tells, of the fee lines sent, which 4207 shows on the
// platform as they were sent (sameLine); a line shown under its bkkp_sn
// with other content counts as not there, so it is sent again and the
// platform's answer (记账流水号已存在) decides.
func (r *run) linesThere(ctx context.Context, mdtrtID string, lines []any) (map[string]bool, error) {
	recs, err := r.uploadedLines(ctx, mdtrtID)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, it := range lines {
		line, _ := it.(map[string]any)
		sn := str(line["bkkp_sn"])
		if rec, ok := recs[sn]; ok && sameLine(rec, line) {
			out[sn] = true
		}
	}
	return out, nil
}

// detailsLeft asks 4207 how many fee details of a visit the platform
// still holds: every record not invalidated (valiFlag 0) counts, whether
// or not its bkkp_sn can be read, so that a record medgate cannot read is
// never taken for a deleted one.
func (r *run) detailsLeft(ctx context.Context, mdtrtID string) (int, error) {
	recs, err := r.visitQuery(ctx, "4207", mdtrtID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, raw := range recs {
		var rec struct {
			ValiFlag any `json:"valiFlag"`
		}
		if decodeRecord(raw, &rec) == nil && str(rec.ValiFlag) == "0" {
			continue // invalidated (deleted) records
		}
		n++
	}
	return n, nil
}

// Search fields of 4208 for a patient: byPerson, the certificate and the
// name, for a 4202 compared field by field (a platform answering names
// masked, 张*, would let the earlier upload's record pass for a
// re-upload correcting the name were the visit not searched by the name
// sent); byCertificate, without the name, for the cpltFlag of the visit
// (the record is picked by its visit id, and a re-upload correcting the
// name leaves the old one on the platform until its 4202).
var (
	byPerson      = []string{"psn_cert_type", "certno", "psn_name"}
	byCertificate = []string{"psn_cert_type", "certno"}
)

// findVisit asks 4208 for the visits of the patient of mdtrt, searched by
// the fields by, and returns the one with this fixmedins_mdtrt_id, or nil.
func (r *run) findVisit(ctx context.Context, mdtrt map[string]any, by []string) (map[string]any, error) {
	if err := r.beforeCall(ctx); err != nil {
		return nil, err
	}
	q := map[string]any{}
	for _, k := range by {
		if v := str(mdtrt[k]); v != "" {
			q[k] = v
		}
	}
	key := &visitKey{certno: str(mdtrt["certno"]), begntime: str(mdtrt["begntime"]), amount: str(mdtrt["medfee_sumamt"])}
	return r.visitRecord(ctx, q, str(mdtrt["fixmedins_mdtrt_id"]), key)
}

// visitKey identifies a visit among 4208 records that do not carry its
// fixmedins_mdtrt_id: the ID number (masked or not), begntime to the
// minute and medfee_sumamt.
type visitKey struct{ certno, begntime, amount string }

// matches tells whether a 4208 record without a visit id is the visit
// of k.
func (k *visitKey) matches(rec map[string]any) bool {
	if k == nil || k.certno == "" || k.begntime == "" || k.amount == "" {
		return false
	}
	cert, _ := field(rec, "certno")
	begn, _ := field(rec, "begntime")
	amt, _ := field(rec, "medfee_sumamt")
	a, ok1 := rat(str(amt))
	b, ok2 := rat(k.amount)
	return sameMasked(str(cert), k.certno) && sameMinute(str(begn), k.begntime) && ok1 && ok2 && a.Cmp(b) == 0
}

// visitRecord searches 4208 by q and returns the valid record of visit
// mdtrtID: the one carrying its fixmedins_mdtrt_id (the spec lists
// fixmedinsMdtrtId among 4208's outputs) or, should the platform answer
// records without it, the only one that key matches (ID number, begntime
// within the same minute and total); nil when there is none, or several
// that key matches (which is the visit cannot then be told). A record of
// another institution (fixmedinsCode) is never the visit: 4208 searches
// by person, time and total, and a fixmedins_mdtrt_id is unique only
// within its institution.
func (r *run) visitRecord(ctx context.Context, q map[string]any, mdtrtID string, key *visitKey) (map[string]any, error) {
	recs, err := r.s.client.QueryAll(ctx, r.h, r.req.MessageID, "4208", q, r.s.opts.pageSize, 0)
	if err != nil {
		return nil, err
	}
	var byKey []map[string]any
	for _, raw := range recs {
		var rec map[string]any
		if decodeRecord(raw, &rec) != nil || str(rec["valiFlag"]) == "0" {
			continue
		}
		if !r.ownInstitution(rec) {
			continue
		}
		id := str(rec["fixmedinsMdtrtId"])
		if id == "" {
			id = str(rec["fixmedins_mdtrt_id"])
		}
		switch {
		case id == mdtrtID:
			return rec, nil
		case id == "" && key.matches(rec):
			byKey = append(byKey, rec)
		}
	}
	if len(byKey) == 1 {
		return byKey[0], nil
	}
	return nil, nil
}

// visitApplied tells whether the platform holds this 4202: the visit
// (4208) and its diagnoses (4209) as sent. An earlier upload of the same
// visit (a re-upload, or an upload after a cancel) is still there when the
// 4202 that corrects it never arrived, so the platform merely having the
// visit does not settle it.
func (r *run) visitApplied(ctx context.Context, mdtrt map[string]any, diags []any) (bool, error) {
	rec, err := r.findVisit(ctx, mdtrt, byPerson)
	if err != nil || rec == nil || !sameVisit(rec, mdtrt, r.answered("4208")) {
		return false, err
	}
	return r.sameDiagnoses(ctx, str(mdtrt["fixmedins_mdtrt_id"]), diags)
}

// sameVisit compares a 4208 record with the visit being uploaded: the
// total, end time and name (a masked name agrees when its unmasked
// characters do: sameMasked), and every other field sent that the record
// carries (camelCase) or that 4208 answers (answered: a field it answers
// but the record lacks is empty there, so a re-upload filling in a field
// the earlier upload left out does not pass for it), numbers by value,
// times whatever their layout, masked personal fields by sameMasked.
// The institution's code and name are the platform's own, and the
// person's certificate was the 4208 search (a platform may answer it
// masked), and the record was picked by the visit's id (or, answered
// without it, by visitKey): those are not compared.
func sameVisit(rec, mdtrt map[string]any, answered map[string]bool) bool {
	a, ok1 := rat(rec["medfeeSumamt"])
	b, ok2 := rat(mdtrt["medfee_sumamt"])
	if ok1 && ok2 && a.Cmp(b) != 0 {
		return false
	}
	if !sameValue(rec["endtime"], mdtrt["endtime"]) || !sameMasked(str(rec["psnName"]), str(mdtrt["psn_name"])) {
		return false
	}
	return sameFields(rec, mdtrt, answered, func(k string) bool {
		switch k {
		case "fixmedins_code", "fixmedins_name", "psn_cert_type", "certno", "fixmedins_mdtrt_id":
			return true
		}
		return false
	})
}

// sameFields reports whether the record of a query (rec) holds every field
// of sent (but those skip names) that it carries or that the query answers
// (answered: a field it answers but the record lacks is empty there), by
// sameValue.
func sameFields(rec, sent map[string]any, answered map[string]bool, skip func(string) bool) bool {
	for k, v := range sent {
		if skip(k) {
			continue
		}
		got, ok := field(rec, k)
		if !ok && !answered[camelName(k)] && !answered[k] {
			continue
		}
		if maskedFields[k] && !sameMasked(str(got), str(v)) || !maskedFields[k] && !sameValue(got, v) {
			return false
		}
	}
	return true
}

// answered returns the names of the output fields of a query's schema.
func (r *run) answered(infno string) map[string]bool {
	out := map[string]bool{}
	if sc, ok := r.s.set.Get("selfpay", infno); ok {
		for _, f := range sc.Output {
			out[f.Name] = true
		}
	}
	return out
}

// sameDiagnoses asks 4209 for the visit's diagnoses and tells whether
// they are those sent, one record for each diagnosis (sameDiagnosis). An
// earlier upload's diagnoses are still there when a re-upload's 4202 never
// arrived, so a correction of a diagnosis's name, department, doctor, time
// or order must not pass for applied because its code and type agree.
func (r *run) sameDiagnoses(ctx context.Context, mdtrtID string, diags []any) (bool, error) {
	recs, err := r.visitQuery(ctx, "4209", mdtrtID)
	if err != nil {
		return false, err
	}
	answered := r.answered("4209")
	var have []map[string]any
	for _, raw := range recs {
		var rec map[string]any
		if decodeRecord(raw, &rec) != nil || str(rec["valiFlag"]) == "0" {
			continue
		}
		have = append(have, rec)
	}
	if len(have) != len(diags) {
		return false, nil
	}
	used := make([]bool, len(have))
	for _, d := range diags {
		m, _ := d.(map[string]any)
		found := false
		for i, rec := range have {
			if !used[i] && sameDiagnosis(rec, m, answered) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// diagKeys are compared whether or not the diagnosis or the record
// carries them.
var diagKeys = []string{"diag_code", "diag_type", "inout_diag_type", "maindiag_flag"}

// sameDiagnosis compares a 4209 record with a diagnosis sent: its code,
// type, in/out type and main flag, and every other field sent that the
// record carries or that 4209 answers (answered, camelCase names from the
// schema; a field it answers but the record lacks is empty there), by
// sameValue.
func sameDiagnosis(rec, diag map[string]any, answered map[string]bool) bool {
	for _, k := range diagKeys {
		a, _ := field(rec, k)
		b, _ := field(diag, k)
		if !sameValue(a, b) {
			return false
		}
	}
	return sameFields(rec, diag, answered, func(k string) bool { return contains(diagKeys, k) })
}

// field returns a record's value of a snake_case field, under its
// camelCase name as the queries answer, or under the name itself.
func field(rec map[string]any, snake string) (any, bool) {
	if v, ok := rec[camelName(snake)]; ok {
		return v, true
	}
	v, ok := rec[snake]
	return v, ok
}

// camelName is a snake_case field's name as the queries answer it.
func camelName(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// sameValue compares two values as text, as dates or times when both
// are (sameTime: whatever the layout, to the minute when one drops the
// seconds, a date with the same date at midnight), and as numbers when
// both are.
func sameValue(a, b any) bool {
	sa, sb := strings.TrimSpace(str(a)), strings.TrimSpace(str(b))
	if sa == sb || sa+" 00:00:00" == sb || sb+" 00:00:00" == sa {
		return true
	}
	if same, ok := sameTime(sa, sb); ok {
		return same
	}
	ra, ok1 := rat(sa)
	rb, ok2 := rat(sb)
	return ok1 && ok2 && ra.Cmp(rb) == 0
}

// stop ends this attempt with err: a refusal finishes the workflow (the
// reply is stored), anything transient keeps it for the next attempt.
func (r *run) stop(ctx context.Context, st *wfState, in *uploadInput, err error) (*sdk.HandleResponse, error) {
	what := st.Op
	if st.Op == "upload" || st.Op == "cancel" {
		what = fmt.Sprintf("selfpay.%s of %s, step %s", st.Op, st.MdtrtID, st.Step)
		if st.Step == stepFees && st.Batch < len(st.Bounds) {
			what += fmt.Sprintf(" (batch %d of %d)", st.Batch+1, len(st.Bounds))
		}
	}
	resp, herr := r.outcome(err, what)
	if resp == nil {
		return nil, herr
	}
	// A check failing after calls of the workflow went out (the settings
	// changed between attempts) must not answer invalid, which says
	// nothing was sent: it ends the workflow as failed, the reply listing
	// the steps that were made.
	partial := resp.Status == sdk.StatusInvalid && (st.Sent || st.Inflight != nil || len(st.Steps) > 0)
	if partial {
		resp.Status = sdk.StatusFailed
		resp.Diagnostics = append(resp.Diagnostics, sdk.Diagnostic{Rule: "state", Summary: what + " stopped part-way",
			Detail: "calls of this workflow already reached the platform (the steps in the reply); nothing more was sent. Correct the settings or the data and send a new message (selfpay.upload with \"reupload\": true, or selfpay.cancel)"})
	}
	reason := resp.Diagnostics.String()
	if resp.Status == sdk.StatusFailed && !partial {
		if in != nil {
			if resp.Retryable {
				reason += " (medgate retries)"
			}
			if perr := r.notePatient(ctx, in, statusFailed, reason, st.Step); perr != nil {
				return nil, perr
			}
		}
		return resp, nil
	}
	var be *hsa.BusinessError
	var ge *hsa.GatewayError
	l := stepLog{Step: st.Step, Outcome: outcomeRejected}
	if errors.As(err, &be) {
		l.Infno, l.MsgID, l.Message = be.Infno, be.MsgID, hsa.MaskText(be.Message)
	} else if errors.As(err, &ge) {
		l.Infno, l.MsgID, l.Message = ge.Infno, ge.MsgID, "HTTP "+strconv.Itoa(ge.Status)
	}
	st.log(l)
	payload, _ := json.Marshal(r.summary(st, in, false))
	resp.Payload = payload
	st.Final = &finalized{Status: resp.Status, Payload: payload, External: resp.External, Diagnostics: resp.Diagnostics}
	st.Inflight = nil
	if serr := r.save(ctx, st); serr != nil {
		return nil, serr
	}
	if in != nil {
		if perr := r.notePatient(ctx, in, statusFailed, reason, st.Step); perr != nil {
			return nil, perr
		}
	}
	r.a.log.Info("self-pay workflow refused", "site", r.s.code, "message", r.req.MessageID, "op", st.Op, "visit", st.MdtrtID, "step", st.Step, "reason", hsa.MaskText(reason))
	return resp, nil
}

// checkError is input that failed medgate's own checks (the schemas and
// the business rules), for stop.
type checkError struct{ ds sdk.Diagnostics }

func (e *checkError) Error() string { return e.ds.String() }

// refuse answers a message whose input fails medgate's checks. Invalid
// says nothing was sent, which holds only while the message's workflow
// has made no call: handled again after its calls went out (the site's
// settings or schemas changed between attempts), a finished message gets
// its stored reply and an unfinished one ends failed, not retryable, its
// reply listing the steps made, and nothing more is sent.
func (r *run) refuse(ctx context.Context, ds sdk.Diagnostics) (*sdk.HandleResponse, error) {
	st, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	if st != nil {
		// An earlier attempt may hold its claim (every operation with a
		// state claims its visit: the workflows and the single changes).
		r.claimed = st.MdtrtID
	}
	switch {
	case st == nil || st.Final == nil && !st.Sent && st.Inflight == nil && len(st.Steps) == 0:
		return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
	case st.Final != nil:
		return st.Final.response(), nil
	}
	resp, err := r.stop(ctx, st, nil, &checkError{ds: ds})
	if err != nil || resp == nil {
		return resp, err
	}
	if st.Op == "upload" || st.Op == "cancel" {
		if err := r.setPatientStatus(ctx, st.MdtrtID, statusFailed, st.Op+": "+resp.Diagnostics.String()); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// summary is the reply payload of a workflow.
func (r *run) summary(st *wfState, in *uploadInput, done bool) map[string]any {
	out := map[string]any{"fixmedinsMdtrtId": st.MdtrtID, "operation": "selfpay." + st.Op, "steps": st.Steps}
	if in != nil {
		out["feeLines"], out["batches"] = len(in.fees), len(st.Bounds)
	}
	if r.parts != nil {
		out["set"], out["parts"] = r.parts.Set, r.parts.Of
	}
	reconciled := false
	for _, s := range st.Steps {
		reconciled = reconciled || s.Outcome == outcomeReconciled
	}
	out["reconciled"] = reconciled
	switch {
	case done && st.Op == "upload":
		out["status"] = statusUploaded
	case done && st.Op == "cancel":
		out["status"] = statusCancelled
	default:
		out["status"] = statusFailed
	}
	return out
}

// finish stores the final reply and the patient's record.
func (r *run) finish(ctx context.Context, st *wfState, in *uploadInput, status string) (*sdk.HandleResponse, error) {
	payload, err := json.Marshal(r.summary(st, in, true))
	if err != nil {
		return nil, err
	}
	var ext *sdk.External
	if n := len(st.Steps); n > 0 {
		ext = &sdk.External{System: r.s.cfg.System, Code: "0", MsgID: st.Steps[n-1].MsgID}
	}
	// The patient's record before the stored reply: once the reply is
	// stored the workflow counts as done and another workflow of the
	// visit may take over its claim (claim.go). Written twice after a
	// crash in between, it says the same.
	if in != nil {
		if err := r.notePatient(ctx, in, status, "", stepDone); err != nil {
			return nil, err
		}
	} else if err := r.setPatientStatus(ctx, st.MdtrtID, status, ""); err != nil {
		return nil, err
	}
	st.Final = &finalized{Status: sdk.StatusOK, Payload: payload, External: ext}
	if err := r.save(ctx, st); err != nil {
		return nil, err
	}
	r.a.log.Info("self-pay workflow done", "site", r.s.code, "message", r.req.MessageID, "op", st.Op, "visit", st.MdtrtID, "calls", len(st.Steps))
	return st.Final.response(), nil
}

// cancel runs selfpay.cancel: 4203 cplt_flag=0 → 4204 (every detail).
func (r *run) cancel(ctx context.Context) (*sdk.HandleResponse, error) {
	m, bad := decode(r.req.Payload)
	if bad != nil {
		return bad, nil
	}
	r.fillInstitution(m, false)
	var ds sdk.Diagnostics
	for _, k := range sortedKeys(m) {
		if k != "fixmedins_mdtrt_id" && k != "fixmedins_code" {
			ds.Error("$."+k, "unknown", "selfpay.cancel does not take this field", "send {\"fixmedins_mdtrt_id\": \"…\"}")
		}
	}
	if s4203, ok := r.s.set.Get("selfpay", "4203"); ok {
		doc := map[string]any{"fixmedins_mdtrt_id": m["fixmedins_mdtrt_id"], "fixmedins_code": m["fixmedins_code"], "cplt_flag": "0"}
		ds = append(ds, fieldDiags(s4203.ValidateInput(doc), "selfpay.cancel input is not valid")...)
	}
	r.checkCode(&ds, "$", m)
	if ds.HasError() {
		return r.refuse(ctx, ds)
	}
	id, code := str(m["fixmedins_mdtrt_id"]), r.s.cfg.FixmedinsCode
	st, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	if st != nil && st.Final != nil {
		r.claimed = st.MdtrtID // released if a crash left it claimed
		return st.Final.response(), nil
	}
	if st != nil && (st.Op != "cancel" || st.MdtrtID != id) {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.id", Rule: "state", Summary: "this message id was used for another operation",
			Detail: fmt.Sprintf("message %s started %s of visit %s; give every message its own id", r.req.MessageID, st.Op, st.MdtrtID)}), nil
	}
	if st == nil {
		// The state before the claim, as for an upload.
		st = &wfState{Op: "cancel", MdtrtID: id, Step: stepReopen, Started: r.a.now().UTC(), Claiming: true}
		if err := r.save(ctx, st); err != nil {
			return nil, err
		}
	}
	if wait, err := r.claim(ctx, st.Op, id, "$.fixmedins_mdtrt_id"); wait != nil || err != nil {
		return wait, err
	}
	if st.Claiming {
		if err := r.setPatientStatus(ctx, id, statusCancelling, ""); err != nil {
			return nil, err
		}
		st.Claiming = false
	}
	if st.Inflight != nil {
		if err := r.reconcileCancel(ctx, st); err != nil {
			return r.stopCancel(ctx, st, unsettled(st.Inflight, err))
		}
	}
	for st.Step != stepDone {
		switch st.Step {
		case stepReopen:
			res, err := r.send(ctx, st, stepReopen, 0, "4203", map[string]any{"fixmedins_mdtrt_id": id, "fixmedins_code": code, "cplt_flag": "0"}, nil)
			note, err := r.reopenRefused(ctx, id, nil, err)
			if err != nil {
				return r.stopCancel(ctx, st, err)
			}
			l := stepResult(stepReopen, "4203", 0, 0, res, nil)
			if note != nil {
				l = stepResult(stepReopen, "4203", 0, 0, nil, note.BusinessError)
				l.Message = hsa.MaskText(note.Message) + note.why
			}
			st.log(l)
			st.Step = stepDelete
		case stepDelete:
			res, err := r.send(ctx, st, stepDelete, 0, "4204", deleteAll(id, code), nil)
			var be *hsa.BusinessError
			if errors.As(err, &be) {
				// Refused: fine if nothing is left to delete.
				left, qerr := r.detailsLeft(ctx, id)
				if qerr != nil {
					return r.stopCancel(ctx, st, qerr)
				}
				if left > 0 {
					return r.stopCancel(ctx, st, err)
				}
				st.log(stepResult(stepDelete, "4204", 0, 0, nil, err))
				st.Step = stepDone
				break
			}
			if err != nil {
				return r.stopCancel(ctx, st, err)
			}
			st.log(stepResult(stepDelete, "4204", 0, 0, res, nil))
			st.Step = stepDone
		default:
			return nil, fmt.Errorf("selfpay: workflow %s is at unknown step %q", r.req.MessageID, st.Step)
		}
		if err := r.save(ctx, st); err != nil {
			return nil, err
		}
	}
	return r.finish(ctx, st, nil, statusCancelled)
}

// reconcileCancel settles the call of a selfpay.cancel whose outcome is
// unknown before anything is resent (see reconcileWithdrawal).
func (r *run) reconcileCancel(ctx context.Context, st *wfState) error {
	f := st.Inflight
	r.a.log.Info("reconciling a call whose outcome is unknown", "site", r.s.code, "message", r.req.MessageID, "infno", f.Infno, "msgid", f.MsgID, "step", f.Step)
	if err := r.reconcileWithdrawal(ctx, st, nil, stepDone); err != nil {
		return err
	}
	st.Inflight = nil
	return r.save(ctx, st)
}

// reconcileWithdrawal settles the 4203 cplt_flag=0 (step reopen) or the
// 4204 of every detail (step delete) in flight of a selfpay.cancel or a
// selfpay.upload, before anything is resent; it leaves any other call
// alone:
//
//   - 4203 cplt_flag=0: withdrawalApplied (4208 searched by the certificate
//     of mdtrt, or with mdtrt nil by what medgate stored of the visit);
//     cpltFlag 0 means the withdrawal holds and the workflow goes on to
//     4204 without resending it; 1 means it did not take effect and it is
//     sent again. When 4208 cannot find the visit (or shows another
//     cpltFlag) the outcome stays unknown: errWithdrawalUnknown, failed
//     for staff, nothing resent.
//   - 4204 (every detail): detailsDeleted (4207); none left means the
//     deletion holds and the workflow goes on to afterDelete; details
//     still there mean it did not take effect, and it is sent again.
func (r *run) reconcileWithdrawal(ctx context.Context, st *wfState, mdtrt map[string]any, afterDelete string) error {
	f := st.Inflight
	switch f.Step {
	case stepReopen:
		applied, err := r.withdrawalApplied(ctx, st.MdtrtID, mdtrt)
		if err != nil {
			return err
		}
		if applied {
			st.log(stepLog{Step: stepReopen, Infno: "4203", MsgID: f.MsgID, Outcome: outcomeReconciled, Message: "4208 shows the visit not complete"})
			st.Step = stepDelete
		}
	case stepDelete:
		deleted, err := r.detailsDeleted(ctx, st.MdtrtID)
		if err != nil {
			return err
		}
		if deleted {
			st.log(stepLog{Step: stepDelete, Infno: "4204", MsgID: f.MsgID, Outcome: outcomeReconciled, Message: "4207 shows no fee details left"})
			st.Step = afterDelete
		}
	}
	return nil
}

func (r *run) stopCancel(ctx context.Context, st *wfState, err error) (*sdk.HandleResponse, error) {
	resp, herr := r.stop(ctx, st, nil, err)
	if resp != nil && (resp.Status != sdk.StatusFailed || !resp.Retryable) {
		if perr := r.setPatientStatus(ctx, st.MdtrtID, statusFailed, "cancel: "+resp.Diagnostics.String()); perr != nil {
			return nil, perr
		}
	}
	return resp, herr
}
