package adapter

import (
	"context"
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
// monthwait/<akb020>/<yyyyMM>/<message id>, before it is first sent, and a
// GYU003 of that institution and month does not go out while a marked
// message's record (msg/<id>) has no outcome. The mark is removed once the
// outcome is known; one left behind (a crash in between, or a message that
// never went out) is recognised by its message's record, which is done or
// absent, and does not hold GYU003 back.

// monthWaitKeys returns the marks of an upload that adds to institutions'
// months, computed from its input and, as the month index has them, from
// the visit (GYU103), settlements (GYR003, GYU004) and deductions (GYR004)
// it refers to.
func monthWaitKeys(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) ([]string, error) {
	var keys []string
	add := func(akb020, t string) {
		if m := monthOf(t); akb020 != "" && m != "" {
			if k := "monthwait/" + akb020 + "/" + m + "/" + msgID; !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	switch code {
	case "GYU103":
		var v visitState
		if _, err := getJSON(ctx, h, "visit/"+str(doc, "ykc700"), &v); err != nil {
			return nil, err
		}
		add(v.AKB020, str(doc, "settle_time"))
	case "GYU303":
		add(str(doc, "akb020"), str(doc, "settle_time"))
	case "GYR003":
		s, err := settlementInst(ctx, h, str(doc, "settle_no"), str(doc, "akb020"))
		if err != nil {
			return nil, err
		}
		add(s, str(doc, "revoke_time"))
	case "GYU004":
		list, _ := doc["deductions"].([]any)
		for _, x := range list {
			r, _ := x.(map[string]any)
			s, err := settlementInst(ctx, h, str(r, "settle_no"), str(r, "akb020"))
			if err != nil {
				return nil, err
			}
			add(s, str(r, "deduct_time"))
		}
	case "GYR004":
		list, _ := doc["deductions"].([]any)
		for _, x := range list {
			r, _ := x.(map[string]any)
			var st deductState
			if _, err := getJSON(ctx, h, "deduct/"+str(r, "deduct_no"), &st); err != nil {
				return nil, err
			}
			add(st.AKB020, str(doc, "revoke_time"))
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

// markMonths marks an upload's months before it is first sent.
func (a *Adapter) markMonths(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) error {
	keys, err := monthWaitKeys(ctx, h, msgID, code, doc)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := putJSON(ctx, h, k, code); err != nil {
			return err
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
// retryably (sdk.Retry) instead of being answered invalid, and the host
// tries it again (see the README, "GYU003 waits for unknown outcomes").
type monthWaitError struct {
	akb020, month string
	open          []string
}

func (e *monthWaitError) Error() string {
	return fmt.Sprintf("rule month-outcomes-known: %d upload(s) of institution %s in %s have no known outcome yet: %s",
		len(e.open), e.akb020, e.month, strings.Join(e.open, ", "))
}

// response is the retryable failure of a GYU003 that waits.
func (e *monthWaitError) response() *sdk.HandleResponse {
	return sdk.Retry(sdk.Problem("$.settle_month", "state", e.Error(),
		"they may be records of the month at the national system, so nothing was sent and medgate tries this monthly settlement again by itself; "+
			"each of them is reconciled with GYD053 on its own next attempt – if one of them is in the DLQ, replay it"))
}
