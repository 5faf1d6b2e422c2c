package adapter

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// A revocation whose outcome is not known – in flight, or sent with its
// answer lost until GYD053 reconciles it – may have revoked what it names
// at the national system, or not. Local state only records a revocation
// once it is known to be accepted, so a message checked meanwhile would be
// checked against the state before it: the same revocation under another
// message id would be sent and refused as a double revocation (E7002,
// E7003, E6102); an admission (GYU101) with the inpatient number a GYR002
// or GYR003 frees would be refused locally as a number in use, with the
// advice to revoke the admission that is being revoked; an admission
// revocation (GYR002) after a GYR001 of every fee line would be refused
// because the lines are still valid here. So, as a settlement marks its
// stay (settling.go), a revocation marks what it revokes before it is
// first sent and removes the mark once its outcome is known
// (unmarkSettling):
//
//	GYR001  the visit's Revoking list (settling.go, markRevokingChecked)
//	GYR002  the visit's Unadmitting list (markRevocation)
//	GYR003  the settlement's Revoking list (markRevocation)
//
// and the messages that depend on its outcome wait, retryably and as a
// deliberate wait, with rule revocation-outcome-known: a GYR001 or GYR002
// of a visit with a GYR001 or GYR002 without a known outcome, a GYR003 of
// a settlement with one, a GYU101 whose inpatient number is held by a
// visit with one (its admission or its settlement being revoked). Each
// goes on by its own rules once the revocation is reconciled on its own
// next attempt. A GYR002 or GYR003 marks itself with a compare-and-set
// that checks the list again, so two checked at the same instant do not
// both go out. A mark whose message is done, or never went out, holds
// nothing back.

// revokeWaitError says that a message depends on the outcome of a
// revocation that is not known yet.
type revokeWaitError struct {
	field string
	// what is the revocation waited for ("the settlement revocation
	// (GYR003) of settlement …"); open its messages; then what happens
	// to this message once the outcome is known.
	what, then string
	open       []string
}

func (e *revokeWaitError) Error() string {
	return fmt.Sprintf("rule revocation-outcome-known: %s has no known outcome yet: %s", e.what, strings.Join(e.open, ", "))
}

// response is the retryable failure of a message that waits, marked as a
// deliberate wait (it does not count towards the site's circuit breaker).
func (e *revokeWaitError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem(e.field, "state", e.Error(),
		"its answer was lost or has not come yet, so whether it revoked anything at the national system is not known; nothing was sent and medgate tries this message again by itself. "+
			"The revocation is reconciled with GYD053 on its own next attempt – if it is in the DLQ, replay it; nothing else is to be done. "+e.then))
}

// revocationsOpen returns the revocations of visit v (the admission,
// GYR002; the settlement, GYR003) still without a known outcome, other
// than the message's own, and what they are.
func (l *lifecycle) revocationsOpen(ykc700 string, v visitState) (string, []string, error) {
	open, err := openOf(l.ctx, l.h, v.Unadmitting, l.msgID)
	if err != nil || len(open) > 0 {
		return "the admission revocation (GYR002) of visit " + ykc700, open, err
	}
	if v.SettleNo == "" {
		return "", nil, nil
	}
	var s settleState
	if _, err := getJSON(l.ctx, l.h, "settle/"+v.SettleNo, &s); err != nil {
		return "", nil, err
	}
	open, err = openOf(l.ctx, l.h, s.Revoking, l.msgID)
	return "the settlement revocation (GYR003) of settlement " + v.SettleNo + " (visit " + ykc700 + ")", open, err
}

// revocationList picks the list a GYR002 or GYR003 marks itself on: its
// state key and the list in that value.
func revocationList(code string, doc map[string]any) (string, func(v any) *[]string) {
	switch code {
	case "GYR002":
		if y := str(doc, "ykc700"); y != "" {
			return "visit/" + y, func(v any) *[]string { return &v.(*visitState).Unadmitting }
		}
	case "GYR003":
		if no := str(doc, "settle_no"); no != "" {
			return "settle/" + no, func(v any) *[]string { return &v.(*settleState).Revoking }
		}
	}
	return "", nil
}

// markRevocation marks a GYR002 on its visit, a GYR003 on its settlement,
// before it is sent; another revocation of the same marked there without a
// known outcome (one that marked itself since this one's check) fails it
// with a *revokeWaitError, nothing marked. A visit or settlement that does
// not exist is left alone.
func markRevocation(ctx context.Context, h sdk.Host, code, msgID string, doc map[string]any) error {
	key, list := revocationList(code, doc)
	if key == "" {
		return nil
	}
	if code == "GYR002" {
		return markRevocationOn[visitState](ctx, h, key, msgID, list, "the admission revocation (GYR002) of visit "+str(doc, "ykc700"), "$.ykc700")
	}
	return markRevocationOn[settleState](ctx, h, key, msgID, list, "the settlement revocation (GYR003) of settlement "+str(doc, "settle_no"), "$.settle_no")
}

func markRevocationOn[T any](ctx context.Context, h sdk.Host, key, msgID string, list func(any) *[]string, what, field string) error {
	var wait *revokeWaitError
	err := update(ctx, h, key, func(v *T, exists bool) error {
		l := list(v)
		if !exists || slices.Contains(*l, msgID) {
			return errSkip
		}
		open, err := openOf(ctx, h, *l, msgID)
		if err != nil {
			return err
		}
		if len(open) > 0 {
			wait = &revokeWaitError{field: field, what: what, open: open, then: alreadyRevokedThen}
			return errSkip
		}
		*l = append(*l, msgID)
		return nil
	})
	if err == nil && wait != nil {
		return wait
	}
	return err
}

// unmarkRevocation removes a GYR002 or GYR003 from the list it marked
// itself on (markRevocation).
func unmarkRevocation(ctx context.Context, h sdk.Host, code, msgID string, doc map[string]any) error {
	key, list := revocationList(code, doc)
	switch {
	case key == "":
		return nil
	case code == "GYR002":
		return unmarkRevocationOn[visitState](ctx, h, key, msgID, list)
	}
	return unmarkRevocationOn[settleState](ctx, h, key, msgID, list)
}

func unmarkRevocationOn[T any](ctx context.Context, h sdk.Host, key, msgID string, list func(any) *[]string) error {
	return update(ctx, h, key, func(v *T, exists bool) error {
		l := list(v)
		if !exists || !slices.Contains(*l, msgID) {
			return errSkip
		}
		*l = slices.DeleteFunc(*l, func(id string) bool { return id == msgID })
		return nil
	})
}

// alreadyRevokedThen is what happens to a revocation that waits for
// another revocation of the same.
const alreadyRevokedThen = "If that revocation was accepted, this message is answered invalid (already revoked: nothing to do); if it was refused, this message is sent."
