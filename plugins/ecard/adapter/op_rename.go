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

// renameNote records the last correction of a card's name: the message
// that made it, when, and the name before it, masked (for the reply to a
// redelivery of that message).
type renameNote struct {
	By           string    `json:"by"`
	At           time.Time `json:"at"`
	PreviousName string    `json:"previousName"`
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
	now := h.a.now().UTC().Truncate(time.Second)
	rec, err := updateCard(ctx, h.host(), p.CardNo, func(r *cardRecord) bool {
		refused, renamed, previous = nil, false, ""
		switch {
		case cardIDNumber(r) != p.IDNumber:
			refused, _ = invalid("$.idNumber", "mismatch", zhSummary("$.idNumber", "mismatch", fmt.Sprintf("the ID number is not the one registered with card %s", r.CardNo)),
				"check the card number and the document: give the document number the card was registered with (for a newborn's card, the guardian's); "+
					"a card registered with a wrong ID number is not corrected here: revoke it with \"wrongId\": true and register the patient with the right one", nil)
			return false
		case r.Status == statusDead:
			refused = nil // answered below, with the card that replaced it
			return false
		case r.Name == p.Name:
			if r.LastRename != nil && r.LastRename.By == h.req.MessageID {
				// This message renamed it and is redelivered.
				renamed, previous = true, r.LastRename.PreviousName
			}
			return false
		}
		previous, renamed = card.MaskName(r.Name), true
		r.Name = p.Name
		r.LastRename = &renameNote{By: h.req.MessageID, At: now, PreviousName: previous}
		return true
	})
	rec, resp, err := h.correctedCard(ctx, p.CardNo, rec, err, refused)
	if resp != nil || err != nil {
		return resp, err
	}
	if previous == "" {
		previous = card.MaskName(rec.Name)
	}
	if renamed {
		at := now
		if rec.LastRename != nil {
			at = rec.LastRename.At
		}
		ev := map[string]any{"cardNo": rec.CardNo, "name": card.MaskName(rec.Name), "previousName": previous, "renamedAt": at}
		if err := h.announceCorrection(ctx, rec, EventRenamed, ev, at); err != nil {
			return nil, err
		}
	}
	reply := renameReply{cardView: rec.maskedView(), PreviousName: previous, Renamed: renamed}
	journaled := map[string]string{"cardNo": rec.CardNo, "idNumber": card.MaskIDNumber(p.IDNumber), "previousName": previous,
		"name": card.MaskName(rec.Name), "reason": p.Reason}
	if err := h.journal(ctx, "rename", rec.CardNo, journaled, reply, start); err != nil {
		return nil, err
	}
	return ok(reply)
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
		resp, err := invalid("$.cardNo", "revoked", fmt.Sprintf("card %s is revoked", rec.CardNo), revokedDetail(rec), nil)
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
