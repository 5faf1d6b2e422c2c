package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// qrPayload is the input of ecard.qrcode.
type qrPayload struct {
	CardNo string `json:"cardNo"`
	// Validity is a Go duration such as "72h"; empty means the qrValidity
	// setting.
	Validity string `json:"validity"`
	// Size is the PNG side in pixels; 0 means the qrImageSize setting.
	Size int `json:"size"`
	// PrintLabel adds labelPng, the QR code with the card number and expiry
	// drawn underneath.
	PrintLabel bool `json:"printLabel"`
}

// qrReply is the payload of a successful ecard.qrcode. []byte fields are
// base64 (standard alphabet, padded) in JSON.
type qrReply struct {
	CardNo    string     `json:"cardNo"`
	Text      string     `json:"text"`
	ExpiresAt time.Time  `json:"expiresAt"`
	PNG       []byte     `json:"png"`
	Label     labelReply `json:"label"`
	LabelPNG  []byte     `json:"labelPng,omitempty"`
}

// labelReply is the printable label text with its lines in print order.
type labelReply struct {
	card.LabelText
	Lines []string `json:"lines"`
}

// qrcode serves ecard.qrcode.
func (h handler) qrcode(ctx context.Context) (*sdk.HandleResponse, error) {
	var p qrPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	// Typed at the print page, possibly in full width (see halfWidth) and
	// with the check character X as x (see readCardNo).
	p.CardNo, p.Validity = h.readCardNo(strings.TrimSpace(halfWidth(p.CardNo))), halfWidth(p.Validity)
	ds := checkNumber("$.cardNo", "cardNo", p.CardNo)
	validity := h.cfg.validity
	if p.Validity != "" {
		if d, rule, sum, det := readValidity(strings.TrimSpace(p.Validity)); rule != "" {
			ds.Error("$.validity", rule, sum, det)
		} else {
			validity = d
		}
	}
	size := h.cfg.imageSize
	if p.Size != 0 {
		if p.Size < minImageSize || p.Size > card.MaxImageSize {
			ds.Error("$.size", "range", fmt.Sprintf("size %d is out of range", p.Size), fmt.Sprintf("use %d to %d pixels", minImageSize, card.MaxImageSize))
		} else {
			size = p.Size
		}
	}
	if ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	if h.cfg.rule.IsTemporary(p.CardNo) {
		return invalid("$.cardNo", "temporary-card", zhSummary("$.cardNo", "temporary-card", fmt.Sprintf("%s is a temporary-card number", p.CardNo)),
			"QR codes are issued for e-cards; find the linked e-card with ecard.get {\"tempCardNo\": ...} and use its number", nil)
	}
	rec, _, err := getCard(ctx, h.host(), p.CardNo)
	if errors.Is(err, sdk.ErrNotFound) {
		return h.unknownCard("$.cardNo", p.CardNo)
	}
	if err != nil {
		return nil, err
	}
	if rec.Status == statusDead {
		if rec, err = h.withLiveReplacement(ctx, rec); err != nil {
			return nil, err
		}
		return invalid("$.cardNo", "revoked", zhSummary("$.cardNo", "revoked", fmt.Sprintf("card %s is revoked", rec.CardNo)), revokedDetail(rec), nil)
	}
	text, expires, err := h.cfg.sealer.Seal(rec.CardNo, validity)
	if err != nil {
		return nil, fmt.Errorf("seal card %s: %w", rec.CardNo, err)
	}
	if err := h.recordSealed(ctx, expires); err != nil {
		return nil, fmt.Errorf("record the expiry of codes sealed with key %s: %w", h.cfg.activeKey, err)
	}
	png, err := card.QRPNG(text, size)
	if err != nil {
		return nil, fmt.Errorf("render the QR code of card %s: %w", rec.CardNo, err)
	}
	label := card.Label(rec.CardNo, rec.Name, expires, nil)
	if rec.Guardian != nil {
		label = label.WithNewborn(rec.BirthOrder, rec.Gender)
	}
	reply := qrReply{CardNo: rec.CardNo, Text: text, ExpiresAt: expires, PNG: png, Label: labelReply{LabelText: label, Lines: label.Lines()}}
	if p.PrintLabel {
		reply.LabelPNG, err = card.LabelPNG(text, label, size)
		if err != nil {
			return nil, fmt.Errorf("render the label of card %s: %w", rec.CardNo, err)
		}
	}
	// The sealer keeps whole seconds of the validity.
	if err := h.publishIssued(ctx, rec.CardNo, expires.Add(-validity.Truncate(time.Second)), expires); err != nil {
		return nil, err
	}
	return ok(reply)
}

// EventQRIssued is published for every QR code issued, so the HIS and
// the platform learn that a card got a new code and until when it is valid.
const EventQRIssued = "ecard.qrcode.issued"

