package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/platform"
)

// Stock-outs whose outcome is unknown hold their codes out of stock (a
// package leaves stock once, and it may have left): the document was
// sent and no answer came back (statusUnknown), or the plugin stopped
// after it was stored for sending (statusSending). The next attempt of the
// document reconciles it by document number; when none comes (the host
// gave up on the message), the stockout-reconcile job does, and where the
// platform cannot tell, an operator does (tracecode.stockout.resolve).
//
//	outheld/<docNo>  a heldRef: the stock-out document docNo took codes
//	                 out of stock and its outcome is not known yet
//
// The entry is written once the codes are taken, before the document is
// sent, and removed when the outcome is known (uploaded, refused, not
// sent, released, kept). Each resolution is a compare-and-set on the
// document's record at the version read, and the upload of the same
// document claims the record the same way before it takes codes, so an
// attempt in flight and a resolution never both act: the one that comes
// second reads again.
const (
	// statusReleasing: the stock-out was found not to have happened and
	// its codes are being put back (by the job or an operator); an upload
	// of the document waits for it (releaseLease).
	statusReleasing = "releasing"
	// statusReleased: the stock-out did not happen (not on the platform,
	// or an operator said so) and its codes are back in stock; the
	// document may be sent again.
	statusReleased = "released"

	// heldScan bounds the held entries one job run or list reads (each a
	// few dozen bytes); heldQueries bounds the platform queries of one
	// job run.
	heldScan    = 200
	heldQueries = 50
	// releaseLease is how long a release in progress keeps an upload of
	// its document waiting; a release older than that stopped (the
	// plugin's job was cancelled or crashed), and an upload goes on: the
	// codes the release did not put back are still held by the document,
	// which the upload's own stock-out takes as its own.
	releaseLease = 10 * time.Minute
)

// Resolution outcomes.
const (
	outcomeKept     = "kept"
	outcomeReleased = "released"
)

func heldKey(docNo string) string { return "outheld/" + esc(docNo) }

// heldRef is the value of an outheld entry.
type heldRef struct {
	Since     time.Time `json:"since"`
	MessageID string    `json:"messageId,omitempty"`
}

// heldResolution records how a held stock-out was resolved.
type heldResolution struct {
	Outcome string    `json:"outcome"`
	By      string    `json:"by"` // "platform" or the operator
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
	// Platform is what the platform answered to the status query ("" when
	// it decided): why the operator's word was taken.
	Platform  string `json:"platform,omitempty"`
	MessageID string `json:"messageId,omitempty"`
}

// isHeld reports whether a stock-out document in status holds its codes
// with an unknown outcome.
func isHeld(status string) bool {
	return status == statusSending || status == statusUnknown || status == statusReleasing
}

// mayHold reports whether a stock-out document in status may hold codes
// whose outcome is not settled: a held one, or one not sent (pending).
// This version puts back the codes of a stock-out not sent, but versions
// before 46dc3c3 kept them out, and an attempt of the document under way
// holds them from when it takes them until it stores itself as sending:
// such a document is resolved like a held one once it is indexed, and
// one that holds no code any more is simply no longer indexed.
func mayHold(status string) bool {
	return isHeld(status) || status == statusPending
}

