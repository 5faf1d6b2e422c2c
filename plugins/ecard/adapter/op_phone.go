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

// phoneNote records a correction of a card's phone: the message that made
// it, when, the number it set and the number before it, masked (for the
// reply to a redelivery of that message).
type phoneNote struct {
	correction
	PreviousPhone string `json:"previousPhone"`
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
	var made *phoneNote   // this message's correction, made now or before
	var later *correction // a later correction that stands over it
	now := h.a.now().UTC().Truncate(time.Second)
	received := h.received(now)
	rec, err := updateCard(ctx, h.host(), p.CardNo, func(r *cardRecord) bool {
		refused, corrected, previous, made, later = nil, false, "", nil, nil
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
		if n, done := noteBy(r.LastPhone, r.EarlierPhones, h.req.MessageID); done {
			// This message corrected the number and is redelivered or
			// replayed: it answers as it did and changes nothing, even
			// when a later correction changed the number again.
			corrected, previous, made = true, n.PreviousPhone, &n
			if r.LastPhone.By != h.req.MessageID {
				c := r.LastPhone.correction
				later = &c
			}
			return false
		}
		if fe := card.ValidatePhone("$.phone", idType, p.Phone); fe != nil {
			s, d := splitMessage(fe.Message)
			refused = sdk.Invalid(sdk.Diagnostic{Field: fe.Field, Rule: fe.Rule, Summary: zhSummary(fe.Field, fe.Rule, s), Detail: d})
			return false
		}
		number := card.NormalizePhone(p.Phone)
		if r.Phone == number {
			if !confirms(r.LastPhone, r.PhoneConfirmed, received) {
				return false
			}
			r.PhoneConfirmed = &correction{By: h.req.MessageID, At: now, Value: card.MaskPhone(number), Received: received}
			return true
		}
		if c, after := supersededBy(r.LastPhone, r.PhoneConfirmed, received); after {
			refused = superseded("$.phone", "phone", r.CardNo, c, received)
			return false
		}
		previous, corrected = card.MaskPhone(r.Phone), true
		r.Phone = number
		if r.Guardian != nil {
			g := *r.Guardian
			g.Phone = number
			r.Guardian = &g
		}
		addNote(&r.LastPhone, &r.EarlierPhones, phoneNote{
			correction:    correction{By: h.req.MessageID, At: now, Value: card.MaskPhone(number), Received: received},
			PreviousPhone: previous,
		})
		r.PhoneConfirmed = nil
		made = r.LastPhone
		return true
	})
	rec, resp, err := h.correctedCard(ctx, p.CardNo, rec, err, refused)
	if resp != nil || err != nil {
		return resp, err
	}
	if previous == "" {
		previous = card.MaskPhone(rec.Phone)
	}
	var warnings []sdk.Diagnostic
	if later != nil {
		warnings = append(warnings, replayedNote("$.phone", "phone", rec.CardNo, *later))
	}
	// phone is the number this message set: the card's, or the one it set
	// before a later correction.
	phone := card.MaskPhone(rec.Phone)
	if made != nil && made.Value != "" {
		phone = made.Value
	}
	if corrected {
		at := now
		if made != nil {
			at = made.At
		}
		ev := map[string]any{"cardNo": rec.CardNo, "phone": phone, "previousPhone": previous, "correctedAt": at}
		if err := h.announceCorrection(ctx, rec, EventPhoneCorrected, ev, at); err != nil {
			return nil, err
		}
	}
	reply := phoneReply{cardView: rec.maskedView(), PreviousPhone: previous, Corrected: corrected}
	journaled := map[string]string{"cardNo": rec.CardNo, "idNumber": card.MaskIDNumber(p.IDNumber), "previousPhone": previous,
		"phone": phone, "reason": p.Reason}
	if err := h.journal(ctx, "phone", rec.CardNo, journaled, reply, start); err != nil {
		return nil, err
	}
	return ok(reply, warnings...)
}
