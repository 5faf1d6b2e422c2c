package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// upload sends a transaction that changes national state, exactly once:
//
//  1. If an earlier attempt of this message finished, its stored outcome
//     is returned (nothing is sent).
//  2. If an earlier attempt was sent and its outcome is unknown (crash,
//     timeout, 5xx, garbage, bad signature), the national system is asked
//     with GYD053 about the original serial first: success or failure is
//     taken from there; only "no such transaction" allows a resend.
//  3. Otherwise a new serial is recorded in state before the request leaves,
//     so that a crash at any later point is reconciled by step 2.
func (a *Adapter) upload(ctx context.Context, req *sdk.HandleRequest, c *siteConfig, code string, doc map[string]any) *sdk.HandleResponse {
	var rec sentRecord
	ver, err := getJSON(ctx, req.Host, "msg/"+req.MessageID, &rec)
	if err != nil {
		return failed(true, "state", "cannot read what was sent for this message", err.Error())
	}
	return a.uploadKnown(ctx, req, c, code, doc, nil, rec, ver)
}

// uploadKnown is upload with the message's sentRecord already read: rec
// at version ver (0: nothing was sent yet). raw is the request JSON of doc
// when it is already known (decodePayload), nil to encode doc.
func (a *Adapter) uploadKnown(ctx context.Context, req *sdk.HandleRequest, c *siteConfig, code string, doc map[string]any, raw []byte, rec sentRecord, ver int64) *sdk.HandleResponse {
	h := req.Host
	key := "msg/" + req.MessageID
	if ver > 0 && rec.Done {
		return recordResponse(code, rec)
	}
	// resend: an earlier attempt recorded a serial that never reached the
	// national system; this attempt sends again without the rules.
	resend := ver > 0
	if ver > 0 {
		r, err := a.reconcile(ctx, h, c, req.MessageID, rec.Code, rec.Serial, rec.Date)
		if err != nil {
			return failed(true, "reconcile", "an earlier attempt may have reached the national system and GYD053 could not tell",
				fmt.Sprintf("serial %s: %v; nothing is resent until GYD053 answers", rec.Serial, err))
		}
		switch r.status {
		case transOK:
			return a.finish(ctx, h, c, key, rec, code, doc, outcome{kind: kindOK, serial: rec.Serial, code: r.code, message: r.message, output: r.output}, true)
		case transFailed:
			return a.finish(ctx, h, c, key, rec, code, doc, outcome{kind: kindRejected, serial: rec.Serial, code: r.code, message: r.message}, true)
		case transPending:
			return failed(true, "pending", "the national system is still processing the earlier attempt",
				fmt.Sprintf("GYD053 reports serial %s as in progress; medgate asks again before any resend", rec.Serial))
		}
		a.log.Info("the earlier attempt never reached the national system; sending again", "site", c.code, "code", code, "serial", rec.Serial)
	}
	serial, err := a.newSerial(ctx, h, c)
	if err != nil {
		return failed(true, "state", "cannot draw a message serial", err.Error())
	}
	rec = sentRecord{Code: code, Serial: serial, Date: a.now().In(cst).Format("2006-01-02"), SentAt: a.now().UTC(), Sends: rec.Sends + 1}
	if code == "GYU003" {
		// No upload of the month marked since its marks were checked
		// (monthwait.go).
		if r := a.passMonthGate(ctx, h, c, req.MessageID, code, doc); r != nil {
			return r
		}
	}
	if code == "GYU102" {
		if err := a.at("fees-checked"); err != nil {
			return failed(true, "state", "stopped before recording the fee details (nothing was sent)", err.Error())
		}
		// A settlement of the visit waits until this outcome is known. The
		// mark is cleared on the version this write returns (visitMemo).
		if memoOf(ctx) == nil {
			ctx = withVisitMemo(ctx)
		}
		if r := a.recordAndMark(ctx, h, c, key, rec, str(doc, "ykc700"), req.MessageID); r != nil {
			return r
		}
	} else if err := putJSON(ctx, h, key, rec); err != nil {
		return failed(true, "state", "cannot record the serial before sending (nothing was sent)", err.Error())
	}
	if err := a.at("recorded"); err != nil {
		return failed(true, "state", "stopped after recording the serial (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
	}
	// A monthly settlement of the months this upload adds to waits until
	// its outcome is known. The marks go after the record, so a GYU003
	// that sees a mark sees its record too; then the months' claims are
	// read again: a GYU003 that claimed one meanwhile went out without
	// this upload (monthwait.go).
	if err := a.markMonths(ctx, h, req.MessageID, code, doc); err != nil {
		return failed(true, "state", "cannot mark the upload's month before sending (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
	}
	if code != "GYU003" {
		if r := a.monthsStillOpen(ctx, h, c, key, serial, req.MessageID, code, doc); r != nil {
			return r
		}
	}
	if m, ok := stayMarks[code]; ok {
		if err := a.at(m.hook); err != nil {
			return failed(true, "state", "stopped before marking the "+m.what+" on its visit (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
		// The visit must be as the rules saw it, and the stay's other
		// uploads wait until this outcome is known (settling.go).
		if err := m.mark(ctx, h, doc, req.MessageID, resend); err != nil {
			var sc *stayChangedError
			if errors.As(err, &sc) {
				a.unsend(ctx, h, c, key, serial, req.MessageID, code, doc)
				a.log.Info("the stay changed while its "+m.what+" was checked; nothing sent, retried", "site", c.code,
					"message", req.MessageID, "ykc700", sc.ykc700)
				return sc.response()
			}
			return failed(true, "state", "cannot mark the "+m.what+" as in flight on its visit (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
	}
	if code == "GYR002" || code == "GYR003" {
		// Another revocation of the same waits until this outcome is
		// known, and so does an admission with the number it frees
		// (revokewait.go).
		if err := markRevocation(ctx, h, code, req.MessageID, doc, resend); err != nil {
			var rw *revokeWaitError
			if errors.As(err, &rw) {
				a.unsend(ctx, h, c, key, serial, req.MessageID, code, doc)
				a.log.Info("another revocation of the same was marked while this one was checked; nothing sent, retried", "site", c.code,
					"message", req.MessageID, "code", code, "waitingFor", strings.Join(rw.open, ", "))
				return a.waitResponse(ctx, h, c, req.MessageID, code, rw)
			}
			var rc *revokeChangedError
			if errors.As(err, &rc) {
				a.unsend(ctx, h, c, key, serial, req.MessageID, code, doc)
				a.log.Info("what the revocation revokes changed while it was checked; nothing sent, checked again", "site", c.code,
					"message", req.MessageID, "code", code)
				return rc.response()
			}
			return failed(true, "state", "cannot mark the revocation as in flight (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
	}
	if code == "GYU004" || code == "GYR004" {
		// A revocation of its deductions, or an upload of their numbers,
		// waits until this outcome is known (settling.go).
		if err := markDeductMsgs(ctx, h, req.MessageID, code, doc); err != nil {
			return failed(true, "state", "cannot mark the deductions as in flight (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
	}
	if code == "GYU004" {
		if err := a.at("deductions-checked"); err != nil {
			return failed(true, "state", "stopped before marking the deductions (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
		// Later deductions of the settlements wait until this outcome is
		// known (settling.go).
		if err := markDeductions(ctx, h, req.MessageID, doc); err != nil {
			var ge *deductGateError
			if errors.As(err, &ge) {
				// Another deduction of the settlement was marked since this
				// one's check: nothing is sent, and the next attempt checks
				// again (its record is removed so that the rules run).
				a.unsend(ctx, h, c, key, serial, req.MessageID, code, doc)
				a.log.Info("a deduction of the settlement was marked while this one was checked; nothing sent, retried", "site", c.code,
					"message", req.MessageID, "settle_no", ge.settleNo)
				return ge.response()
			}
			return failed(true, "state", "cannot mark the deductions as in flight on their settlements (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
	}
	if code == "GYU303" {
		if err := a.at("device-checked"); err != nil {
			return failed(true, "state", "stopped before marking the device lines (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
		// Later device settlements of the person's lines there wait until
		// this outcome is known (settling.go).
		if err := markDeviceLines(ctx, h, req.MessageID, doc); err != nil {
			var dc *deviceChangedError
			if errors.As(err, &dc) {
				a.unsend(ctx, h, c, key, serial, req.MessageID, code, doc)
				a.log.Info("another device settlement of the person was marked while this one was checked; nothing sent, retried", "site", c.code,
					"message", req.MessageID, "akb020", dc.akb020)
				return dc.response()
			}
			return failed(true, "state", "cannot mark the device lines as in flight (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
		}
	}
	out := a.call(ctx, h, c, req.MessageID, code, serial, requestInput(doc, raw))
	switch out.kind {
	case kindOK, kindRejected:
		return a.finish(ctx, h, c, key, rec, code, doc, out, false)
	case kindLocal:
		a.unsend(ctx, h, c, key, serial, req.MessageID, code, doc)
		return failed(true, "precondition", "nothing was sent to the national system", out.err.Error())
	default:
		return failed(true, "unavailable", "the national system gave no trustworthy answer",
			fmt.Sprintf("%v; the next attempt reconciles serial %s with GYD053 before any resend", out.err, serial))
	}
}

// unsend undoes what an upload recorded and marked before a send that did
// not happen: its record at key (serial), then its reservations and marks.
// Once the record is gone the next attempt runs the rules again. A record
// it cannot remove is reconciled by the next attempt (GYD053).
func (a *Adapter) unsend(ctx context.Context, h sdk.Host, c *siteConfig, key, serial, msgID, code string, doc map[string]any) {
	if err := h.Delete(ctx, key); err != nil {
		a.log.Warn("cannot forget an unsent serial; the next attempt reconciles it", "site", c.code, "serial", serial, "err", err)
		return
	}
	a.forget(ctx, h, msgID, code, doc)
	a.unmarkMonths(ctx, h, msgID, code, doc)
	a.unmarkSettling(ctx, h, msgID, code, doc)
	a.unmarkDeductions(ctx, h, msgID, code, doc)
}

// finish applies the effects of a known outcome to the adapter state,
// stores the outcome and returns the response.
func (a *Adapter) finish(ctx context.Context, h sdk.Host, c *siteConfig, key string, rec sentRecord, code string, doc map[string]any, out outcome, reconciled bool) *sdk.HandleResponse {
	if out.kind == kindOK && code == "GYU102" {
		if why := unaccountedLines(doc, out.output); why != "" {
			// Accepted, but the answer cannot tell which lines the
			// national system has: nothing is recorded and the outcome
			// stays unknown (the stay's settlement waits for it), so a
			// replay asks GYD053 again and completes when it can tell.
			rec.ExtCode, rec.ExtMsg, rec.Output, rec.Reconciled = out.code, out.message, out.output, reconciled
			if err := putJSON(ctx, h, key, rec); err != nil {
				a.log.Warn("cannot store an upload outcome; a retry reconciles it with GYD053", "site", c.code, "code", code, "serial", out.serial, "err", err)
			}
			a.log.Error("ALERT: the national system accepted fee details but its answer does not say which lines it took; none recorded", "site", c.code, "code", code,
				"serial", out.serial, "ykc700", str(doc, "ykc700"), "problem", why, "nationalCode", out.code, "nationalMessage", out.message)
			return failed(false, "reply", "the national system accepted serial "+out.serial+" but its signed answer does not say which fee lines it took",
				fmt.Sprintf("%s (national answer %s: %s); no line was recorded as uploaded, nothing is resent, and the stay cannot be settled (GYU103) until this is resolved: "+
					"ask the national system's operators which lines serial %s holds, then replay the message to reconcile it with GYD053", why, out.code, out.message, out.serial))
		}
		done := rec
		done.Status, done.Output = string(sdk.StatusOK), out.output
		done.Done, done.ExtCode, done.ExtMsg, done.Reconciled = true, out.code, out.message, reconciled
		if a.finishFees(ctx, h, key, done, doc) {
			if reconciled {
				a.log.Info("outcome of an earlier attempt reconciled with GYD053", "site", c.code, "code", code, "serial", out.serial, "status", done.Status)
			}
			return recordResponse(code, done)
		}
	}
	if out.kind == kindOK && (code == "GYU004" || code == "GYR004") {
		if why := unaccountedDeductions(code, doc, out.output); why != "" {
			// Accepted, but the answer does not say which deductions the
			// national system took (GYU004) or revoked (GYR004): nothing
			// is recorded and the outcome stays unknown (the deductions'
			// other messages and their settlements' wait for it), so a
			// replay asks GYD053 again and completes when it can tell.
			rec.ExtCode, rec.ExtMsg, rec.Output, rec.Reconciled = out.code, out.message, out.output, reconciled
			if err := putJSON(ctx, h, key, rec); err != nil {
				a.log.Warn("cannot store an upload outcome; a retry reconciles it with GYD053", "site", c.code, "code", code, "serial", out.serial, "err", err)
			}
			what := "took"
			if code == "GYR004" {
				what = "revoked"
			}
			a.log.Error("ALERT: the national system accepted a deductions call but its answer does not say which deductions it "+what+"; none recorded", "site", c.code, "code", code,
				"serial", out.serial, "problem", why, "nationalCode", out.code, "nationalMessage", out.message)
			return failed(false, "reply", "the national system accepted serial "+out.serial+" but its signed answer does not say which deductions it "+what,
				fmt.Sprintf("%s (national answer %s: %s); no deduction was recorded as %s, nothing is resent, and the deductions wait for this outcome: "+
					"ask the national system's operators which deductions serial %s %s (the GYD004/GYD404 downloads list them too), then replay the message to reconcile it with GYD053",
					why, out.code, out.message, map[string]string{"GYU004": "uploaded", "GYR004": "revoked"}[code], out.serial, what))
		}
	}
	if out.kind == kindOK {
		if bad := replyErrors(code, doc, out.output); len(bad) > 0 {
			// The call happened and was accepted, but its signed answer
			// lacks what later transactions need: nothing is applied and
			// the outcome is not marked done, so a replay asks GYD053
			// again (nothing is resent blindly) and completes then.
			rec.ExtCode, rec.ExtMsg, rec.Output, rec.Reconciled = out.code, out.message, out.output, reconciled
			if err := putJSON(ctx, h, key, rec); err != nil {
				a.log.Warn("cannot store an upload outcome; a retry reconciles it with GYD053", "site", c.code, "code", code, "serial", out.serial, "err", err)
			}
			a.log.Error("ALERT: the national system accepted an upload but its answer lacks required fields", "site", c.code, "code", code, "serial", out.serial, "fields", strings.Join(bad, "; "))
			return failed(false, "reply", "the national system accepted serial "+out.serial+" but its signed answer lacks what later transactions need",
				fmt.Sprintf("%s answer: %s; nothing was applied locally and nothing is resent: replay the message to reconcile it with GYD053", code, strings.Join(bad, "; ")))
		}
	}
	if out.kind == kindOK && code == "GYR005" {
		// GYR005 answers a refusal in its signed data (accept_flag 0), not
		// with an error code: it is a refusal all the same.
		if flag, msg := redownloadAccepted(out.output); flag != "1" {
			out = outcome{kind: kindRejected, serial: out.serial, code: "accept_flag=" + flag, message: msg}
		}
	}
	if out.kind == kindOK {
		if err := a.apply(ctx, h, c, msgIDOf(key), code, doc, out.output); err != nil {
			// The national system accepted it; the next attempt finds the
			// serial with GYD053 and applies the effects again.
			return failed(true, "state", "the national system accepted serial "+out.serial+" but the local state could not be updated", err.Error())
		}
		if code == "GYR005" {
			if err := a.redeliveryRequested(ctx, h, c, doc, out.serial, rec.SentAt); err != nil {
				return failed(true, "state", "the national system accepted serial "+out.serial+" but the local state could not be updated", err.Error())
			}
		}
		rec.Status, rec.Output = string(sdk.StatusOK), out.output
	} else {
		rec.Status = string(sdk.StatusRejected)
		a.forget(ctx, h, msgIDOf(key), code, doc)
		if code == "GYU001" {
			a.auditRefused(ctx, h, c, str(doc, "apply_no"))
		}
	}
	rec.Done, rec.ExtCode, rec.ExtMsg, rec.Reconciled = true, out.code, out.message, reconciled
	if err := putJSON(ctx, h, key, rec); err != nil {
		a.log.Warn("cannot store an upload outcome; a retry reconciles it with GYD053", "site", c.code, "code", code, "serial", out.serial, "err", err)
	} else {
		// Stored after the outcome, so a mark never goes before it.
		a.unmarkMonths(ctx, h, msgIDOf(key), code, doc)
		a.unmarkSettling(ctx, h, msgIDOf(key), code, doc)
		a.unmarkDeductions(ctx, h, msgIDOf(key), code, doc)
	}
	if reconciled {
		a.log.Info("outcome of an earlier attempt reconciled with GYD053", "site", c.code, "code", code, "serial", out.serial, "status", rec.Status)
	}
	resp := recordResponse(code, rec)
	if code == "GYR003" && rec.Status == string(sdk.StatusOK) {
		if w := a.deductionsRemain(ctx, h, str(doc, "settle_no")); w != nil {
			resp.Diagnostics = append(resp.Diagnostics, *w)
		}
	}
	return resp
}

// deductionsRemain is the warning of an accepted GYR003 whose settlement
// still has valid audit deductions (uploaded here, or downloaded), or nil.
// GYR003 revokes the settlement with its admission, fee details and
// attachments, not its deductions: they stay in the institution's monthly
// settlement (GYU003) and keep reducing its fund payment, also once the
// stay is settled (and deducted) again. Only the agency can tell whether
// they belong to the revoked settlement alone, so they are named, not
// revoked.
func (a *Adapter) deductionsRemain(ctx context.Context, h sdk.Host, settleNo string) *sdk.Diagnostic {
	var s settleState
	if ver, err := getJSON(ctx, h, "settle/"+settleNo, &s); err != nil || ver == 0 {
		return nil
	}
	var sum sumOf
	var parts []string
	for _, no := range s.Deducts {
		var st deductState
		if ver, err := getJSON(ctx, h, "deduct/"+no, &st); err != nil || ver == 0 || st.Revoked {
			continue
		}
		sum.add(cents(st.Amount))
		parts = append(parts, no+" ("+st.Amount+")")
	}
	for _, no := range s.Downloaded {
		if slices.Contains(s.Deducts, no) {
			continue
		}
		var dl dlDeduction
		if ver, err := getJSON(ctx, h, "dldeduct/"+no, &dl); err != nil || ver == 0 || dl.Revoked {
			continue
		}
		sum.add(cents(dl.Amount))
		parts = append(parts, no+" ("+dl.Amount+", downloaded with GYD004)")
	}
	if len(parts) == 0 {
		return nil
	}
	return &sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "$.settle_no", Rule: "deductions-remain",
		Summary: fmt.Sprintf("settlement %s is revoked, but %d audit deduction(s) of it totalling %s are still valid: %s", settleNo, len(parts), money(sum.rat()), strings.Join(parts, ", ")),
		Detail: "GYR003 does not revoke a settlement's deductions: they stay in the institution's monthly settlement (GYU003) and reduce its fund payment, also after the stay is settled again; " +
			"if they belong to the revoked settlement only, revoke them with GYR004 (deductions made elsewhere are revoked by whoever made them)"}
}

// replyRef is, for each upload whose effects key on a number the national
// system assigns, that field of its answer: without it the effect cannot
// be applied (a visit without ykc700 would hold its inpatient number for
// good). GYR005's accept_flag is listed too: it alone says whether the
// re-download was accepted (redownloadAccepted). Only these fields are required here: the rest of the output
// schemas is reconstructed, not the official list (docs in schemas/), and
// must not turn an accepted upload into a failure. GYU001 is not listed:
// a refused application has no filing number.
var replyRef = map[string]string{"GYU006": "filing_no", "GYU101": "ykc700", "GYU103": "settle_no", "GYU303": "settle_no", "GYU003": "month_settle_no", "GYR005": "accept_flag"}

// redownloadAccepted returns the accept_flag of a GYR005 answer ("1":
// accepted) and its message, or, when it has none, a message saying the
// re-download was not accepted.
func redownloadAccepted(output json.RawMessage) (flag, message string) {
	var o map[string]any
	_ = decodeJSON(output, &o)
	flag, message = str(o, "accept_flag"), nationalText(str(o, "message"))
	if flag != "1" && message == "" {
		message = "the national system did not accept the re-download (accept_flag " + flag + ") and gave no reason"
	}
	return flag, message
}

// replyErrors checks the answer of an accepted upload for the number its
// effects key on (replyRef), and that of a GYU002 (doc, its input) for one
// attachment id of its own for each file sent (attachmentIDErrors); it
// returns "path problem" of each error.
func replyErrors(code string, doc map[string]any, output json.RawMessage) []string {
	field, ok := replyRef[code]
	if !ok && code != "GYU002" {
		return nil
	}
	var out map[string]any
	if err := decodeJSON(output, &out); err != nil || out == nil {
		return []string{"$ is not a JSON object"}
	}
	if code == "GYU002" {
		return attachmentIDErrors(doc, out)
	}
	if str(out, field) == "" {
		return []string{"$." + field + " required"}
	}
	return nil
}

// attachmentIDErrors checks that the answer out of an accepted GYU002 gives
// an attachment id for each file of its input doc, each id its own: an
// answer that leaves a file out cannot say whether the national system
// holds it, nor can the HIS refer to it (GYU006, GYU103).
func attachmentIDErrors(doc, out map[string]any) []string {
	in, _ := doc["attachments"].([]any)
	got, _ := out["attachments"].([]any)
	var bad []string
	if len(got) != len(in) {
		bad = append(bad, fmt.Sprintf("$.attachments has %d entries for the %d files sent", len(got), len(in)))
	}
	seen := map[string]int{}
	for i, x := range got {
		r, _ := x.(map[string]any)
		id := str(r, "attachment_id")
		switch j, dup := seen[id]; {
		case id == "":
			bad = append(bad, fmt.Sprintf("$.attachments[%d].attachment_id required", i))
		case dup:
			bad = append(bad, fmt.Sprintf("$.attachments[%d].attachment_id %s is also entry %d's", i, id, j))
		default:
			seen[id] = i
		}
	}
	return bad
}

// recordAndMark records rec (the serial about to be sent) at key and
// marks message msgID in flight on its visit, before a GYU102 is sent.
// When the visit's version is known (visitMemo, from the rules' read),
// both go in one sdk.WriteState: one call into the host and, in medgate,
// one transaction. If the visit changed since (the compare-and-set
// fails), or the version is not known, they are written one by one, the
// visit read again. It returns the response to give when nothing may be
// sent, nil to send.
func (a *Adapter) recordAndMark(ctx context.Context, h sdk.Host, c *siteConfig, key string, rec sentRecord, ykc700, msgID string) *sdk.HandleResponse {
	m := memoOf(ctx)
	vkey := "visit/" + ykc700
	if ykc700 != "" && m != nil && m.key == vkey && m.ver > 0 {
		v := m.v
		v.InFlight = slices.Clone(v.InFlight)
		if editInFlight(&v, msgID, true) {
			rb, err := encodeState(rec)
			if err != nil {
				return failed(true, "state", "cannot record the serial before sending (nothing was sent)", err.Error())
			}
			vb, err := encodeState(v)
			if err != nil {
				return failed(true, "state", "cannot mark the fee details as in flight (nothing was sent)", err.Error())
			}
			vs, err := sdk.WriteState(ctx, h, []sdk.StateWrite{{Key: key, Value: rb, Put: true}, {Key: vkey, Value: vb, Expect: m.ver}})
			if err == nil {
				m.ver, m.v = vs[1], v
				return nil
			}
			var we *sdk.WriteError
			if !errors.As(err, &we) || we.Index != 1 || !errors.Is(err, sdk.ErrConflict) {
				return failed(true, "state", "cannot record the serial and mark the fee details as in flight (nothing was sent)", err.Error())
			}
			// The visit changed since the rules read it: read it again
			// below (the record is written again, the same value).
			m.ver = 0
		}
	}
	if err := putJSON(ctx, h, key, rec); err != nil {
		return failed(true, "state", "cannot record the serial before sending (nothing was sent)", err.Error())
	}
	// The visit is read again: marked only if it still takes details
	// (settling.go).
	if err := feesInFlight(ctx, h, ykc700, msgID); err != nil {
		var swe *settleWaitError
		var sc *stayChangedError
		var resp *sdk.HandleResponse
		switch {
		case errors.As(err, &swe):
			resp = swe.response()
		case errors.As(err, &sc):
			resp = sc.response()
		default:
			return failed(true, "state", "cannot mark the fee details as in flight (nothing was sent)", err.Error())
		}
		// Nothing was marked; without its record the next attempt runs the
		// rules again.
		if err := h.Delete(ctx, key); err != nil {
			a.log.Warn("cannot forget an unsent serial; the next attempt reconciles it", "site", c.code, "serial", rec.Serial, "err", err)
		}
		a.log.Info("the stay changed while fee details were checked; nothing sent, retried", "site", c.code, "message", msgID, "ykc700", ykc700, "why", err.Error())
		return resp
	}
	return nil
}

// finishFees stores what an accepted GYU102 changes in one sdk.WriteState:
// its fee lines (a new key), its visit without the message in flight (on
// the version of the in-flight mark, visitMemo) and done, the sent record
// with the outcome; apply and finish write them one by one otherwise. It
// reports false when it cannot (the visit's version is not known, or the
// visit changed): then it wrote nothing, or, with a host that writes one
// by one, a part that the one-by-one path completes (each of its writes
// can be made again).
func (a *Adapter) finishFees(ctx context.Context, h sdk.Host, key string, done sentRecord, doc map[string]any) bool {
	m := memoOf(ctx)
	ykc700 := str(doc, "ykc700")
	vkey := "visit/" + ykc700
	if ykc700 == "" || m == nil || m.key != vkey || m.ver == 0 {
		return false
	}
	msgID := msgIDOf(key)
	v := m.v
	v.InFlight = slices.Clone(v.InFlight)
	if !editInFlight(&v, msgID, false) {
		return false
	}
	db, err := encodeState(feeLines(doc, nil, refusedLines(done.Output)))
	if err != nil {
		return false
	}
	vb, err := encodeState(v)
	if err != nil {
		return false
	}
	rb, err := encodeState(done)
	if err != nil {
		return false
	}
	vs, err := sdk.WriteState(ctx, h, []sdk.StateWrite{
		{Key: detailsKey(ykc700) + "/" + msgID, Value: db},
		{Key: vkey, Value: vb, Expect: m.ver},
		{Key: key, Value: rb, Put: true},
	})
	if err != nil {
		a.log.Debug("fee details, visit and outcome not written together; writing them one by one", "err", err)
		return false
	}
	m.ver, m.v = vs[1], v
	return true
}

// forget undoes what a message reserved before it was sent, once it is
// known that it changed nothing (refused, or never sent).
func (a *Adapter) forget(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) {
	a.release(ctx, h, msgID, code, doc)
	if code == "GYU102" {
		if err := a.inFlight(ctx, h, str(doc, "ykc700"), msgID, false); err != nil {
			a.log.Warn("cannot clear an in-flight fee-detail upload", "code", code, "err", err)
		}
	}
}

// msgIDOf returns the message id of a msg/<id> key.
func msgIDOf(key string) string { return strings.TrimPrefix(key, "msg/") }

// recordResponse rebuilds the response of a finished upload.
func recordResponse(code string, rec sentRecord) *sdk.HandleResponse {
	if rec.Status == string(sdk.StatusRejected) {
		resp := rejected(code, rec.Serial, rec.ExtCode, rec.ExtMsg)
		if rec.Reconciled {
			resp.Diagnostics = append(resp.Diagnostics, reconciledNote(code, rec, false))
		}
		return resp
	}
	payload := rec.Output
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	resp := &sdk.HandleResponse{Status: sdk.StatusOK, Payload: payload,
		External: &sdk.External{System: systemName, Code: rec.ExtCode, Message: rec.ExtMsg, MsgID: rec.Serial}}
	if rec.Reconciled {
		resp.Diagnostics = append(resp.Diagnostics, reconciledNote(code, rec, true))
	}
	if code == "GYU102" {
		if w := refusedWarning(rec.Output); w != nil {
			resp.Diagnostics = append(resp.Diagnostics, *w)
		}
	}
	return resp
}

// reconciledNote is the warning of a reply whose outcome was found with
// GYD053: the answer of the attempt that reached the national system was
// lost (timeout, 5xx, unreadable or unsigned answer, crash), the next
// attempt asked about its serial, and the reply is that outcome. The
// clerk learns that nothing was sent twice and that the figures are the
// national system's, not a second settlement's.
func reconciledNote(code string, rec sentRecord, accepted bool) sdk.Diagnostic {
	zh, en := "已受理", "accepted"
	detail := "无需重发；nothing to do: do not send it again under a new message id, the national system holds this outcome"
	if !accepted {
		zh, en = "已拒绝", "refused"
		detail = "按拒绝原因更正后以新消息发送；the refusal is the national system's answer to that attempt: correct what it names and send a new message"
	}
	return sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "$", Rule: "reconciled",
		Summary: fmt.Sprintf("%s 首次发送（流水号 %s）的应答丢失，经通用交易查询 GYD053 确认国家系统%s：本应答即该次结果，未重复发送；"+
			"the answer to %s serial %s was lost, and GYD053 shows the national system %s it: this reply is that outcome, nothing was sent again",
			code, rec.Serial, zh, code, rec.Serial, en),
		Detail: detail}
}

// Transaction states reported by GYD053 (codes/transStatus.yaml).
const (
	transOK      = "1"
	transFailed  = "0"
	transPending = "2"
	transNone    = "9"
)

// reconciliation is what GYD053 says about an earlier transaction.
type reconciliation struct {
	status  string
	code    string
	message string
	output  json.RawMessage
}

// reconcile asks the national system (GYD053) about the transaction sent
// with serial on date.
func (a *Adapter) reconcile(ctx context.Context, h sdk.Host, c *siteConfig, messageID, code, serial, date string) (reconciliation, error) {
	qs, err := a.newSerial(ctx, h, c)
	if err != nil {
		return reconciliation{}, err
	}
	in := map[string]any{"orig_code": code, "orig_msg_id": serial}
	if date != "" {
		in["orig_date"] = date
	}
	out := a.call(ctx, h, c, messageID, "GYD053", qs, in)
	switch out.kind {
	case kindOK:
	case kindRejected:
		return reconciliation{}, fmt.Errorf("GYD053 refused: code %s: %s", out.code, out.message)
	default:
		return reconciliation{}, out.err
	}
	var r struct {
		OrigCode    string      `json:"orig_code"`
		OrigMsgID   string      `json:"orig_msg_id"`
		TransStatus json.Number `json:"trans_status"`
		ResultCode  string      `json:"orig_result_code"`
		ResultMsg   string      `json:"orig_result_message"`
		Output      string      `json:"orig_output"`
	}
	if err := json.Unmarshal(out.output, &r); err != nil {
		return reconciliation{}, fmt.Errorf("GYD053 answer is not readable: %w", err)
	}
	if err := aboutQueried(c, out.serialSigned, code, serial, r.OrigCode, r.OrigMsgID); err != nil {
		return reconciliation{}, err
	}
	rc := reconciliation{status: r.TransStatus.String(), code: r.ResultCode, message: nationalText(r.ResultMsg)}
	switch rc.status {
	case transOK:
		rc.output = json.RawMessage("{}")
		if r.Output != "" {
			if !json.Valid([]byte(r.Output)) {
				return reconciliation{}, fmt.Errorf("GYD053 orig_output of serial %s is not JSON", serial)
			}
			rc.output = json.RawMessage(r.Output)
		}
	case transFailed, transPending, transNone:
	default:
		return reconciliation{}, fmt.Errorf("GYD053 trans_status %q is not one of 0, 1, 2, 9", rc.status)
	}
	return rc, nil
}

// aboutQueried checks that a GYD053 answer is provably about the
// transaction it was asked about (DESIGN.md guarantee 8: only signed data
// decides). With the default signTarget (plaintext) the signature covers
// the business data only, not the envelope's serial: an answer about
// another serial, replayed or misrouted, would verify just as well. So the
// answer's signed data must name the queried serial (orig_msg_id) and,
// when it names the code (orig_code), the queried code; an answer naming
// another serial or code is never trusted. Without orig_msg_id the answer
// is trusted only when its envelope's serial is signed and is the GYD053
// request's own (serialSigned: signTarget canonical). Anything else
// leaves the outcome unknown: nothing is resent and the next attempt asks
// again, unless the site set gyd053Echo optional (an answer naming no
// serial then decides). orig_code and orig_msg_id in the answer are
// medgate's reconstruction of GYD053 (see the README).
func aboutQueried(c *siteConfig, serialSigned bool, code, serial, gotCode, gotSerial string) error {
	if gotSerial != "" && gotSerial != serial {
		return fmt.Errorf("the GYD053 answer is about serial %s, not the queried %s: not trusted (outcome unknown)", gotSerial, serial)
	}
	if gotCode != "" && gotCode != code {
		return fmt.Errorf("the GYD053 answer about serial %s is about transaction %s, not the queried %s: not trusted (outcome unknown)", serial, gotCode, code)
	}
	if gotSerial == "" && !serialSigned && !c.echoOptional {
		return fmt.Errorf("the GYD053 answer's signed data does not name the serial it is about (orig_msg_id), and with signTarget %s nothing else signed ties it to serial %s: not trusted (outcome unknown); "+
			"the national system must echo orig_msg_id in GYD053's answer, or sign the envelope (signTarget canonical with field.msgId); if its GYD053 does neither, set gyd053Echo optional (see the README)", c.opts.SignTarget, serial)
	}
	return nil
}

// auditRefused marks application no as one whose audit result the
// national system refused (pendingAuditCheck local: it no longer holds
// GYD001 back). The mark is compare-and-set on the state read: a state
// written since (an accepted GYU001 of the application, or a new download
// of it, which awaits an audit again) is newer than the refusal and stays
// as it is. A failure is logged: the application then keeps holding GYD001
// back, which the held run reports.
func (a *Adapter) auditRefused(ctx context.Context, h sdk.Host, c *siteConfig, no string) {
	if no == "" {
		return
	}
	var st applyState
	ver, err := getJSON(ctx, h, "apply/"+no, &st)
	if err == nil && ver > 0 && st.Status == applyDownloaded && !st.AuditRefused {
		st.AuditRefused = true
		_, err = casJSON(ctx, h, "apply/"+no, ver, st)
	}
	switch {
	case errors.Is(err, sdk.ErrConflict):
		a.log.Info("application changed while its refused audit was being noted; the newer state stays", "site", c.code, "apply_no", no)
	case err != nil:
		a.log.Warn("cannot mark an application whose audit was refused; it keeps holding GYD001 back (pendingAuditCheck local) until audited", "site", c.code, "apply_no", no, "err", err)
	}
}

// stayMarks are the uploads that mark their visit, compare-and-set on the
// version their check read, before they are sent: a settlement (GYU103)
// and a fee-detail revocation (GYR001) of one stay exclude each other and
// the stay's fee details (settling.go).
var stayMarks = map[string]struct {
	hook, what string // the test hook before the mark; what is marked
	mark       func(ctx context.Context, h sdk.Host, doc map[string]any, msgID string, resend bool) error
}{
	"GYU103": {"settlement-checked", "settlement", markSettlingChecked},
	"GYR001": {"revocation-checked", "fee-detail revocation", markRevokingChecked},
}
