package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// A discharge settlement (GYU103) whose outcome is not known – in flight,
// or sent with its answer lost until GYD053 reconciles it – may have
// settled the stay at the national system; or it never arrived, and its
// next attempt sends it again as it is (a resend does not run the rules
// again). Either way the stay's fee details must stay as they were when it
// was checked: a fee line uploaded meanwhile (GYU102) would be left out of
// a settlement that goes out later with the old sums, and a revocation
// (GYR001, GYR002) would change a stay that may be settled. So a GYU103
// adds itself to its visit's Settling list before it is first sent and
// removes itself once its outcome is known, and GYU102, GYU103, GYR001 and
// GYR002 of the visit wait while a listed message's record (msg/<id>) has
// no outcome – retryably and as a deliberate wait, like a GYU003 waiting
// for its month (monthwait.go), since the condition resolves by itself. An
// entry left behind (a crash in between) is recognised by its message's
// record, done or absent, and holds nothing back.

// markStay adds (add) or removes msgID in the list of visit ykc700 that
// list picks (settlingList, revokingList); a visit that does not exist is
// left alone.
// edit, if not nil, changes the visit further with the list (the lines a
// GYR001 names: revokingLines).
func markStay(ctx context.Context, h sdk.Host, ykc700, msgID string, add bool, list func(*visitState) *[]string, edit func(*visitState)) error {
	if ykc700 == "" {
		return nil
	}
	return update(ctx, h, "visit/"+ykc700, func(v *visitState, exists bool) error {
		l := list(v)
		switch has := slices.Contains(*l, msgID); {
		case !exists, add == has:
			return errSkip
		case add:
			*l = append(*l, msgID)
		default:
			*l = slices.DeleteFunc(*l, func(id string) bool { return id == msgID })
		}
		if edit != nil {
			edit(v)
		}
		return nil
	})
}

// revokingLines returns the edit that records (add) or forgets the detail
// numbers GYR001 msgID names on its visit (RevokingLines); none named
// (every line revoked) records nothing.
func revokingLines(msgID string, lines []string, add bool) func(*visitState) {
	return func(v *visitState) {
		m := maps.Clone(v.RevokingLines)
		if add && len(lines) > 0 {
			if m == nil {
				m = map[string][]string{}
			}
			m[msgID] = lines
		} else {
			delete(m, msgID)
		}
		if len(m) == 0 {
			m = nil
		}
		v.RevokingLines = m
	}
}

// detailNos are the detail numbers a GYR001 names (details[].detail_no);
// nil when it names none: it revokes every line of the stay.
func detailNos(doc map[string]any) []string {
	list, _ := doc["details"].([]any)
	var nos []string
	for _, x := range list {
		if no := str(x.(map[string]any), "detail_no"); no != "" && !slices.Contains(nos, no) {
			nos = append(nos, no)
		}
	}
	return nos
}

// revokingOverlap returns the GYR001 messages of v.Revoking that may
// revoke a line of lines (nil: every line): each that revokes every line,
// and each naming one of lines.
func revokingOverlap(v visitState, lines []string) []string {
	if len(lines) == 0 {
		return v.Revoking
	}
	var ids []string
	for _, id := range v.Revoking {
		named, ok := v.RevokingLines[id]
		if !ok || slices.ContainsFunc(named, func(no string) bool { return slices.Contains(lines, no) }) {
			ids = append(ids, id)
		}
	}
	return ids
}

// settlingList and revokingList pick a visit's list of GYU103 and of
// GYR001 messages without a known outcome.
func settlingList(v *visitState) *[]string { return &v.Settling }
func revokingList(v *visitState) *[]string { return &v.Revoking }

// settling notes in l.wait the settlements of visit v (ykc700) still
// without a known outcome, other than the message's own.
func (l *lifecycle) settling(ykc700 string, v visitState) error {
	open, err := settlingOpen(l.ctx, l.h, v, l.msgID)
	if err != nil {
		return err
	}
	if len(open) > 0 {
		l.wait = &settleWaitError{ykc700: ykc700, open: open}
	}
	return nil
}

// revoking notes in l.wait the revocations of fee details (GYR001) of
// visit v (ykc700) still without a known outcome.
func (l *lifecycle) revoking(ykc700 string, v visitState) error {
	open, err := openOf(l.ctx, l.h, v.Revoking, l.msgID)
	if err != nil {
		return err
	}
	if len(open) > 0 {
		l.wait = &settleWaitError{ykc700: ykc700, open: open, revoking: true}
	}
	return nil
}

// settlingOpen returns the settlements of visit v still without a known
// outcome, other than message self's: "<message id> (<code>, serial
// <serial>)" each.
func settlingOpen(ctx context.Context, h sdk.Host, v visitState, self string) ([]string, error) {
	return openOf(ctx, h, v.Settling, self)
}

