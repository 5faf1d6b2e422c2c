package adapter

import (
	"fmt"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// maxEarlierCorrections bounds the corrections of one field a card keeps
// before its last one (cardRecord.EarlierRenames, EarlierPhones), so that
// a message that made one of them, handled again after later ones (a
// failed message replayed from the DLQ with its id), is known by its id.
// A field corrected more often than this is not expected; a message older
// than the ones kept is still never applied over a later one (see
// correction.order).
const maxEarlierCorrections = 16

// correction is what a card keeps of one correction of a field
// (ecard.rename, ecard.phone.correct).
type correction struct {
	// By is the id of the message that made it.
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Value is the value it set, masked (for the reply and the event of
	// the message handled again after a later correction); empty in notes
	// written before it was kept.
	Value string `json:"value,omitempty"`
	// Received is when the host first received the message
	// (sdk.HandleRequest.ReceivedAt; the time of the correction from a host
	// that does not send it); zero in notes written before it was kept.
	Received time.Time `json:"received,omitzero"`
}

// note returns c; renameNote and phoneNote have it by embedding.
func (c correction) note() correction { return c }

// order is the time corrections of a field are ordered by: when the host
// received the message, or for a note written before that was kept, when
// the correction was made (no earlier than its message was received).
func (c correction) order() time.Time {
	if !c.Received.IsZero() {
		return c.Received
	}
	return c.At
}

// noted is a note of one correction: renameNote or phoneNote.
type noted interface{ note() correction }

// noteBy returns the note of the correction message id made among a card's
// last correction of a field and the earlier ones.
func noteBy[N noted](last *N, earlier []N, id string) (N, bool) {
	if last != nil && (*last).note().By == id {
		return *last, true
	}
	for _, n := range earlier {
		if n.note().By == id {
			return n, true
		}
	}
	var none N
	return none, false
}

// addNote makes n the last correction of a field, keeping the one it
// follows among the earlier ones (at most maxEarlierCorrections, the
// oldest dropped).
func addNote[N noted](last **N, earlier *[]N, n N) {
	if *last != nil {
		kept := append(*earlier, **last)
		if len(kept) > maxEarlierCorrections {
			kept = append([]N(nil), kept[len(kept)-maxEarlierCorrections:]...)
		}
		*earlier = kept
	}
	*last = &n
}

// supersededBy returns the card's last correction of a field, or the last
// message that confirmed its value (confirmed), when it came from a message
// received after this one (received): applying this one would roll the
// field back to an older value.
func supersededBy[N noted](last *N, confirmed *correction, received time.Time) (correction, bool) {
	var c correction
	if last != nil {
		c = (*last).note()
	}
	if confirmed != nil && confirmed.order().After(c.order()) {
		c = *confirmed
	}
	return c, c.By != "" && c.order().After(received)
}

// confirms reports whether a correction received at received that finds
// the field as it asks should be kept as its confirmation: it is newer than
// the field's last correction and confirmation, so a correction received
// before it must not change the field afterwards.
func confirms[N noted](last *N, confirmed *correction, received time.Time) bool {
	_, older := supersededBy(last, confirmed, received)
	if older {
		return false
	}
	return confirmed == nil || received.After(confirmed.order())
}

// received is when the host first received the message being handled, the
// order of corrections (now from a host that does not send it).
func (h handler) received(now time.Time) time.Time {
	if !h.req.ReceivedAt.IsZero() {
		return h.req.ReceivedAt.UTC()
	}
	return now
}

// superseded refuses a correction of field (what: "name", "phone") on card
// cardNo received before the card's last correction of it, later: nothing
// is written, so the card keeps the later value.
func superseded(field, what, cardNo string, later correction, received time.Time) *sdk.HandleResponse {
	set := ""
	if later.Value != "" {
		set = " to " + later.Value
	}
	return sdk.Invalid(sdk.Diagnostic{Field: field, Rule: "superseded",
		Summary: zhSummary(field, "superseded", fmt.Sprintf("a later correction of the %s on card %s (message %s, received %s) set it%s; this message was received at %s, before it, and is not applied",
			what, cardNo, later.By, later.order().Format(time.RFC3339), set, received.Format(time.RFC3339))),
		Detail: fmt.Sprintf("nothing was changed, so the card keeps the later %s; if this %s is the right one after all, send a new correction with it (ecard.get shows the card as it is)", what, what)})
}

// replayedNote is the warning of a correction message handled again after
// a later correction of the same field: it answers as it did, and the card
// keeps the later value.
func replayedNote(field, what, cardNo string, later correction) sdk.Diagnostic {
	return sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: field, Rule: "superseded",
		Summary: fmt.Sprintf("this message corrected the %s on card %s before; a later correction (message %s) changed it again and stands", what, cardNo, later.By),
		Detail:  fmt.Sprintf("nothing was changed now; the reply's %s is the card's current one (ecard.get shows it)", what)}
}