// holdsCode reports whether stock-out rec still holds one of its codes
// out of stock (the ledger names it as the document that took it).
func holdsCode(ctx context.Context, host sdk.Host, rec *docRecord) (bool, error) {
	errFound := errors.New("found")
	err := readCodes(ctx, host, rec, func(r codeRow) error {
		se, _, err := getStock(ctx, host, r.Code)
		if err != nil {
			return err
		}
		if se.State == stockOut && se.Doc == rec.DocNo {
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return true, nil
	}
	return false, err
}

// hold records that stock-out docNo took codes and may not be answered.
func (h *handler) hold(ctx context.Context, docNo string) error {
	b, err := json.Marshal(heldRef{Since: h.a.now(), MessageID: h.req.MessageID})
	if err != nil {
		return err
	}
	if _, err := h.req.Host.Put(ctx, heldKey(docNo), b); err != nil {
		return fmt.Errorf("record stock-out %s as holding its codes: %w", docNo, err)
	}
	return nil
}

// unhold removes the held entry of a stock-out whose outcome is known.
func unhold(ctx context.Context, host sdk.Host, direction, docNo string) error {
	if direction != "out" {
		return nil
	}
	if err := host.Delete(context.WithoutCancel(ctx), heldKey(docNo)); err != nil {
		return fmt.Errorf("remove the held entry of stock-out %s, whose outcome is known: %w", docNo, err)
	}
	return nil
}

// heldNote is the warning of a stock-out reply whose outcome stays
// unknown: which codes it holds, and what resolves them.
func (h *handler) heldNote(b *uploadBill) sdk.Diagnostic {
	var codes []string
	n := 0
	for _, l := range b.Lines {
		for _, tc := range l.TraceCodes {
			if n++; len(codes) < maxStockNotes {
				codes = append(codes, tc.Code)
			}
		}
	}
	list := strings.Join(codes, ", ")
	if n > len(codes) {
		list += ", …"
	}
	return sdk.Diagnostic{Field: "$.billNo", Rule: "state", Severity: sdk.SeverityWarning,
		Summary: fmt.Sprintf("stock-out %s holds its %d code(s) out of stock until its outcome is known: %s", b.BillNo, n, list),
		Detail: fmt.Sprintf("the message is retried and reconciled by document number first; if it is not, the %s job asks the platform %s after the attempt, "+
			"and where the platform cannot tell, resolve it with `medgate %s %s` (see `medgate %s %s`)", JobStockOutReconcile, h.cfg.reconcileAfter, Name, CmdHeldResolve, Name, CmdHeld)}
}

// heldPayload is the payload of tracecode.stockouts.held.
type heldPayload struct {
	Limit int `json:"limit"`
}

// heldItem is one held stock-out, as listed.
type heldItem struct {
	BillNo     string   `json:"billNo"`
	Status     string   `json:"status"`
	Since      string   `json:"since"`
	Reason     string   `json:"reason"`
	CodeCount  int      `json:"codeCount"`
	Codes      []string `json:"codes"`
	MessageID  string   `json:"messageId,omitempty"`
	ResolvesAt string   `json:"resolvesAt"`
}

// listHeld lists the stock-outs holding codes with an unknown outcome.
func (h *handler) listHeld(ctx context.Context) (*sdk.HandleResponse, error) {
	p := heldPayload{Limit: 100}
	if len(h.req.Payload) > 0 {
		if ds := plain(h.req.Payload, &p); ds != nil {
			return invalid(ds)
		}
	}
	if p.Limit <= 0 || p.Limit > heldScan {
		p.Limit = heldScan
	}
	es, err := h.req.Host.Scan(ctx, "outheld/", p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list the held stock-outs: %w", err)
	}
	items := []heldItem{}
	for _, e := range es {
		docNo := unesc(strings.TrimPrefix(e.Key, "outheld/"))
		var ref heldRef
		_ = json.Unmarshal(e.Value, &ref)
		rec, _, _, err := loadDoc(ctx, h.req.Host, sourceUpload, docNo)
		if errors.Is(err, sdk.ErrNotFound) {
			items = append(items, heldItem{BillNo: docNo, Status: statusSending, Since: h.fmtTime(ref.Since), MessageID: ref.MessageID,
				Reason: "its codes were taken out of stock and the document was not stored: the plugin stopped before sending it"})
			continue
		}
		if err != nil {
			return nil, err
		}
		if rec.Direction != "out" || !mayHold(rec.Status) {
			continue // resolved meanwhile
		}
		it := heldItem{BillNo: docNo, Status: rec.Status, Since: h.fmtTime(rec.StatusAt), CodeCount: rec.CodeCount, MessageID: rec.MessageID,
			ResolvesAt: h.fmtTime(rec.StatusAt.Add(h.cfg.reconcileAfter)), Codes: []string{}}
		switch rec.Status {
		case statusSending:
			it.Reason = "stored for sending, no outcome recorded: the plugin or the host stopped during the call"
		case statusReleasing:
			it.Reason = "not on the platform: its codes are being put back in stock"
		case statusPending:
			it.Reason = "not sent (" + rec.StatusText + ") and its codes kept out of stock, as earlier versions did, or taken by an attempt under way: the platform is asked before they are put back"
		default:
			it.Reason = "sent, no answer: " + rec.StatusText
		}
		if err := readCodes(ctx, h.req.Host, rec, func(r codeRow) error {
			if len(it.Codes) < h.cfg.maxCodes {
				it.Codes = append(it.Codes, r.Code)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return ok(map[string]any{"items": items})
}

func (h *handler) fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(h.cfg.zone).Format(dateTimeLayout)
}

// resolvePayload is the payload of tracecode.stockout.resolve.
type resolvePayload struct {
	BillNo  string `json:"billNo"`
	Outcome string `json:"outcome"`
	By      string `json:"by"`
	Reason  string `json:"reason"`
}

// resolveReply is its reply.
type resolveReply struct {
	BillNo    string `json:"billNo"`
	Outcome   string `json:"outcome"`
	DecidedBy string `json:"decidedBy"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// resolveHeldOp resolves one held stock-out at an operator's request. The
// platform is asked first: its answer decides. Only when it cannot tell
// (no answer, an answer not understood, no token) is the operator's
// outcome applied, recorded on the document with who, when, why and what
// the platform answered.
func (h *handler) resolveHeldOp(ctx context.Context) (*sdk.HandleResponse, error) {
	var p resolvePayload
	if ds := plain(h.req.Payload, &p); ds != nil {
		return invalid(ds)
	}
	var ds sdk.Diagnostics
	if strings.TrimSpace(p.BillNo) == "" {
		ds.Error("$.billNo", "required", "单据号必填 (billNo is required)", "give the number of the held stock-out document (`medgate tracecode stockouts` lists them)")
	}
	if p.Outcome != outcomeKept && p.Outcome != outcomeReleased {
		ds.Error("$.outcome", "enum", fmt.Sprintf("结果 %q 应为 kept（已出库）或 released（未出库）(outcome is not kept or released)", p.Outcome),
			"kept: the stock-out happened (its codes stay out); released: it did not (its codes go back in stock)")
	}
	if strings.TrimSpace(p.By) == "" {
		ds.Error("$.by", "required", "操作员必填 (by, who resolves it, is required)", "give the operator's name; it is recorded on the document")
	}
	if strings.TrimSpace(p.Reason) == "" {
		ds.Error("$.reason", "required", "原因必填：请写明如何核实 (reason is required)", "say how the outcome was checked (e.g. on the platform's web page); it is recorded on the document")
	}
	if ds.HasError() {
		return invalid(ds)
	}
	res, err := h.resolveHeld(ctx, p.BillNo, &p)
	if err != nil {
		return nil, err
	}
	if res.refusal != nil {
		return invalid(sdk.Diagnostics{*res.refusal})
	}
	var warn sdk.Diagnostics
	if res.by == "platform" && res.outcome != p.Outcome {
		warn.Warn("$.outcome", "state", fmt.Sprintf("已按平台的结果处理：出库单 %s 为 %s（%s），而非所选的 %s (the platform's answer decided: %s, not %s as asked)", p.BillNo, res.outcome, outcomeZh[res.outcome], p.Outcome, res.outcome, p.Outcome), res.message)
	}
	return ok(resolveReply{BillNo: p.BillNo, Outcome: res.outcome, DecidedBy: res.by, Status: res.status, Message: res.message}, warn...)
}

// outcomeZh names the outcomes of a held stock-out as the work list's
// buttons do.
var outcomeZh = map[string]string{outcomeKept: "已出库", outcomeReleased: "未出库"}

// heldResult is what resolveHeld did.
type heldResult struct {
	outcome string // kept, released, or "" (left held)
	by      string // platform or operator
	status  string // the document's status after
	message string
	// refusal says why an operator's request was not applied.
	refusal *sdk.Diagnostic
	// unanswered: the platform could not tell and no operator decided.
	unanswered error
	// waiting: the attempt is too recent, or a release in progress.
	waiting bool
}

// resolveHeld resolves held stock-out docNo: by the platform's answer to
// the status query, or, where it cannot tell, by op (nil: the job, which
// then leaves it held). It is idempotent: a document resolved already is
// left as it is.
func (h *handler) resolveHeld(ctx context.Context, docNo string, op *resolvePayload) (heldResult, error) {
	host := h.req.Host
	now := h.a.now()
	refuse := func(field, summary, detail string) (heldResult, error) {
		return heldResult{refusal: &sdk.Diagnostic{Field: field, Rule: "state", Severity: sdk.SeverityError, Summary: summary, Detail: detail}}, nil
	}
	rec, key, ver, err := loadDoc(ctx, host, sourceUpload, docNo)
	if errors.Is(err, sdk.ErrNotFound) {
		if op != nil {
			return refuse("$.billNo", fmt.Sprintf("没有出库单 %s (no stock-out document %s is stored)", docNo, docNo), "check the number (`medgate tracecode stockouts` lists the held ones)")
		}
		return heldResult{waiting: true}, nil
	}
	if err != nil {
		return heldResult{}, err
	}
	settled := rec.Direction != "out" || !mayHold(rec.Status)
	if !settled && rec.Status == statusPending && now.Sub(rec.StatusAt) >= h.cfg.reconcileAfter {
		// Not sent: held only while it still holds a code (an attempt
		// under way claimed it recently, see upload).
		holds, err := holdsCode(ctx, host, rec)
		if err != nil {
			return heldResult{}, err
		}
		settled = !holds
	}
	if settled {
		if err := unhold(ctx, host, "out", docNo); err != nil {
			return heldResult{}, err
		}
		if r := rec.Resolution; op != nil && r != nil && r.MessageID == h.req.MessageID {
			// This message resolved it (delivered again).
			by := "platform"
			if r.By != "platform" {
				by = "operator"
			}
			return heldResult{outcome: r.Outcome, by: by, status: rec.Status, message: rec.StatusText}, nil
		}
		if op != nil {
			return refuse("$.billNo", fmt.Sprintf("单据 %s 没有结果未知的追溯码，无需处理 (document holds no code with an unknown outcome, status %s)", docNo, rec.Status),
				"nothing to resolve: only a stock-out whose outcome is unknown is resolved")
		}
		return heldResult{status: rec.Status}, nil
	}
	wait := h.cfg.reconcileAfter
	if rec.Status == statusReleasing {
		wait = releaseLease
	}
	if age := now.Sub(rec.StatusAt); age < wait {
		if op != nil {
			return refuse("$.billNo", fmt.Sprintf("出库单 %s 于 %s 发送，调用可能仍在进行；请稍后（%s 之后）再处理 (attempted %s ago: its call may still be under way)", docNo, h.fmtTime(rec.StatusAt), h.fmtTime(rec.StatusAt.Add(wait)), age.Round(time.Second)),
				fmt.Sprintf("resolve it from %s on (%s after the attempt); the %s job resolves it then if the platform answers", h.fmtTime(rec.StatusAt.Add(wait)), wait, JobStockOutReconcile))
		}
		return heldResult{waiting: true}, nil
	}
	res := heldResult{by: "platform"}
	final := statusReleased
	var platformText string
	if rec.Status == statusReleasing {
		// A release that stopped: finish it.
		res.outcome = outcomeReleased
		res.message = "the release begun " + h.fmtTime(rec.StatusAt) + " is finished"
	} else {
		found, rej, qerr := h.reconcile(ctx, h.observe(docNo), docNo)
		switch {
		case qerr != nil:
			// No answer, an answer not understood, no token, or a business
			// answer other than found / not found: the platform cannot tell.
			platformText = qerr.Error()
		case found && rej == "":
			res.outcome, res.message = outcomeKept, "the platform has the document: the stock-out happened, its codes stay out"
		case found:
			res.outcome, res.message, final = outcomeReleased, rej+": its codes go back in stock", statusRejected
		default:
			res.outcome, res.message = outcomeReleased, "the platform does not have the document: the stock-out did not happen, its codes go back in stock"
		}
		if res.outcome == "" {
			if op == nil {
				res.unanswered = qerr
				return res, nil
			}
			res.by, res.outcome = "operator", op.Outcome
			res.message = "the platform could not tell (" + platformText + ")"
		}
	}
	resolution := heldResolution{Outcome: res.outcome, By: "platform", At: now, Platform: platformText, MessageID: h.req.MessageID}
	if res.by == "operator" {
		resolution.By, resolution.Reason = op.By, op.Reason
	}
	text := fmt.Sprintf("%s %s by %s: %s", res.outcome, h.fmtTime(now), resolutionBy(resolution), res.message)
	if resolution.Reason != "" {
		text += "; reason: " + resolution.Reason
	}
	if res.outcome == outcomeKept {
		if _, err := casDoc(ctx, host, key, ver, func(r *docRecord) {
			r.Status, r.StatusText, r.StatusAt, r.Resolution = statusUploaded, text, now, &resolution
		}); err != nil {
			return heldResult{}, err
		}
		res.status = statusUploaded
		return res, unhold(ctx, host, "out", docNo)
	}
	// The release holds the document (statusReleasing, from now) so that
	// an upload of it waits until the codes are back (releaseLease); a
	// release that stopped is taken over the same way.
	if ver, err = casDoc(ctx, host, key, ver, func(r *docRecord) {
		if r.Status == statusReleasing {
			text = r.StatusText
		} else {
			r.StatusText, r.Resolution = text, &resolution
		}
		r.Status, r.StatusAt = statusReleasing, now
	}); err != nil {
		return heldResult{}, err
	}
	var codes []string
	if err := readCodes(ctx, host, rec, func(r codeRow) error { codes = append(codes, r.Code); return nil }); err != nil {
		return heldResult{}, err
	}
	if err := putBack(context.WithoutCancel(ctx), host, docNo, codes, true); err != nil {
		return heldResult{}, fmt.Errorf("put the codes of stock-out %s, which did not happen, back in stock: %w", docNo, err)
	}
	if _, err := casDoc(ctx, host, key, ver, func(r *docRecord) {
		r.Status, r.StatusText, r.StatusAt = final, text, now
	}); err != nil {
		return heldResult{}, err
	}
	res.status = final
	return res, unhold(ctx, host, "out", docNo)
}

// resolutionBy names who resolved a held stock-out, for the status text.
func resolutionBy(r heldResolution) string {
	if r.By == "platform" {
		return "the platform's answer to the status query"
	}
	return "operator " + r.By
}

// casDoc applies fn to the document at key if it is still at version ver,
// and returns the new version; errBusy when it changed (an upload of the
// document, or another resolution, came first: the caller reads again).
func casDoc(ctx context.Context, host sdk.Host, key string, ver int64, fn func(*docRecord)) (int64, error) {
	e, err := host.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	if e.Version != ver {
		return 0, errBusy
	}
	var rec docRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	fn(&rec)
	b, err := json.Marshal(&rec)
	if err != nil {
		return 0, err
	}
	nv, err := host.CompareAndSet(ctx, key, ver, b)
	if errors.Is(err, sdk.ErrConflict) {
		return 0, errBusy
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", key, err)
	}
	return nv, nil
}

// reconcileHeldJob is the stockout-reconcile job: it resolves the held
// stock-outs old enough by the platform's answer, at most heldQueries
// platform queries a run. Those the platform cannot tell stay held and are
// reported; a run in which the platform answered none of its queries is an
// error, so the host runs it again sooner.
func (h *handler) reconcileHeldJob(ctx context.Context) (*sdk.RunJobResponse, error) {
	// First index the stock-outs held before the index existed (once per
	// site, over as many runs as it takes).
	recovery, ds, err := h.recoverHeld(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracecode: %s: %w", JobStockOutReconcile, err)
	}
	es, err := h.req.Host.Scan(ctx, "outheld/", heldScan)
	if err != nil {
		return nil, fmt.Errorf("tracecode: %s: list the held stock-outs: %w", JobStockOutReconcile, err)
	}
	var kept, released, waiting, unanswered, queries int
	var lastErr error
	for _, e := range es {
		if queries >= heldQueries {
			break
		}
		docNo := unesc(strings.TrimPrefix(e.Key, "outheld/"))
		res, err := h.resolveHeld(ctx, docNo, nil)
		if errors.Is(err, errBusy) {
			waiting++ // an upload of the document came first
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tracecode: %s: stock-out %s: %w", JobStockOutReconcile, docNo, err)
		}
		switch {
		case res.waiting:
			waiting++
			continue
		case res.unanswered != nil:
			unanswered++
			lastErr = res.unanswered
			ds.Warn(docNo, "state", fmt.Sprintf("stock-out %s still holds its codes: the platform could not tell whether it happened", docNo),
				fmt.Sprintf("%v; the next run asks again, or resolve it with `medgate %s %s`", res.unanswered, Name, CmdHeldResolve))
		case res.outcome == outcomeKept:
			kept++
		case res.outcome == outcomeReleased:
			released++
		default:
			continue // resolved before
		}
		queries++
	}
	if unanswered > 0 && kept+released == 0 && errors.Is(lastErr, platform.ErrUnavailable) {
		return nil, fmt.Errorf("tracecode: %s: the platform answered none of %d status queries (%s): %w", JobStockOutReconcile, unanswered, ds, lastErr)
	}
	summary := fmt.Sprintf("held stock-outs: %d kept (on the platform), %d released (not on it), %d the platform could not tell, %d too recent or in progress", kept, released, unanswered, waiting)
	if recovery != nil {
		summary += "; " + recovery.summary()
	}
	return &sdk.RunJobResponse{Diagnostics: ds, Processed: int64(kept + released), Summary: summary}, nil
}

// Stock-outs held before the index. The version before the held index
// (outheld/) left a stock-out whose outcome was unknown (status unknown,
// or sending when the plugin stopped during the call) with its codes out
// of stock and no index entry, so neither the held list nor this job saw
// it, and only a later attempt of the document reconciled it. Once per
// site, the job reads every uploaded document's index (docidx/up/) in key
// order and indexes each such stock-out (create-only: an entry an upload
// wrote is kept), after which it is listed and resolved like the others.
// The progress is kept under heldRecoveryKey after every page with
// compare-and-set, so an interrupted run resumes where it stopped and of
// runs on several instances at once one advances it (the others stop their
// part of the recovery for that run); indexing a document twice changes
// nothing.
//
// Versions before 46dc3c3 also kept out the codes of a stock-out not sent
// (status pending), which no version indexed: the walk indexes those too
// that still hold a code, and a site whose walk was done (or begun)
// without them walks again from the start once (heldRecovery.Pending).
// The job then asks the platform before it puts their codes back, with
// the same compare-and-set on the document as for the others, and an
// attempt of the document claims it first (upload), so a retry racing
// the job and the job never both act.
const heldRecoveryKey = "recovery/outheld"

// heldRecoveryPage is the number of index entries (each {"key": …}, a few
// dozen bytes) one scan of the recovery reads as a page; it asks for one
// more. heldRecoveryScans bounds the scans of one run: the documents of
// each page are read one by one, so a run reads at most some 20,000.
const (
	heldRecoveryPage  = 99
	heldRecoveryScans = 200
)

// heldRecovery is the stored progress of the recovery.
type heldRecovery struct {
	// After is the last index key read (see prefixWalk).
	After string `json:"after,omitempty"`
	// Done is set once every document was read; it never runs again.
	Done bool `json:"done,omitempty"`
	// Documents, Held and Indexed count the documents read, the stock-outs
	// among them of unknown outcome, and those indexed now (the others had
	// an entry); Unreadable those that could not be read.
	Documents int `json:"documents"`
	Held      int `json:"held"`
	// PendingHeld counts the stock-outs not sent (pending) that still
	// hold a code; Pending says the walk looks for them (walks stored
	// without it are begun again).
	PendingHeld int       `json:"pendingHeld"`
	Pending     bool      `json:"pending,omitempty"`
	Indexed     int       `json:"indexed"`
	Unreadable  int       `json:"unreadable"`
	Runs        int       `json:"runs"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	DoneAt      time.Time `json:"doneAt,omitzero"`
}

func (r *heldRecovery) summary() string {
	state := "continues next run"
	if r.Done {
		state = "done"
	}
	return fmt.Sprintf("recovery of stock-outs held before the held index %s after %d run(s): %d document(s) read, %d stock-out(s) of unknown outcome, %d not sent still holding codes, %d indexed now, %d unreadable",
		state, r.Runs, r.Documents, r.Held, r.PendingHeld, r.Indexed, r.Unreadable)
}

// recoverHeld runs (or continues) the recovery above. It returns the
// progress, or nil when it was done before this run or another run
// advanced it meanwhile; err is for the state store (the progress so far
// is kept).
func (h *handler) recoverHeld(ctx context.Context) (*heldRecovery, sdk.Diagnostics, error) {
	host := h.req.Host
	var rec heldRecovery
	progress := recoveryProgress{host: host, key: heldRecoveryKey, what: "the held stock-out recovery",
		again: "indexing a stock-out twice changes nothing", item: "document"}
	if err := progress.load(ctx, &rec); err != nil {
		return nil, nil, err
	}
	if !rec.Pending {
		// Walked (or begun) by a version that did not look for stock-outs
		// not sent: from the start again, with them.
		rec = heldRecovery{Runs: rec.Runs, Pending: true}
	}
	if rec.Done {
		return nil, nil, nil
	}
	if rec.StartedAt.IsZero() {
		rec.StartedAt = h.a.now()
	}
	rec.Runs++
	var ds sdk.Diagnostics
	warn := func(summary, detail string) {
		if rec.Unreadable++; rec.Unreadable <= maxRecoveryDiags {
			ds.Warn("", "state", summary, detail)
		}
	}
	errOther := errors.New("another run advanced the recovery")
	save := func() error {
		err := progress.save(ctx, &rec, rec.After)
		if errors.Is(err, sdk.ErrConflict) {
			return errOther
		}
		return err
	}
	page := func(es []sdk.Entry) error {
		for _, e := range es {
			rec.Documents++
			docNo := unesc(strings.TrimPrefix(e.Key, "docidx/"+sourceUpload+"/"))
			d, _, _, err := loadIndexed(ctx, host, e.Key, docNo)
			if errors.Is(err, sdk.ErrNotFound) {
				continue // its record was moved meanwhile: indexed under its new key
			}
			if err != nil {
				warn(fmt.Sprintf("document %s cannot be read; the held stock-out recovery skipped it", docNo),
					fmt.Sprintf("%v; if it is a stock-out sent without an answer, send it again (its attempt is reconciled by document number first)", err))
				continue
			}
			if d.Direction != "out" || (d.Status != statusSending && d.Status != statusUnknown && d.Status != statusPending) {
				continue
			}
			if d.Status == statusPending {
				holds, err := holdsCode(ctx, host, d)
				if err != nil {
					warn(fmt.Sprintf("the codes of stock-out %s, not sent, cannot be read; the held stock-out recovery skipped it", docNo),
						fmt.Sprintf("%v; send the document again (it takes its codes as its own), or check them with `medgate %s %s`", err, Name, CmdHeld))
					continue
				}
				if !holds {
					continue // this version put its codes back
				}
				rec.PendingHeld++
			} else {
				rec.Held++
			}
			b, err := json.Marshal(heldRef{Since: d.StatusAt, MessageID: d.MessageID})
			if err != nil {
				return err
			}
			// Only if absent: an entry an attempt of the document wrote is
			// kept as it is.
			_, err = host.CompareAndSet(ctx, heldKey(docNo), 0, b)
			switch {
			case errors.Is(err, sdk.ErrConflict):
				continue
			case err != nil:
				return fmt.Errorf("index stock-out %s, of unknown outcome, as holding its codes: %w", docNo, err)
			}
			rec.Indexed++
		}
		if len(es) > 0 {
			rec.After = es[len(es)-1].Key
		}
		return save()
	}
	w := prefixWalk{host: host, page: heldRecoveryPage, budget: heldRecoveryScans, after: rec.After, fn: page}
	done, err := w.walk(ctx, "docidx/"+sourceUpload+"/")
	if errors.Is(err, errOther) {
		return nil, ds, nil
	}
	if err != nil {
		return &rec, ds, err
	}
	rec.After = w.after
	if done {
		rec.Done, rec.DoneAt = true, h.a.now()
	}
	if err := save(); errors.Is(err, errOther) {
		return nil, ds, nil
	} else if err != nil {
		return &rec, ds, err
	}
	if rec.Unreadable > maxRecoveryDiags {
		ds.Warn("", "state", fmt.Sprintf("%d documents in all the held stock-out recovery could not read", rec.Unreadable), "see the recovery's progress ("+heldRecoveryKey+") for the counts")
	}
	return &rec, ds, nil
}