// openOf returns the messages of ids, other than self, that were sent and
// have no known outcome yet: "<message id> (<code>, serial <serial>)"
// each. A message whose record is done, or absent (it never went out),
// holds nothing back.
func openOf(ctx context.Context, h sdk.Host, ids []string, self string) ([]string, error) {
	var open []string
	for _, id := range ids {
		if id == self {
			continue
		}
		var rec sentRecord
		ver, err := getJSON(ctx, h, "msg/"+id, &rec)
		if err != nil {
			return nil, err
		}
		if ver > 0 && !rec.Done {
			open = append(open, fmt.Sprintf("%s (%s, serial %s)", id, rec.Code, rec.Serial))
		}
	}
	return open, nil
}

// The check of a GYU103 (no fee-detail upload in flight, the sums of the
// details) and that of a GYU102 (no settlement without a known outcome,
// the stay open) each read the visit; each then marks itself on it. Run at
// the same instant, both could pass their checks before either marked
// itself, and both go out: the settlement without the new lines, or lines
// into a stay being settled. So each marks itself only on the visit as its
// check saw it, or one that still passes: a GYU103 compare-and-sets the
// visit on the version its rules read (markSettlingChecked), and a GYU102
// whose compare-and-set on that version fails reads the visit again and
// marks itself only when no settlement of it is without an outcome and it
// is still open (feesInFlight). The one that marks second waits (nothing
// sent), and its next attempt checks again with the other counted.

// stayChangedError says that a message's visit changed between its check
// and its mark on the visit, in a way its check did not count.
type stayChangedError struct {
	ykc700, what string
}

func (e *stayChangedError) Error() string {
	return fmt.Sprintf("rule stay-unchanged: visit %s changed while this message was being checked: %s", e.ykc700, e.what)
}

// response is the retryable failure of a message whose stay changed under
// its check, marked as a deliberate wait (nothing was asked of the
// national system).
func (e *stayChangedError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem("$.ykc700", "state", e.Error(),
		"its check did not count that change, so nothing was sent; medgate checks this message again by itself, with the change counted"))
}

// markSettlingChecked adds GYU103 msgID to its visit's Settling list with
// a compare-and-set on the version its rules read (visitMemo): a visit
// changed since (a fee-detail upload marked in flight or finished, another
// settlement) fails it with a *stayChangedError. When the rules did not
// run in this attempt (a resend after GYD053 found no trace: its mark was
// in place all along) it is a plain mark (markStay) – unless the mark is
// not in place (resend): an earlier attempt stopped between recording its
// serial and marking itself, and fee lines may have been uploaded or
// revoked meanwhile without waiting for it, so its sums are checked again
// (a *stayChangedError, nothing marked).
func markSettlingChecked(ctx context.Context, h sdk.Host, doc map[string]any, msgID string, resend bool) error {
	return markStayChecked(ctx, h, str(doc, "ykc700"), msgID, settlingList, nil, resend,
		"its fee details, or its state, changed since this settlement's sums were checked")
}

// A revocation of fee details (GYR001) and a discharge settlement (GYU103)
// of one stay must not both be between their check and their answer: the
// settlement's sums are those of the lines as its check saw them, so lines
// revoked meanwhile make the national sum check refuse it, and a
// revocation sent while the stay is being settled meets a settled stay (or
// changes the lines under the settlement). So the two exclude each other
// as a GYU103 and a GYU102 do: a GYR001 adds itself to its visit's
// Revoking list before it is first sent, with a compare-and-set on the
// version its rules read (markRevokingChecked), and removes itself once
// its outcome is known; a GYU103 waits while a listed GYR001 has no known
// outcome (rule revocation-outcome-known), and a GYR001 while a listed
// GYU103 has none (rule settlement-outcome-known). Checked at the same
// instant, the one that marks itself second fails its compare-and-set (the
// other's mark changed the visit) and waits (rule stay-unchanged), nothing
// sent; its next attempt checks again with the other one counted.

// markRevokingChecked adds GYR001 msgID to its visit's Revoking list with
// a compare-and-set on the version its rules read (visitMemo): a visit
// changed since (a settlement marked itself, fee details changed) fails
// it with a *stayChangedError. When the rules did not run in this attempt
// (a resend after GYD053 found no trace: its mark was in place all along)
// it is a plain mark – unless the mark is not in place (resend): an
// earlier attempt stopped between recording its serial and marking
// itself, and another revocation of its lines may have been sent and
// accepted meanwhile without waiting for it; that fails it with a
// *stayChangedError, nothing marked, and its next attempt is checked
// again. The lines it names are recorded with the mark (RevokingLines).
func markRevokingChecked(ctx context.Context, h sdk.Host, doc map[string]any, msgID string, resend bool) error {
	return markStayChecked(ctx, h, str(doc, "ykc700"), msgID, revokingList, revokingLines(msgID, detailNos(doc), true), resend,
		"a settlement of the stay, or its fee details, changed since this revocation was checked")
}

