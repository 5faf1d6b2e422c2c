package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// OpDesk is the cashier's one step: register the person (or find their
// card: one person, one card) and issue the QR code with its label.
const OpDesk = "ecard.desk"

// deskPayload is the input of ecard.desk: the identity as for
// ecard.register and the QR code's validity as for ecard.qrcode. The
// identity fields are listed, not card.Identity embedded, so that decoding
// errors name "$.name", not "$.Identity.name".
type deskPayload struct {
	Name     string `json:"name"`
	IDType   string `json:"idType"`
	IDNumber string `json:"idNumber"`
	// IssuingCountry is a passport's issuing state (see card.Identity).
	IssuingCountry string `json:"issuingCountry,omitempty"`
	Phone          string `json:"phone"`
	Gender         string `json:"gender,omitempty"`
	BirthDate      string `json:"birthDate,omitempty"`
	// Guardian and BirthOrder register a newborn under its guardian, as
	// for ecard.register.
	Guardian   *card.Guardian `json:"guardian,omitempty"`
	BirthOrder int            `json:"birthOrder,omitempty"`
	Validity   string         `json:"validity"`
}

// deskReply is the payload of a successful ecard.desk: the QR code as
// ecard.qrcode replies it, with what the registration found.
type deskReply struct {
	qrReply
	// Created is false when the person already had this card.
	Created      bool      `json:"created"`
	Outcome      string    `json:"outcome"`
	Status       string    `json:"status"`
	RegisteredAt time.Time `json:"registeredAt"`
	IDTypeName   string    `json:"idTypeName"`
}

// desk serves ecard.desk. The validity is checked before anything is
// registered; the registration and the QR code are the same operations
// as ecard.register and ecard.qrcode, so a redelivered message finds the
// card it registered and seals a new code for it.
func (h handler) desk(ctx context.Context) (*sdk.HandleResponse, error) {
	var p deskPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	// The QR step gets the trimmed validity, so that a blank one means the
	// site's default there too instead of failing after the registration.
	p.Validity = strings.TrimSpace(halfWidth(p.Validity))
	id := card.Identity{Name: p.Name, IDType: p.IDType, IDNumber: p.IDNumber, IssuingCountry: p.IssuingCountry, Phone: p.Phone, Gender: p.Gender, BirthDate: p.BirthDate,
		Guardian: p.Guardian, BirthOrder: p.BirthOrder}
	id = halfWidthIdentity(id)
	if v := p.Validity; v != "" {
		if _, rule, sum, det := readValidity(v); rule != "" {
			ds := sdk.Diagnostics{{Field: "$.validity", Rule: rule, Summary: sum, Detail: det}}
			// Report the identity's problems too: every problem at once.
			for _, fe := range card.ValidateIdentityAt(id, h.a.now()) {
				sum, det := splitMessage(fe.Message)
				ds = append(ds, sdk.Diagnostic{Severity: sdk.SeverityError, Field: fe.Field, Rule: fe.Rule, Summary: zhSummary(fe.Field, fe.Rule, sum), Detail: det})
			}
			return sdk.Invalid(ds...), nil
		}
	}
	sub := func(payload any) handler {
		raw, _ := json.Marshal(payload)
		req := *h.req
		req.Payload = raw
		return handler{a: h.a, cfg: h.cfg, req: &req}
	}
	reg, err := sub(id).register(ctx)
	if err != nil || reg.Status != sdk.StatusOK {
		return reg, err
	}
	var r registerReply
	if err := json.Unmarshal(reg.Payload, &r); err != nil {
		return nil, fmt.Errorf("read the registration of the desk: %w", err)
	}
	qr, err := sub(qrPayload{CardNo: r.CardNo, Validity: p.Validity, PrintLabel: true}).qrcode(ctx)
	if err != nil || qr.Status != sdk.StatusOK {
		return qr, err
	}
	out := deskReply{Created: r.Created, Status: r.Status, RegisteredAt: r.RegisteredAt, IDTypeName: card.IDTypeName(id.IDType)}
	if id.Guardian != nil {
		out.IDTypeName = "新生儿，监护人" + card.IDTypeName(id.Guardian.IDType) + " newborn under a guardian"
	}
	if err := json.Unmarshal(qr.Payload, &out.qrReply); err != nil {
		return nil, fmt.Errorf("read the QR code of the desk: %w", err)
	}
	out.Outcome = "已有电子卡，补打标签 existing card: one person, one card — label reprinted"
	if r.Created {
		out.Outcome = "新登记 new card registered"
	}
	return ok(out, append(reg.Diagnostics, qr.Diagnostics...)...)
}