// publishIssued publishes EventQRIssued. The QR text is a credential and
// is never in the event. The event id is the message's: a redelivered
// message seals a new code but announces it under the same id.
func (h handler) publishIssued(ctx context.Context, cardNo string, issuedAt, expiresAt time.Time) error {
	ev, _ := json.Marshal(map[string]any{"cardNo": cardNo, "issuedAt": issuedAt.UTC(), "expiresAt": expiresAt.UTC()})
	if err := h.host().Publish(ctx, sdk.Event{ID: EventQRIssued + "/" + h.req.MessageID, Type: EventQRIssued, Key: cardNo, Payload: ev, OccurredAt: issuedAt}); err != nil {
		return fmt.Errorf("publish %s for card %s: %w", EventQRIssued, cardNo, err)
	}
	return nil
}

// unknownCard answers for a card number that has no record, saying whether
// the number is even well formed under the site's rule.
func (h handler) unknownCard(field, cardNo string) (*sdk.HandleResponse, error) {
	detail := "no e-card with this number is registered at this site; check the number or register the patient"
	err := h.cfg.rule.Check(cardNo)
	if errors.Is(err, card.ErrBadCharacter) && h.cfg.rule.CheckDigit == card.CheckMod11_2 {
		// A final lower-case x is read as X (readCardNo); it is still here
		// because the number fails with X too: say why, rather than ask
		// for the upper-case X that fails as well.
		if errX := h.cfg.rule.Check(upperCheckX(cardNo)); errX != nil {
			err = errX
		}
	}
	if err != nil {
		detail = "no e-card with this number is registered at this site, and " + err.Error()
	}
	return invalid(field, "unknown-card", zhSummary(field, "unknown-card", fmt.Sprintf("card %s is unknown", cardNo)), detail, map[string]string{"result": "unknown-card", "cardNo": cardNo})
}

// revokedDetail says what to do with revoked card rec, whose ReplacedBy is
// the patient's live card (see withLiveReplacement), or "". A card revoked
// with wrongId was registered with another person's ID number: registering
// "again" with the number it has would not give its patient a card, so the
// detail asks for the patient's own number.
func revokedDetail(rec cardRecord) string {
	d := "the card was revoked"
	if rec.RevokedAt != nil {
		d += " at " + rec.RevokedAt.Format(time.RFC3339)
	}
	if rec.ReplacedBy != "" {
		return d + "; the patient's card is now card " + rec.ReplacedBy + ", issued when the patient registered again; use that card"
	}
	if rec.WrongID {
		return d + " because it was registered with another person's ID number (wrongId); register the patient with the patient's own ID number, " +
			"checked against the document, for a new card, and move its temporary cards there with ecard.link and previousCardNo " + rec.CardNo
	}
	return d + "; register the patient again to issue a new card"
}

// withLiveReplacement returns revoked card rec with ReplacedBy set to the
// card the patient holds now: the end of the chain of replacements (a
// replacement revoked in turn and replaced when the person registered
// again, and so on), when that card is active; else "" (the latest card is
// revoked too, or the chain is broken or longer than maxReplacements), and
// the patient registers again. The record in the state is not changed; its
// replacedBy stays the direct replacement (ecard.get shows it). A scan,
// ecard.qrcode and ecard.link name the card to use, not a revoked one in
// between, whose code and links would be refused in turn.
func (h handler) withLiveReplacement(ctx context.Context, rec cardRecord) (cardRecord, error) {
	next := rec
	rec.ReplacedBy = ""
	for range maxReplacements {
		if next.ReplacedBy == "" {
			return rec, nil
		}
		var err error
		next, _, err = getCard(ctx, h.host(), next.ReplacedBy)
		if errors.Is(err, sdk.ErrNotFound) {
			return rec, nil
		}
		if err != nil {
			return cardRecord{}, err
		}
		if next.Status != statusDead {
			rec.ReplacedBy = next.CardNo
			return rec, nil
		}
	}
	return rec, nil
}

// validityHint says how to write a QR code's validity, for its refusals.
var validityHint = fmt.Sprintf("请写时长，如 72h（3 天）、30m（30 分钟），1s 到 %s（%d 天）；留空用站点默认 (a duration such as 72h or 30m, 1s to %s)",
	fmtDuration(card.MaxValidity), card.MaxValidity/(24*time.Hour), fmtDuration(card.MaxValidity))

// readValidity reads a QR code's validity as typed at the desk or print
// form. When it is not a duration from a second to card.MaxValidity, rule
// is the refusal's rule and summary and detail say, in Chinese, what to
// type.
func readValidity(v string) (d time.Duration, rule, summary, detail string) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, "type", fmt.Sprintf("二维码有效期 %q 不是时长 (validity is not a duration)", v), validityHint
	case d < time.Second || d > card.MaxValidity:
		return 0, "range", fmt.Sprintf("二维码有效期 %s 超出范围 1s–%s (validity out of range)", v, fmtDuration(card.MaxValidity)), validityHint
	}
	return d, "", "", ""
}