// markStayChecked adds msgID to the list of its visit that list picks,
// with a compare-and-set on the version the message's rules read
// (visitMemo); a conflict is a *stayChangedError saying what. Without
// that version it is markStay.
//
// A resend (rules not run: no version read) whose mark is not in place
// fails with a *stayChangedError when strict is set (a resend of a GYU103
// or GYR001: markSettlingChecked, markRevokingChecked).
func markStayChecked(ctx context.Context, h sdk.Host, ykc700, msgID string, list func(*visitState) *[]string, edit func(*visitState), strict bool, what string) error {
	m := memoOf(ctx)
	vkey := "visit/" + ykc700
	if ykc700 == "" || m == nil || m.key != vkey || m.ver == 0 {
		if strict && ykc700 != "" {
			var v visitState
			ver, err := getJSON(ctx, h, vkey, &v)
			if err != nil {
				return err
			}
			if ver > 0 && !slices.Contains(*list(&v), msgID) {
				return &stayChangedError{ykc700: ykc700, what: "an earlier attempt of this message stopped before it marked itself on the visit (it never reached the national system); another message of the stay may have changed it meanwhile"}
			}
		}
		return markStay(ctx, h, ykc700, msgID, true, list, edit)
	}
	v := m.v
	l := list(&v)
	*l = slices.Clone(*l)
	if !slices.Contains(*l, msgID) {
		*l = append(*l, msgID)
	}
	if edit != nil {
		edit(&v)
	}
	nv, err := casJSON(ctx, h, vkey, m.ver, v)
	if errors.Is(err, sdk.ErrConflict) {
		return &stayChangedError{ykc700: ykc700, what: what}
	}
	if err != nil {
		return err
	}
	m.ver, m.v = nv, v
	return nil
}

// feesInFlight marks GYU102 msgID in flight on visit ykc700, read anew
// (its rules' version is stale), provided no settlement of the visit is
// without a known outcome (*settleWaitError) and the visit is still open
// (*stayChangedError); a visit that does not exist is left alone.
func feesInFlight(ctx context.Context, h sdk.Host, ykc700, msgID string) error {
	if ykc700 == "" {
		return nil
	}
	key := "visit/" + ykc700
	for range 8 {
		var v visitState
		ver, err := getJSON(ctx, h, key, &v)
		if err != nil || ver == 0 {
			return err
		}
		switch v.Status {
		case visitSettled:
			return &stayChangedError{ykc700: ykc700, what: "it was settled (settlement " + v.SettleNo + ")"}
		case visitRevoked:
			return &stayChangedError{ykc700: ykc700, what: "its admission was revoked"}
		}
		open, err := settlingOpen(ctx, h, v, msgID)
		if err != nil {
			return err
		}
		if len(open) > 0 {
			return &settleWaitError{ykc700: ykc700, open: open}
		}
		if !editInFlight(&v, msgID, true) {
			return nil
		}
		nv, err := casJSON(ctx, h, key, ver, v)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if m := memoOf(ctx); m != nil {
			m.key, m.ver, m.v = key, nv, v
		}
		return nil
	}
	return fmt.Errorf("state %s changes too often; try again", key)
}

// settleWaitError says that a message of a stay must wait for the stay's
// discharge settlement, whose outcome is not known yet; or, when revoking,
// a discharge settlement must wait for a revocation of the stay's fee
// details (GYR001) whose outcome is not known yet.
type settleWaitError struct {
	ykc700   string
	open     []string
	revoking bool
}

func (e *settleWaitError) Error() string {
	if e.revoking {
		return fmt.Sprintf("rule revocation-outcome-known: a revocation of fee details (GYR001) of visit %s has no known outcome yet: %s",
			e.ykc700, strings.Join(e.open, ", "))
	}
	return fmt.Sprintf("rule settlement-outcome-known: the discharge settlement of visit %s has no known outcome yet: %s",
		e.ykc700, strings.Join(e.open, ", "))
}

// waitsFor names what the message waits for, for the log.
func (e *settleWaitError) waitsFor() string {
	if e.revoking {
		return "a revocation of the stay's fee details"
	}
	return "the stay's settlement"
}

// response is the retryable failure of a message that waits, marked as a
// deliberate wait (it does not count towards the site's circuit breaker).
// A wait for a fee-detail revocation is answered as the wait for a
// revocation it is (revokeWait), by Adapter.waitResponse where a host is
// at hand.
func (e *settleWaitError) response() *sdk.HandleResponse {
	if rw := e.revokeWait(); rw != nil {
		return rw.response()
	}
	return sdk.Wait(sdk.Problem("$.ykc700", "state", e.Error(),
		"it may have settled the stay at the national system, or be sent again as it is, so nothing was sent and medgate tries this message again by itself; "+
			"the settlement is reconciled with GYD053 on its own next attempt – if it is in the DLQ, replay it"))
}

