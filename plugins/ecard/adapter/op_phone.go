package adapter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
)

// OpPhone corrects the phone number stored on a card: a number mistyped at
// registration, or changed since.
const OpPhone = "ecard.phone.correct"

// EventPhoneCorrected is published when a card's phone is corrected, so
// that the HIS reads the identity again (ecard.get). It holds masked
// numbers only.
const EventPhoneCorrected = "ecard.phone.corrected"

// phonePayload is the input of ecard.phone.correct.
type phonePayload struct {
	CardNo string `json:"cardNo"`
	// IDNumber is the document number on the card (for a newborn's card,
	// the guardian's), as for ecard.rename.
	IDNumber string `json:"idNumber"`
	Phone    string `json:"phone"`
	Reason   string `json:"reason"`
}

// phoneReply is the payload of a successful ecard.phone.correct: the
// card, masked, with the number it had before, masked.
type phoneReply struct {
	cardView
	PreviousPhone string `json:"previousPhone"`
	// Corrected is false when the card had the number already.
	Corrected bool `json:"corrected"`
}

// phoneNote records the last correction of a card's phone: the message
// that made it, when, and the number before it, masked (for the reply to a
// redelivery of that message).
type phoneNote struct {
	By            string    `json:"by"`
	At            time.Time `json:"at"`
	PreviousPhone string    `json:"previousPhone"`
}

// phone serves ecard.phone.correct, shaped as rename: the number is
// replaced on the card record (for a newborn's card, the guardian's number,
// which is the card's), checked by the rules of a registration for the
// card's document type (an international number only for documents that
// are not mainland ones); the old one, masked, is kept in the journal
// entry (code phone, serial the card number) with the reason. The identity
// key does not change. A revoked card is not corrected.
func (h handler) phone(ctx context.Context) (*sdk.HandleResponse, error) {
	start := h.a.now()
	var p phonePayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	p.CardNo = h.readCardNo(strings.TrimSpace(halfWidth(p.CardNo)))
	p.IDNumber = card.NormalizeIDNumber(halfWidth(p.IDNumber))
	p.Phone = strings.TrimSpace(halfWidth(p.Phone))
	p.Reason = strings.TrimSpace(p.Reason)
	ds := checkNumber("$.cardNo", "cardNo", p.CardNo)
	if p.IDNumber == "" {
		ds.Error("$.idNumber", "required", zhSummary("$.idNumber", "required", "idNumber is required"),
			"give the document number registered with the card (for a newborn's card, the guardian's), from the document the patient shows")
	}
	if p.Phone == "" {
		// The number's form depends on the card's document type, known
		// once the card is read; a missing one is refused at once.
		if fe := card.ValidatePhone("$.phone", card.IDTypeResidentCard, ""); fe != nil {
			s, d := splitMessage(fe.Message)
			ds.Error(fe.Field, fe.Rule, zhSummary(fe.Field, fe.Rule, s), d)
		}
	}
	ds = append(ds, checkReason(p.Reason, `say why the number is corrected, e.g. "typo at registration" or "new number"`)...)
	if ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	p.Reason = pii.Text(p.Reason)

	var refused *sdk.HandleResponse
	var previous string
	corrected := false
	now := h.a.now().UTC().Truncate(time.Second)
	rec, err := updateCard(ctx, h.host(), p.CardNo, func(r *cardRecord) bool {
		refused, corrected, previous = nil, false, ""
		idType := r.IDType
		if r.Guardian != nil {
			idType = r.Guardian.IDType
		}
		switch {
		case cardIDNumber(r) != p.IDNumber:
			refused, _ = invalid("$.idNumber", "mismatch", zhSummary("$.idNumber", "mismatch", fmt.Sprintf("the ID number is not the one registered with card %s", r.CardNo)),
				"check the card number and the document: give the document number the card was registered with (for a newborn's card, the guardian's)", nil)
			return false
		case r.Status == statusDead:
			return false // answered below, with the card that replaced it
		}
		if fe := card.ValidatePhone("$.phone", idType, p.Phone); fe != nil {
			s, d := splitMessage(fe.Message)
			refused = sdk.Invalid(sdk.Diagnostic{Field: fe.Field, Rule: fe.Rule, Summary: zhSummary(fe.Field, fe.Rule, s), Detail: d})
			return false
		}
		number := card.NormalizePhone(p.Phone)
		if r.Phone == number {
			if r.LastPhone != nil && r.LastPhone.By == h.req.MessageID {
				// This message corrected it and is redelivered.
				corrected, previous = true, r.LastPhone.PreviousPhone
			}
			return false
		}
		previous, corrected = card.MaskPhone(r.Phone), true
		r.Phone = number
		if r.Guardian != nil {
			g := *r.Guardian
			g.Phone = number
			r.Guardian = &g
		}
		r.LastPhone = &phoneNote{By: h.req.MessageID, At: now, PreviousPhone: previous}
		return true
	})
	rec, resp, err := h.correctedCard(ctx, p.CardNo, rec, err, refused)
	if resp != nil || err != nil {
		return resp, err
	}
	if previous == "" {
		previous = card.MaskPhone(rec.Phone)
	}
	if corrected {
		at := now
		if rec.LastPhone != nil {
			at = rec.LastPhone.At
		}
		ev := map[string]any{"cardNo": rec.CardNo, "phone": card.MaskPhone(rec.Phone), "previousPhone": previous, "correctedAt": at}
		if err := h.announceCorrection(ctx, rec, EventPhoneCorrected, ev, at); err != nil {
			return nil, err
		}
	}
	reply := phoneReply{cardView: rec.maskedView(), PreviousPhone: previous, Corrected: corrected}
	journaled := map[string]string{"cardNo": rec.CardNo, "idNumber": card.MaskIDNumber(p.IDNumber), "previousPhone": previous,
		"phone": card.MaskPhone(rec.Phone), "reason": p.Reason}
	if err := h.journal(ctx, "phone", rec.CardNo, journaled, reply, start); err != nil {
		return nil, err
	}
	return ok(reply)
}
