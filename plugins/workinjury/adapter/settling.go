package adapter

import (
	"context"
	"fmt"
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

// markSettling adds (add) or removes msgID in the Settling list of visit
// ykc700; a visit that does not exist is left alone.
func markSettling(ctx context.Context, h sdk.Host, ykc700, msgID string, add bool) error {
	if ykc700 == "" {
		return nil
	}
	return update(ctx, h, "visit/"+ykc700, func(v *visitState, exists bool) error {
		switch has := slices.Contains(v.Settling, msgID); {
		case !exists, add == has:
			return errSkip
		case add:
			v.Settling = append(v.Settling, msgID)
		default:
			v.Settling = slices.DeleteFunc(v.Settling, func(id string) bool { return id == msgID })
		}
		return nil
	})
}

// settling notes in l.wait the settlements of visit v (ykc700) still
// without a known outcome, other than the message's own.
func (l *lifecycle) settling(ykc700 string, v visitState) error {
	var open []string
	for _, id := range v.Settling {
		if id == l.msgID {
			continue
		}
		var rec sentRecord
		ver, err := getJSON(l.ctx, l.h, "msg/"+id, &rec)
		if err != nil {
			return err
		}
		if ver > 0 && !rec.Done {
			open = append(open, fmt.Sprintf("%s (%s, serial %s)", id, rec.Code, rec.Serial))
		}
	}
	if len(open) > 0 {
		l.wait = &settleWaitError{ykc700: ykc700, open: open}
	}
	return nil
}

// settleWaitError says that a message of a stay must wait for the stay's
// discharge settlement, whose outcome is not known yet.
type settleWaitError struct {
	ykc700 string
	open   []string
}

func (e *settleWaitError) Error() string {
	return fmt.Sprintf("rule settlement-outcome-known: the discharge settlement of visit %s has no known outcome yet: %s",
		e.ykc700, strings.Join(e.open, ", "))
}

// response is the retryable failure of a message that waits, marked as a
// deliberate wait (it does not count towards the site's circuit breaker).
func (e *settleWaitError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem("$.ykc700", "state", e.Error(),
		"it may have settled the stay at the national system, or be sent again as it is, so nothing was sent and medgate tries this message again by itself; "+
			"the settlement is reconciled with GYD053 on its own next attempt – if it is in the DLQ, replay it"))
}

// unmarkSettling removes a GYU103 from its visit's Settling list once its
// outcome is known. An entry it cannot remove is harmless: the message's
// record is done (or absent).
func (a *Adapter) unmarkSettling(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) {
	if code != "GYU103" {
		return
	}
	if err := markSettling(ctx, h, str(doc, "ykc700"), msgID, false); err != nil {
		a.log.Warn("cannot clear a settlement's in-flight mark on its visit; it is ignored from now on", "code", code, "err", err)
	}
}