// revokeWait is e, when a settlement waits for a revocation of the stay's
// fee details (revoking), as a *revokeWaitError, so that a revocation
// given up (the DLQ) is named for replay, with an ALERT and an event,
// like any other revocation a message waits for (waitResponse); nil for a
// wait for the stay's settlement.
func (e *settleWaitError) revokeWait() *revokeWaitError {
	if !e.revoking {
		return nil
	}
	return &revokeWaitError{field: "$.ykc700", what: "a revocation of fee details (GYR001) of visit " + e.ykc700, open: e.open,
		then: "It may have revoked fee lines at the national system, which would then refuse a settlement with the sums checked here: if it was accepted, this settlement is checked against the lines it left (its sums must leave the revoked lines out); if it was refused, it is checked and sent as it is."}
}

// unmarkSettling removes a GYU103 from its visit's Settling list, a
// GYR001 from its Revoking list, or a GYU303's mark on its lines
// (markDeviceLines), once its outcome is known. An entry it
// cannot remove is harmless: the message's record is done (or absent).
func (a *Adapter) unmarkSettling(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) {
	if code == "GYR001" || code == "GYR002" || code == "GYR003" {
		// The mark resolved: what said its ALERT was given
		// (waitResponse) goes with it, not kept for ever.
		if err := h.Delete(ctx, staleKey(msgID)); err != nil {
			a.log.Warn("cannot remove the record of a stale-revocation ALERT; it is left", "code", code, "err", err)
		}
	}
	list, edit := settlingList, func(*visitState) {}
	switch code {
	case "GYU103":
	case "GYR001":
		list, edit = revokingList, revokingLines(msgID, nil, false)
	case "GYR002", "GYR003":
		if err := unmarkRevocation(ctx, h, code, msgID, doc); err != nil {
			a.log.Warn("cannot clear a revocation's in-flight mark; it is ignored from now on", "code", code, "err", err)
		}
		return
	case "GYU303":
		if err := unmarkDeviceLines(ctx, h, msgID, doc); err != nil {
			a.log.Warn("cannot clear a device settlement's in-flight mark on its lines; it is ignored from now on", "code", code, "err", err)
		}
		return
	default:
		return
	}
	if err := markStay(ctx, h, str(doc, "ykc700"), msgID, false, list, edit); err != nil {
		a.log.Warn("cannot clear a message's in-flight mark on its visit; it is ignored from now on", "code", code, "err", err)
	}
}

// An audit deduction (GYU004) whose outcome is not known – in flight, or
// sent with its answer lost until GYD053 reconciles it – may be a deduction
// of its settlement at the national system, but the settlement's Deducts
// list (what the rule deduction≤fund-paid counts) only gets it once it is
// known to be accepted. Left out, a later GYU004 of the same settlement
// would be checked against too small a total and could take the
// deductions past the settlement's fund-paid amount. So a GYU004 leaves a
// mark, deductwait/<settle_no>/<message id> holding the sum of its
// deductions of that settlement, on each settlement it names before it is
// first sent, and removes the marks once its outcome is known. A later
// GYU004 whose check would fail with the marked amounts counted (and
// passes without them) waits, retryably and as a deliberate wait, like a
// stay waiting for its settlement: the condition resolves by itself once
// each marked message is reconciled on its own next attempt. When the
// check passes even with them counted, it does not depend on their outcome
// and the message goes on. A mark whose message is done, or never went
// out, holds nothing back.

// deductWaitPrefix is the prefix of settlement settleNo's marks.
func deductWaitPrefix(settleNo string) string { return "deductwait/" + settleNo + "/" }

// Two GYU004 of one settlement checked at the same instant (different Kafka
// keys, or instances) would each read the settlement's marks before the
// other marked itself, both pass deduction≤fund-paid and both go out. So
// each settlement has a gate, deductgate/<settle_no>, that every mark of
// the settlement moves (in the same sdk.WriteState, after the mark). A
// GYU004 reads the gate's version before it reads the marks
// (deductionsOpen) and marks itself with a compare-and-set of the gate on
// that version (markDeductions): a mark made since its check fails the
// compare-and-set, and the GYU004 waits (deductGateError), nothing sent;
// its next attempt counts the other one. Of two, the later to mark waits.

// deductGateKey is the gate of settlement settleNo.
func deductGateKey(settleNo string) string { return "deductgate/" + settleNo }

// deductGates is, in a GYU004's context, the version of each named
// settlement's gate read before its marks were read.
type deductGates struct{ ver map[string]int64 }

type deductGatesCtxKey struct{}

// withDeductGates returns ctx carrying an empty deductGates.
func withDeductGates(ctx context.Context) context.Context {
	return context.WithValue(ctx, deductGatesCtxKey{}, &deductGates{ver: map[string]int64{}})
}

func deductGatesOf(ctx context.Context) *deductGates {
	g, _ := ctx.Value(deductGatesCtxKey{}).(*deductGates)
	return g
}

