package adapter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// The monthly settlement (GYU003) must list exactly an institution's
// records of the month, and the adapter checks it against the month index
// (month/<akb020>/<yyyyMM>), which an upload joins only once its outcome is
// known to be a success. An upload whose outcome is not known yet – in
// flight, or sent with its answer lost until GYD053 reconciles it – may
// well be a record of the month at the national system. So each upload that
// adds to a month (GYU103, GYU303, GYR003, GYU004, GYR004) leaves a mark,
// monthwait/<akb020>/<yyyyMM>/<message id>, after its record and before it
// is first sent, and a GYU003 of that institution and month does not go out
// while a marked message's record (msg/<id>) has no outcome. The mark is removed once the
// outcome is known; one left behind (a crash in between, or a message that
// never went out) is recognised by its message's record, which is done or
// absent, and does not hold GYU003 back.

// monthRef is a month an upload adds to: institution akb020's month
// (yyyyMM), from the time at JSON path path of the upload.
type monthRef struct{ akb020, month, path string }

// monthsOf returns the institutions' months an upload adds to (GYU103,
// GYU303, GYR003, GYU004, GYR004), computed from its input and, as the
// month index has them, from the visit (GYU103), settlements (GYR003,
// GYU004) and deductions (GYR004) it refers to.
func monthsOf(ctx context.Context, h sdk.Host, code string, doc map[string]any) ([]monthRef, error) {
	var refs []monthRef
	add := func(akb020, t, path string) {
		if m := monthOf(t); akb020 != "" && m != "" {
			refs = append(refs, monthRef{akb020: akb020, month: m, path: path})
		}
	}
	switch code {
	case "GYU103":
		var v visitState
		if _, err := getJSON(ctx, h, "visit/"+str(doc, "ykc700"), &v); err != nil {
			return nil, err
		}
		add(v.AKB020, str(doc, "settle_time"), "$.settle_time")
	case "GYU303":
		add(str(doc, "akb020"), str(doc, "settle_time"), "$.settle_time")
	case "GYR003":
		s, err := settlementInst(ctx, h, str(doc, "settle_no"), str(doc, "akb020"))
		if err != nil {
			return nil, err
		}
		add(s, str(doc, "revoke_time"), "$.revoke_time")
	case "GYU004":
		list, _ := doc["deductions"].([]any)
		for i, x := range list {
			r, _ := x.(map[string]any)
			s, err := settlementInst(ctx, h, str(r, "settle_no"), str(r, "akb020"))
			if err != nil {
				return nil, err
			}
			add(s, str(r, "deduct_time"), fmt.Sprintf("$.deductions[%d].deduct_time", i))
		}
	case "GYR004":
		list, _ := doc["deductions"].([]any)
		for _, x := range list {
			r, _ := x.(map[string]any)
			var st deductState
			if _, err := getJSON(ctx, h, "deduct/"+str(r, "deduct_no"), &st); err != nil {
				return nil, err
			}
			add(st.AKB020, str(doc, "revoke_time"), "$.revoke_time")
		}
	}
	return refs, nil
}

