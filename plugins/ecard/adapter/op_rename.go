package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
)

// OpRename corrects the name stored on a card: a typo at the first
// registration, or a name changed since.
const OpRename = "ecard.rename"

// EventRenamed is published when a card's name is corrected, so that the
// HIS reads the identity again (ecard.get). It holds masked names only.
const EventRenamed = "ecard.renamed"

// renamePayload is the input of ecard.rename.
type renamePayload struct {
	CardNo string `json:"cardNo"`
	// IDNumber is the document number on the card (for a newborn's card,
	// the guardian's): the clerk holds the document, and a card number
	// alone, printed on every label, renames nobody.
	IDNumber string `json:"idNumber"`
	Name     string `json:"name"`
	Reason   string `json:"reason"`
}

// renameReply is the payload of a successful ecard.rename: the card,
// masked, with the name it had before, masked.
type renameReply struct {
	cardView
	PreviousName string `json:"previousName"`
	// Renamed is false when the card had the name already.
	Renamed bool `json:"renamed"`
}

// renameNote records a correction of a card's name: the message that made
// it, when, the name it set and the name before it, masked (for the reply
// to a redelivery of that message).
type renameNote struct {
	correction
	PreviousName string `json:"previousName"`
}

// rename serves ecard.rename. The name is replaced on the card record; the
// old one, masked as all personal data in the journal, is kept in the
// journal entry (code rename, serial the card number) with the reason.
// The identity key does not change: the person is keyed by the ID number,
// not by the name. A revoked card is not renamed.
func (h handler) rename(ctx context.Context) (*sdk.HandleResponse, error) {
	start := h.a.now()
	var p renamePayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	p.CardNo = h.readCardNo(strings.TrimSpace(halfWidth(p.CardNo)))
	p.IDNumber = card.NormalizeIDNumber(halfWidth(p.IDNumber))
	p.Name = strings.TrimSpace(p.Name)
	p.Reason = strings.TrimSpace(p.Reason)
	ds := checkNumber("$.cardNo", "cardNo", p.CardNo)
	if p.IDNumber == "" {
		ds.Error("$.idNumber", "required", zhSummary("$.idNumber", "required", "idNumber is required"),
			"give the document number registered with the card (for a newborn's card, the guardian's), from the document the patient shows")
	}
	if fe := card.ValidateName("$.name", p.Name); fe != nil {
		s, d := splitMessage(fe.Message)
		ds.Error(fe.Field, fe.Rule, zhSummary(fe.Field, fe.Rule, s), d)
	}
	ds = append(ds, checkReason(p.Reason, `say why the name is corrected, e.g. "typo at registration" or "name changed"`)...)
	if ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	p.Reason = pii.Text(p.Reason)

	var refused *sdk.HandleResponse
	var previous string
	renamed := false
	var made *renameNote  // this message's correction, made now or before
	var later *correction // a later correction that stands over it
	now := h.a.now().UTC().Truncate(time.Second)
	received := h.received(now)
	rec, err := updateCard(ctx, h.host(), p.CardNo, func(r *cardRecord) bool {
		refused, renamed, previous, made, later = nil, false, "", nil, nil
		switch {
		case cardIDNumber(r) != p.IDNumber:
			refused, _ = invalid("$.idNumber", "mismatch", zhSummary("$.idNumber", "mismatch", fmt.Sprintf("the ID number is not the one registered with card %s", r.CardNo)),
				"check the card number and the document: give the document number the card was registered with (for a newborn's card, the guardian's); "+
					"a card registered with a wrong ID number is not corrected here: revoke it with \"wrongId\": true and register the patient with the right one", nil)
			return false
		case r.Status == statusDead:
			refused = nil // answered below, with the card that replaced it
			return false
		}
		if n, done := noteBy(r.LastRename, r.EarlierRenames, h.req.MessageID); done {
			// This message renamed the card and is redelivered or
			// replayed: it answers as it did and changes nothing, even
			// when a later correction changed the name again.
			renamed, previous, made = true, n.PreviousName, &n
			if r.LastRename.By != h.req.MessageID {
				c := r.LastRename.correction
				later = &c
			}
			return false
		}
		if r.Name == p.Name {
			if !confirms(r.LastRename, r.NameConfirmed, received) {
				return false
			}
			r.NameConfirmed = &correction{By: h.req.MessageID, At: now, Value: card.MaskName(p.Name), Received: received}
			return true
		}
		if c, after := supersededBy(r.LastRename, r.NameConfirmed, received); after {
			refused = superseded("$.name", "name", r.CardNo, c, received)
			return false
		}
		previous, renamed = card.MaskName(r.Name), true
		r.Name = p.Name
		addNote(&r.LastRename, &r.EarlierRenames, renameNote{
			correction:   correction{By: h.req.MessageID, At: now, Value: card.MaskName(p.Name), Received: received},
			PreviousName: previous,
		})
		r.NameConfirmed = nil
		made = r.LastRename
		return true
	})
	rec, resp, err := h.correctedCard(ctx, p.CardNo, rec, err, refused)
	if resp != nil || err != nil {
		return resp, err
	}
	if previous == "" {
		previous = card.MaskName(rec.Name)
	}
	var warnings []sdk.Diagnostic
	if later != nil {
		warnings = append(warnings, replayedNote("$.name", "name", rec.CardNo, *later))
	}
	// name is the name this message set: the card's, or the one it set
	// before a later correction.
	name := card.MaskName(rec.Name)
	if made != nil && made.Value != "" {
		name = made.Value
	}
	if renamed {
		at := now
		if made != nil {
			at = made.At
		}
		ev := map[string]any{"cardNo": rec.CardNo, "name": name, "previousName": previous, "renamedAt": at}
		if err := h.announceCorrection(ctx, rec, EventRenamed, ev, at); err != nil {
			return nil, err
		}
	}
	reply := renameReply{cardView: rec.maskedView(), PreviousName: previous, Renamed: renamed}
	journaled := map[string]string{"cardNo": rec.CardNo, "idNumber": card.MaskIDNumber(p.IDNumber), "previousName": previous,
		"name": name, "reason": p.Reason}
	if err := h.journal(ctx, "rename", rec.CardNo, journaled, reply, start); err != nil {
		return nil, err
	}
	return ok(reply, warnings...)
}