// readDeductGate returns the version of settlement settleNo's gate (0:
// never marked) and notes it in ctx's deductGates, if any.
func readDeductGate(ctx context.Context, h sdk.Host, settleNo string) (int64, error) {
	ver, err := gateVersion(ctx, h, deductGateKey(settleNo))
	if err != nil {
		return 0, err
	}
	if g := deductGatesOf(ctx); g != nil {
		g.ver[settleNo] = ver
	}
	return ver, nil
}

// gateVersion returns the version of the gate kept at state key key, 0
// when it was never marked (the key does not exist).
func gateVersion(ctx context.Context, h sdk.Host, key string) (int64, error) {
	e, err := h.Get(ctx, key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read state %s: %w", key, err)
	}
	return e.Version, nil
}

// deductGateError says that another GYU004 of the settlement marked
// itself while this one was between its check and its send: its check did
// not count that one's deductions, so it is not sent now.
type deductGateError struct {
	field, settleNo string
}

func (e *deductGateError) Error() string {
	return fmt.Sprintf("rule deduction-outcomes-known: another audit deduction of settlement %s was sent while this one was being checked", e.settleNo)
}

// response is the retryable failure of a GYU004 that lost the settlement's
// gate, marked as a deliberate wait (it does not count towards the site's
// circuit breaker).
func (e *deductGateError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem(e.field, "state", e.Error(),
		"together they could exceed the settlement's fund-paid amount, so nothing was sent and medgate checks this message again by itself, counting the other one: "+
			"it is then sent, waits for the other one's outcome, or is answered invalid (rule deduction≤fund-paid)"))
}

// deductWaitMarks returns the marks of a GYU004 (key → the sum of its
// deductions of that settlement, two decimals), from its input.
func deductWaitMarks(msgID string, doc map[string]any) map[string]string {
	list, _ := doc["deductions"].([]any)
	sums := map[string]*sumOf{}
	for _, x := range list {
		r, _ := x.(map[string]any)
		sn := str(r, "settle_no")
		if sn == "" {
			continue
		}
		if sums[sn] == nil {
			sums[sn] = &sumOf{}
		}
		if amt, ok := dec(r, "deduct_amount"); ok && amt.Sign() > 0 {
			sums[sn].add(amt)
		}
	}
	marks := make(map[string]string, len(sums))
	for sn, s := range sums {
		marks[deductWaitPrefix(sn)+msgID] = money(s.rat())
	}
	return marks
}

// markDeductions marks a GYU004 on the settlements it names before it is
// sent, and moves each settlement's gate after its mark: with a
// compare-and-set on the version its check read (deductGates), so that a
// mark of another GYU004 made since fails it with a *deductGateError; with
// a plain write when the check did not run in this attempt (a resend after
// GYD053 found no trace: its marks were in place all along).
func markDeductions(ctx context.Context, h sdk.Host, msgID string, doc map[string]any) error {
	marks := deductWaitMarks(msgID, doc)
	g := deductGatesOf(ctx)
	for _, k := range slices.Sorted(maps.Keys(marks)) {
		sn := strings.TrimSuffix(strings.TrimPrefix(k, "deductwait/"), "/"+msgID)
		mark, err := encodeState(marks[k])
		if err != nil {
			return err
		}
		gate, err := encodeState(msgID)
		if err != nil {
			return err
		}
		w := []sdk.StateWrite{{Key: k, Value: mark, Put: true}, {Key: deductGateKey(sn), Value: gate, Put: true}}
		ver, checked := int64(0), false
		if g != nil {
			ver, checked = g.ver[sn]
		}
		if checked {
			w[1].Put, w[1].Expect = false, ver
		}
		if _, err := sdk.WriteState(ctx, h, w); err != nil {
			var we *sdk.WriteError
			if checked && errors.As(err, &we) && we.Index == 1 && errors.Is(err, sdk.ErrConflict) {
				return &deductGateError{field: deductField(doc, sn), settleNo: sn}
			}
			return fmt.Errorf("mark %s: %w", k, err)
		}
	}
	return nil
}

// deductField is the path of the settle_no of doc's last deduction of
// settlement sn.
func deductField(doc map[string]any, sn string) string {
	list, _ := doc["deductions"].([]any)
	at := "$.deductions"
	for i, x := range list {
		if r, _ := x.(map[string]any); str(r, "settle_no") == sn {
			at = fmt.Sprintf("$.deductions[%d].settle_no", i)
		}
	}
	return at
}

// unmarkDeductions removes a GYU004's or GYR004's marks once its outcome
// is known (deductmsg/, and a GYU004's deductwait/). A
// mark it cannot remove is harmless: the message's record is done.
func (a *Adapter) unmarkDeductions(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) {
	for _, k := range deductMsgKeys(msgID, code, doc) {
		if err := h.Delete(ctx, k); err != nil {
			a.log.Warn("cannot clear a deduction message's in-flight mark; it is ignored from now on", "code", code, "err", err)
		}
	}
	if code != "GYU004" {
		return
	}
	for k := range deductWaitMarks(msgID, doc) {
		if err := h.Delete(ctx, k); err != nil {
			a.log.Warn("cannot clear a deduction's in-flight mark on its settlement; it is ignored from now on", "code", code, "err", err)
		}
	}
}