// monthWaitKeys returns the marks of an upload that adds to institutions'
// months (monthsOf).
func monthWaitKeys(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) ([]string, error) {
	refs, err := monthsOf(ctx, h, code, doc)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, r := range refs {
		if k := "monthwait/" + r.akb020 + "/" + r.month + "/" + msgID; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// settlementInst is the institution of settlement no, as the month index
// records a revocation or deduction of it (the settlement's, not the akb020
// a message may carry or leave out); given when the settlement is not
// known here.
func settlementInst(ctx context.Context, h sdk.Host, no, given string) (string, error) {
	var s settleState
	if _, err := getJSON(ctx, h, "settle/"+no, &s); err != nil {
		return "", err
	}
	if s.AKB020 != "" {
		return s.AKB020, nil
	}
	return given, nil
}

// A GYU003 checks the marks of its month, then is sent; an upload marks
// its month, then is sent. Run at the same instant, the GYU003 may check
// before the mark and send after it: both go out. So each month has a gate,
// monthgate/<akb020>/<yyyyMM>, whose version every mark of the month bumps
// (in the same sdk.WriteState as the mark, after it). The GYU003 reads the
// gate's version before it checks the marks (monthly) and, right before it
// is sent, compare-and-sets the gate on that version (passMonthGate): a
// mark made since fails the compare-and-set, and the GYU003 is tried again
// (retryably), nothing sent. An upload marks its months after it wrote its
// record, so a GYU003 that sees a mark sees the record too. An upload whose
// mark comes after the GYU003's compare-and-set finds the GYU003's claim of
// the month when it reads the claims after marking (monthsStillOpen), and
// is not sent.

// monthGateKey is the gate of institution akb020's month m.
func monthGateKey(akb020, m string) string { return "monthgate/" + akb020 + "/" + m }

// monthGate is, in a GYU003's context, the version of its month's gate
// read before the marks were checked.
type monthGate struct {
	key  string
	ver  int64
	read bool
}

type monthGateCtxKey struct{}

// withMonthGate returns ctx carrying an empty monthGate.
func withMonthGate(ctx context.Context) context.Context {
	return context.WithValue(ctx, monthGateCtxKey{}, &monthGate{})
}

func monthGateOf(ctx context.Context) *monthGate {
	g, _ := ctx.Value(monthGateCtxKey{}).(*monthGate)
	return g
}

// readMonthGate returns the version of the month's gate (0: never marked)
// and notes it in ctx's monthGate, if any.
func readMonthGate(ctx context.Context, h sdk.Host, akb020, m string) (int64, error) {
	key := monthGateKey(akb020, m)
	ver, err := gateVersion(ctx, h, key)
	if err != nil {
		return 0, err
	}
	if g := monthGateOf(ctx); g != nil {
		g.key, g.ver, g.read = key, ver, true
	}
	return ver, nil
}

// passMonthGate is the last step of a GYU003 before it is recorded and
// sent: the compare-and-set of its month's gate on the version read before
// its marks were checked. It returns the response to give when the GYU003
// may not be sent now (a mark made since, or, when the marks were not
// checked in this attempt, an upload of the month without an outcome), nil
// to send.
func (a *Adapter) passMonthGate(ctx context.Context, h sdk.Host, c *siteConfig, msgID, code string, doc map[string]any) *sdk.HandleResponse {
	akb020, m := str(doc, "akb020"), str(doc, "settle_month")
	key := monthGateKey(akb020, m)
	g := monthGateOf(ctx)
	ver := int64(0)
	if g != nil && g.read && g.key == key {
		ver = g.ver
	} else {
		// The rules did not run in this attempt (a resend after GYD053
		// found no trace of the earlier one): check the marks here.
		var err error
		if ver, err = readMonthGate(ctx, h, akb020, m); err != nil {
			return failed(true, "state", "cannot read the month's gate before sending the monthly settlement (nothing was sent)", err.Error())
		}
		open, err := monthOpen(ctx, h, akb020, m)
		if err != nil {
			return failed(true, "state", "cannot read the uploads of the month before sending the monthly settlement (nothing was sent)", err.Error())
		}
		if len(open) > 0 {
			return (&monthWaitError{akb020: akb020, month: m, open: open}).response()
		}
	}
	if err := a.at("monthly-checked"); err != nil {
		return failed(true, "state", "stopped before sending the monthly settlement (nothing was sent)", err.Error())
	}
	_, err := casJSON(ctx, h, key, ver, msgID)
	if err == nil {
		if err := a.at("monthly-passed"); err != nil {
			return failed(true, "state", "stopped after passing the month's gate (nothing was sent)", err.Error())
		}
	}
	if err != nil {
		if !errors.Is(err, sdk.ErrConflict) {
			return failed(true, "state", "cannot pass the month's gate before sending the monthly settlement (nothing was sent)", err.Error())
		}
		a.forget(ctx, h, msgID, code, doc)
		a.log.Info("an upload of the month was marked while the monthly settlement was checked; nothing sent, retried", "site", c.code,
			"message", msgID, "akb020", akb020, "month", m)
		return sdk.Wait(sdk.Problem("$.settle_month", "state",
			fmt.Sprintf("rule month-outcomes-known: an upload of institution %s's %s was made while this monthly settlement was being checked", akb020, m),
			"it may be a record of the month at the national system, so nothing was sent; medgate checks this monthly settlement again on its next attempt"))
	}
	return nil
}

// markMonths marks an upload's months before it is first sent, and bumps
// each month's gate after its mark.
func (a *Adapter) markMonths(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) error {
	keys, err := monthWaitKeys(ctx, h, msgID, code, doc)
	if err != nil {
		return err
	}
	for _, k := range keys {
		mark, err := encodeState(code)
		if err != nil {
			return err
		}
		gate, err := encodeState(msgID)
		if err != nil {
			return err
		}
		month := strings.TrimSuffix(strings.TrimPrefix(k, "monthwait/"), "/"+msgID)
		if _, err := sdk.WriteState(ctx, h, []sdk.StateWrite{{Key: k, Value: mark, Put: true}, {Key: "monthgate/" + month, Value: gate, Put: true}}); err != nil {
			return fmt.Errorf("mark %s: %w", k, err)
		}
	}
	return nil
}

// unmarkMonths removes an upload's marks once its outcome is known. A mark
// it cannot remove is harmless: the message's record is done.
func (a *Adapter) unmarkMonths(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) {
	keys, err := monthWaitKeys(ctx, h, msgID, code, doc)
	if err != nil {
		a.log.Warn("cannot find an upload's month marks; they are ignored from now on", "code", code, "err", err)
		return
	}
	for _, k := range keys {
		if err := h.Delete(ctx, k); err != nil {
			a.log.Warn("cannot remove an upload's month mark; it is ignored from now on", "code", code, "err", err)
		}
	}
}

// monthOpen returns the uploads of an institution's month whose outcome
// is not known yet ("<message id> (<code>, serial <serial>)"), which a
// GYU003 of the month waits for.
func monthOpen(ctx context.Context, h sdk.Host, akb020, m string) ([]string, error) {
	prefix := "monthwait/" + akb020 + "/" + m + "/"
	es, err := h.Scan(ctx, prefix, 0)
	if err != nil {
		return nil, fmt.Errorf("read the uploads of %s's %s still without an outcome: %w", akb020, m, err)
	}
	var open []string
	for _, e := range es {
		// The rest of the key is the message id, which may hold slashes.
		id := strings.TrimPrefix(e.Key, prefix)
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

// monthWaitError says that a monthly settlement (GYU003) must wait for
// uploads of its month whose outcome is not known yet. It is not a fault
// of the message: the condition resolves by itself once each of them is
// reconciled (GYD053) on its own next attempt, so the message fails
// retryably instead of being answered invalid, and the host tries it again
// (see the README, "GYU003 waits for unknown outcomes"). It answers
// sdk.Wait, not sdk.Retry: nothing was asked of the national system, so
// the wait must not count towards the site's circuit breaker, which would
// otherwise hold back every work-injury message of the site.
type monthWaitError struct {
	akb020, month string
	open          []string
}

func (e *monthWaitError) Error() string {
	return fmt.Sprintf("rule month-outcomes-known: %d upload(s) of institution %s in %s have no known outcome yet: %s",
		len(e.open), e.akb020, e.month, strings.Join(e.open, ", "))
}

// response is the retryable failure of a GYU003 that waits, marked as a
// deliberate wait.
func (e *monthWaitError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem("$.settle_month", "state", e.Error(),
		"they may be records of the month at the national system, so nothing was sent and medgate tries this monthly settlement again by itself; "+
			"each of them is reconciled with GYD053 on its own next attempt – if one of them is in the DLQ, replay it"))
}

// A month is settled once per institution (GYU003), so a record dated into
// a month already settled – a settlement, settlement revocation, deduction
// or deduction revocation whose time falls in it – can never be part of a
// monthly settlement: the national system refuses it, or takes it and it
// is never cleared. Such an upload is refused before it is sent (rule
// month-not-settled, invalid): a record belongs to the month it happens
// in, so a late revocation or deduction is dated in an open month. While a
// GYU003 of the month has no outcome yet (claimed, monthdone/…, not done)
// the upload waits instead, since that GYU003 may yet be refused.
//
// The rules check this (monthsNotSettled), and, since a GYU003 may claim
// the month between an upload's check and its send, the upload checks the
// claims again after it marked its months (monthsStillOpen). A GYU003
// claims its month, then compare-and-sets the month's gate; an upload
// writes its record, then marks its months (moving the gate), then reads
// the claims. Whichever goes second sees the other: the GYU003's
// compare-and-set fails, or the upload finds the claim.

// monthClaimError says that a month an upload adds to is settled (done),
// or being settled by a GYU003 without an outcome yet.
type monthClaimError struct {
	ref  monthRef
	cl   claimState
	done bool
}

func (e *monthClaimError) Error() string {
	if e.done {
		return fmt.Sprintf("rule month-not-settled: institution %s's %s is already settled (monthly settlement %s), and this record is dated in it", e.ref.akb020, e.ref.month, e.cl.Ref)
	}
	return fmt.Sprintf("rule month-not-settled: institution %s's %s is being settled (monthly settlement message %s, without an outcome yet), and this record is dated in it", e.ref.akb020, e.ref.month, e.cl.MessageID)
}

// detail says how to fix a record of a settled month.
func (e *monthClaimError) detail() string {
	return "an institution settles each month once (GYU003), so a record dated in a settled month would never be part of a monthly settlement and never cleared; " +
		"nothing was sent: date the record in the month it really happens (a revocation or deduction made now belongs to the current month), " +
		"or, if its time is right, ask the social-security agency how to carry it into an open month"
}

// response is the reply of an upload that meets the claim: invalid when
// the month is settled, else a deliberate wait for the GYU003's outcome.
func (e *monthClaimError) response() *sdk.HandleResponse {
	if e.done {
		return sdk.Invalid(sdk.Problem(e.ref.path, "state", e.Error(), e.detail()))
	}
	return sdk.Wait(sdk.Problem(e.ref.path, "state", e.Error(),
		"nothing was sent; medgate tries this message again by itself: it is sent if that monthly settlement is refused, and answered invalid if it is accepted"))
}

// monthClaims returns, for each month an upload adds to that a GYU003
// other than msgID has claimed, the claim: settled ones first.
func monthClaims(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) ([]*monthClaimError, error) {
	refs, err := monthsOf(ctx, h, code, doc)
	if err != nil {
		return nil, err
	}
	var out []*monthClaimError
	seen := map[monthRef]bool{}
	for _, r := range refs {
		if seen[r] {
			continue
		}
		seen[r] = true
		var cl claimState
		ver, err := getJSON(ctx, h, "monthdone/"+r.akb020+"/"+r.month, &cl)
		if err != nil {
			return nil, err
		}
		if ver == 0 || cl.Revoked || cl.MessageID == msgID {
			continue
		}
		out = append(out, &monthClaimError{ref: r, cl: cl, done: cl.Done})
	}
	slices.SortStableFunc(out, func(a, b *monthClaimError) int {
		switch {
		case a.done == b.done:
			return 0
		case a.done:
			return -1
		}
		return 1
	})
	return out, nil
}

// monthsNotSettled checks, in the rules, that no month the message adds
// to is settled (an error each) or being settled (l.mwait).
func (l *lifecycle) monthsNotSettled(code string) error {
	claims, err := monthClaims(l.ctx, l.h, l.msgID, code, l.doc)
	if err != nil {
		return err
	}
	for _, e := range claims {
		if e.done {
			l.fail(e.ref.path, "state", e.Error(), e.detail())
		} else if l.mwait == nil {
			l.mwait = e
		}
	}
	return nil
}

// monthsStillOpen checks again, once an upload marked its months, that no
// GYU003 claimed one of them meanwhile. It returns the reply to give (the
// upload's record and marks undone, nothing sent), nil to send.
func (a *Adapter) monthsStillOpen(ctx context.Context, h sdk.Host, c *siteConfig, key, serial, msgID, code string, doc map[string]any) *sdk.HandleResponse {
	claims, err := monthClaims(ctx, h, msgID, code, doc)
	if err != nil {
		return failed(true, "state", "cannot read the monthly settlements of the upload's months before sending (nothing was sent; the next attempt reconciles serial "+serial+")", err.Error())
	}
	if len(claims) == 0 {
		return nil
	}
	a.unsend(ctx, h, c, key, serial, msgID, code, doc)
	a.log.Info("a month of the upload was claimed by its monthly settlement while the upload was checked; nothing sent", "site", c.code,
		"message", msgID, "code", code, "akb020", claims[0].ref.akb020, "month", claims[0].ref.month, "settled", claims[0].done)
	return claims[0].response()
}