// cardIDNumber is the document number registered with card r: its own, or
// for a newborn registered under a guardian, the guardian's.
func cardIDNumber(r *cardRecord) string {
	if r.Guardian != nil {
		return r.Guardian.IDNumber
	}
	return r.IDNumber
}

// checkReason checks the reason staff give for a change to a card (trimmed):
// required, plain text, at most maxReason characters. hint says what to
// write.
func checkReason(reason, hint string) sdk.Diagnostics {
	var ds sdk.Diagnostics
	switch {
	case reason == "":
		ds.Error("$.reason", "required", "reason is required", hint)
	case !utf8.ValidString(reason) || strings.IndexFunc(reason, unicode.IsControl) >= 0:
		ds.Error("$.reason", "characters", "reason contains control or invalid characters", "retype it as plain text")
	case utf8.RuneCountInString(reason) > maxReason:
		ds.Error("$.reason", "length", fmt.Sprintf("reason has %d characters", utf8.RuneCountInString(reason)), fmt.Sprintf("shorten it to %d", maxReason))
	}
	return ds
}

// correctedCard answers what updateCard gave a correction of one field of
// card cardNo (ecard.rename, ecard.phone.correct): an unknown card, an
// error, the correction's own refusal, or a revoked card (naming the card
// that replaced it) end the message with resp or err; otherwise rec is the
// card as stored.
func (h handler) correctedCard(ctx context.Context, cardNo string, rec cardRecord, err error, refused *sdk.HandleResponse) (cardRecord, *sdk.HandleResponse, error) {
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		resp, err := h.unknownCard("$.cardNo", cardNo)
		return rec, resp, err
	case err != nil:
		return rec, nil, err
	case refused != nil:
		return rec, refused, nil
	case rec.Status == statusDead:
		if rec, err = h.withLiveReplacement(ctx, rec); err != nil {
			return rec, nil, err
		}
		resp, err := invalid("$.cardNo", "revoked", zhSummary("$.cardNo", "revoked", fmt.Sprintf("card %s is revoked", rec.CardNo)), revokedDetail(rec), nil)
		return rec, resp, err
	}
	return rec, nil, nil
}

// announceCorrection records a corrected card in the recent-cards list and
// publishes the correction's event typ with payload, once per card and
// message (its id names both).
func (h handler) announceCorrection(ctx context.Context, rec cardRecord, typ string, payload map[string]any, at time.Time) error {
	if err := putJSON(ctx, h.host(), recentKey(rec.Seq), rec.recent()); err != nil {
		return err
	}
	ev, _ := json.Marshal(payload)
	if err := h.host().Publish(ctx, sdk.Event{ID: typ + "/" + rec.CardNo + "/" + h.req.MessageID, Type: typ, Key: rec.CardNo,
		Payload: ev, OccurredAt: at}); err != nil {
		return fmt.Errorf("publish %s for card %s: %w", typ, rec.CardNo, err)
	}
	return nil
}