// deductionsOpen returns the deductions of settlement settleNo sent by
// other messages whose outcome is not known yet: their sum and
// "<message id> (<code>, serial <serial>, <amount>)" for each.
func (l *lifecycle) deductionsOpen(settleNo string) (*big.Rat, []string, error) {
	// The gate first: a mark made after this read fails this message's
	// compare-and-set of the gate when it marks itself (markDeductions).
	if _, err := readDeductGate(l.ctx, l.h, settleNo); err != nil {
		return nil, nil, err
	}
	prefix := deductWaitPrefix(settleNo)
	es, err := l.h.Scan(l.ctx, prefix, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("read the deductions of settlement %s still without an outcome: %w", settleNo, err)
	}
	var sum sumOf
	var open []string
	for _, e := range es {
		// The rest of the key is the message id, which may hold slashes.
		id := strings.TrimPrefix(e.Key, prefix)
		if id == l.msgID {
			continue
		}
		var rec sentRecord
		ver, err := getJSON(l.ctx, l.h, "msg/"+id, &rec)
		if err != nil {
			return nil, nil, err
		}
		if ver == 0 || rec.Done {
			continue
		}
		var amount string
		if err := json.Unmarshal(e.Value, &amount); err != nil {
			return nil, nil, fmt.Errorf("state %s is not readable JSON: %w", e.Key, err)
		}
		sum.add(cents(amount))
		open = append(open, fmt.Sprintf("%s (%s, serial %s, %s)", id, rec.Code, rec.Serial, amount))
	}
	return sum.rat(), open, nil
}

// deductWaitError says that a GYU004 must wait for deductions of a
// settlement whose outcome is not known yet: with them the settlement's
// deductions would exceed its fund-paid amount, without them they would
// not.
type deductWaitError struct {
	field, settleNo string
	open            []string
	total, fund     string
}

func (e *deductWaitError) Error() string {
	return fmt.Sprintf("rule deduction-outcomes-known: with the deductions of settlement %s still without a known outcome (%s) its deductions would total %s, above its fund-paid amount %s",
		e.settleNo, strings.Join(e.open, ", "), e.total, e.fund)
}

// response is the retryable failure of a GYU004 that waits, marked as a
// deliberate wait (it does not count towards the site's circuit breaker).
func (e *deductWaitError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem(e.field, "state", e.Error(),
		"they may be deductions of the settlement at the national system, so nothing was sent and medgate tries this message again by itself; "+
			"each of them is reconciled with GYD053 on its own next attempt – if one of them is in the DLQ, replay it; "+
			"if it is accepted, this message is answered invalid (rule deduction≤fund-paid), if it is refused, this message is sent"))
}

// Two assistive-device settlements (GYU303) of one person at one
// institution that carry the same line (detail_no) must not both go out:
// a line is settled once (rule unique-detail-no), but the person's settled
// lines (devlines/) only get a settlement's lines once it is known to be
// accepted. Checked at the same instant, both would pass; and one sent
// with its answer lost (until GYD053 reconciles it) may have settled the
// lines. So, as a GYU103 marks itself on its visit, a GYU303 marks its
// lines in devwait/<akb020>/<person> (message id → detail numbers) before
// it is first sent, with a compare-and-set on the version its check read
// (markDeviceLines), and removes the mark once its outcome is known
// (unmarkSettling). A GYU303 whose lines are marked by another message
// without a known outcome waits (rule device-line-outcome-known); one that
// finds the marks changed since its check waits too (rule
// device-lines-unchanged), nothing sent, and its next attempt checks again
// with the other one counted. A mark whose message is done, or never went
// out, holds nothing back.

// deviceWaitKey is the state key of the in-flight device lines of a
// person (aac002) at an institution.
func deviceWaitKey(akb020, aac002 string) string {
	return "devwait/" + akb020 + "/" + personKey(aac002)
}

// deviceGate is, in a GYU303's context, the version of its devwait key
// that its check read (read: the check ran in this attempt).
type deviceGate struct {
	key  string
	ver  int64
	read bool
}

type deviceGateCtxKey struct{}

// withDeviceGate returns ctx carrying an empty deviceGate.
func withDeviceGate(ctx context.Context) context.Context {
	return context.WithValue(ctx, deviceGateCtxKey{}, &deviceGate{})
}

func deviceGateOf(ctx context.Context) *deviceGate {
	g, _ := ctx.Value(deviceGateCtxKey{}).(*deviceGate)
	return g
}

// deviceLineNos returns the detail numbers of a GYU303's items.
func deviceLineNos(doc map[string]any) []string {
	items, _ := doc["items"].([]any)
	var nos []string
	for _, x := range items {
		line, _ := x.(map[string]any)
		if no := str(line, "detail_no"); no != "" && !slices.Contains(nos, no) {
			nos = append(nos, no)
		}
	}
	return nos
}

// deviceLinesOpen reads the in-flight device lines of the person at
// akb020, noting the version read in ctx's deviceGate, and returns a
// *deviceWaitError when a line of doc is marked by another message whose
// outcome is not known yet.
func (l *lifecycle) deviceLinesOpen(akb020, aac002 string) (*deviceWaitError, error) {
	key := deviceWaitKey(akb020, aac002)
	var marks map[string][]string
	ver, err := getJSON(l.ctx, l.h, key, &marks)
	if err != nil {
		return nil, err
	}
	if g := deviceGateOf(l.ctx); g != nil {
		g.key, g.ver, g.read = key, ver, true
	}
	mine := deviceLineNos(l.doc)
	var lines, open []string
	for _, id := range slices.Sorted(maps.Keys(marks)) {
		if id == l.msgID {
			continue
		}
		var shared []string
		for _, no := range marks[id] {
			if slices.Contains(mine, no) && !slices.Contains(lines, no) {
				shared = append(shared, no)
			}
		}
		if len(shared) == 0 {
			continue
		}
		o, err := openOf(l.ctx, l.h, []string{id}, l.msgID)
		if err != nil {
			return nil, err
		}
		if len(o) > 0 {
			lines = append(lines, shared...)
			open = append(open, o...)
		}
	}
	if len(open) == 0 {
		return nil, nil
	}
	field := "$.items"
	items, _ := l.doc["items"].([]any)
	for i, x := range items {
		line, _ := x.(map[string]any)
		if slices.Contains(lines, str(line, "detail_no")) {
			field = fmt.Sprintf("$.items[%d].detail_no", i)
			break
		}
	}
	return &deviceWaitError{field: field, akb020: akb020, lines: lines, open: open}, nil
}

// markDeviceLines marks GYU303 msgID's lines in flight for its person at
// its institution before it is sent: with a compare-and-set on the version
// its check read (deviceGate), so that a mark (or unmark) of another
// GYU303 made since fails it with a *deviceChangedError; with a plain
// write when the check did not run in this attempt (a resend after GYD053
// found no trace: its mark was in place all along).
func markDeviceLines(ctx context.Context, h sdk.Host, msgID string, doc map[string]any) error {
	akb020, aac002 := str(doc, "akb020"), str(doc, "aac002")
	nos := deviceLineNos(doc)
	if akb020 == "" || aac002 == "" || len(nos) == 0 {
		return nil
	}
	key := deviceWaitKey(akb020, aac002)
	g := deviceGateOf(ctx)
	if g == nil || !g.read || g.key != key {
		return update(ctx, h, key, func(m *map[string][]string, _ bool) error {
			if *m == nil {
				*m = map[string][]string{}
			}
			(*m)[msgID] = nos
			return nil
		})
	}
	var marks map[string][]string
	ver, err := getJSON(ctx, h, key, &marks)
	if err != nil {
		return err
	}
	if ver != g.ver {
		return &deviceChangedError{akb020: akb020}
	}
	if marks == nil {
		marks = map[string][]string{}
	}
	marks[msgID] = nos
	nv, err := casJSON(ctx, h, key, g.ver, marks)
	if errors.Is(err, sdk.ErrConflict) {
		return &deviceChangedError{akb020: akb020}
	}
	if err != nil {
		return err
	}
	g.ver = nv
	return nil
}

// unmarkDeviceLines removes GYU303 msgID's mark once its outcome is known.
func unmarkDeviceLines(ctx context.Context, h sdk.Host, msgID string, doc map[string]any) error {
	akb020, aac002 := str(doc, "akb020"), str(doc, "aac002")
	if akb020 == "" || aac002 == "" {
		return nil
	}
	return update(ctx, h, deviceWaitKey(akb020, aac002), func(m *map[string][]string, exists bool) error {
		if _, ok := (*m)[msgID]; !exists || !ok {
			return errSkip
		}
		delete(*m, msgID)
		return nil
	})
}

// deviceChangedError says that the in-flight device lines of a GYU303's
// person at its institution changed between its check and its mark.
type deviceChangedError struct{ akb020 string }

func (e *deviceChangedError) Error() string {
	return fmt.Sprintf("rule device-lines-unchanged: another assistive-device settlement of this person at institution %s was marked or answered while this one was being checked", e.akb020)
}

// response is the retryable failure of a GYU303 whose person's device
// lines changed under its check, marked as a deliberate wait.
func (e *deviceChangedError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem("$.items", "state", e.Error(),
		"its check did not count that settlement, which may carry the same lines, so nothing was sent; medgate checks this message again by itself, with the other one counted"))
}

// deviceWaitError says that lines of a GYU303 are lines of another
// GYU303 of the person at the institution whose outcome is not known yet.
type deviceWaitError struct {
	field, akb020 string
	lines, open   []string
}

func (e *deviceWaitError) Error() string {
	return fmt.Sprintf("rule device-line-outcome-known: line(s) %s are also in an assistive-device settlement of this person at institution %s without a known outcome yet: %s",
		strings.Join(e.lines, ", "), e.akb020, strings.Join(e.open, ", "))
}

// response is the retryable failure of a GYU303 that waits, marked as a
// deliberate wait (it does not count towards the site's circuit breaker).
func (e *deviceWaitError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem(e.field, "state", e.Error(),
		"that settlement may have settled these lines at the national system, so nothing was sent and medgate tries this message again by itself; "+
			"it is reconciled with GYD053 on its own next attempt – if it is in the DLQ, replay it; "+
			"if it was accepted, this message is answered invalid (rule unique-detail-no), if it was refused, this message is sent"))
}

// A deduction's upload (GYU004) or revocation (GYR004) whose outcome is not
// known – in flight, or sent with its answer lost until GYD053 reconciles
// it – may have created or revoked the deduction at the national system,
// but deduct/<deduct_no> only records that once it is known. Checked
// meanwhile, a GYR004 of the deduction would be refused as never uploaded
// (while the deduction may stand and be reconciled as accepted), and a
// second GYR004, or a GYU004 of the same number, would be sent to be
// refused as a double revocation or a used number. So each GYU004 and
// GYR004 marks the deductions it names, deductmsg/<deduct_no>/<message
// id>, after its record and before it is first sent, and removes the marks
// once its outcome is known (unmarkDeductions); a GYR004 of a marked
// deduction, or a GYU004 of a marked number, waits (rule
// deduction-outcome-known) and is checked again once that outcome is
// known. A mark whose message is done, or never went out, holds nothing
// back. Two checked at the same instant may both go out: the national
// system refuses the second (E7006, E8008), nothing is done twice.

// deductMsgPrefix is the prefix of the marks on deduction no.
func deductMsgPrefix(no string) string { return "deductmsg/" + no + "/" }

// deductMsgKeys returns the marks of a GYU004 or GYR004 on the deductions
// it names.
func deductMsgKeys(msgID, code string, doc map[string]any) []string {
	if code != "GYU004" && code != "GYR004" {
		return nil
	}
	list, _ := doc["deductions"].([]any)
	var keys []string
	for _, x := range list {
		r, _ := x.(map[string]any)
		if no := str(r, "deduct_no"); no != "" && !slices.Contains(keys, deductMsgPrefix(no)+msgID) {
			keys = append(keys, deductMsgPrefix(no)+msgID)
		}
	}
	return keys
}

// markDeductMsgs marks a GYU004 or GYR004 on the deductions it names
// before it is sent.
func markDeductMsgs(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) error {
	keys := deductMsgKeys(msgID, code, doc)
	if len(keys) == 0 {
		return nil
	}
	v, err := encodeState(code)
	if err != nil {
		return err
	}
	w := make([]sdk.StateWrite, len(keys))
	for i, k := range keys {
		w[i] = sdk.StateWrite{Key: k, Value: v, Put: true}
	}
	if _, err := sdk.WriteState(ctx, h, w); err != nil {
		return fmt.Errorf("mark the deductions of message %s: %w", msgID, err)
	}
	return nil
}

// deductionMsgsOpen returns the uploads and revocations of deduction no,
// by messages other than self, whose outcome is not known yet.
func deductionMsgsOpen(ctx context.Context, h sdk.Host, no, self string) ([]string, error) {
	prefix := deductMsgPrefix(no)
	es, err := h.Scan(ctx, prefix, 0)
	if err != nil {
		return nil, fmt.Errorf("read the messages of deduction %s still without an outcome: %w", no, err)
	}
	ids := make([]string, 0, len(es))
	for _, e := range es {
		// The rest of the key is the message id, which may hold slashes.
		ids = append(ids, strings.TrimPrefix(e.Key, prefix))
	}
	return openOf(ctx, h, ids, self)
}

// deductionMsgWaitError says that a GYR004 of a deduction, or a GYU004 of
// its number, must wait for an upload or revocation of the deduction whose
// outcome is not known yet.
type deductionMsgWaitError struct {
	field, deductNo string
	open            []string
}

func (e *deductionMsgWaitError) Error() string {
	return fmt.Sprintf("rule deduction-outcome-known: an upload (GYU004) or revocation (GYR004) of deduction %s has no known outcome yet: %s", e.deductNo, strings.Join(e.open, ", "))
}

// response is the retryable failure of a message that waits, marked as a
// deliberate wait (it does not count towards the site's circuit breaker).
func (e *deductionMsgWaitError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem(e.field, "state", e.Error(),
		"its answer was lost or has not come yet, so whether the national system holds the deduction, or revoked it, is not known; nothing was sent and medgate tries this message again by itself. "+
			"That message is reconciled with GYD053 on its own next attempt – if it is in the DLQ, replay it; nothing else is to be done. "+
			"Once its outcome is known this message is checked again: sent if it still applies, else answered invalid (a deduction not uploaded or already revoked, a deduction number used)"))
}
