package adapter

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// OpDeskNewborn is the cashier's one step for a newborn without an ID of its
// own: ecard.desk with the guardian's fields flat, as the console's form
// sends them (console forms have no nested objects).
const OpDeskNewborn = "ecard.desk.newborn"

// newbornDeskPayload is the input of ecard.desk.newborn: the newborn, its
// guardian in guardian* fields and the QR code's validity.
type newbornDeskPayload struct {
	Name             string `json:"name"`
	Gender           string `json:"gender"`
	BirthDate        string `json:"birthDate"`
	BirthOrder       int    `json:"birthOrder"`
	GuardianName     string `json:"guardianName"`
	GuardianIDType   string `json:"guardianIdType"`
	GuardianIDNumber string `json:"guardianIdNumber"`
	GuardianPhone    string `json:"guardianPhone"`
	GuardianRelation string `json:"guardianRelation"`
	Validity         string `json:"validity"`
}

// newbornDeskFields maps the diagnostics' fields of ecard.desk to the flat
// fields of ecard.desk.newborn.
var newbornDeskFields = map[string]string{
	"$.guardian.name":     "$.guardianName",
	"$.guardian.idType":   "$.guardianIdType",
	"$.guardian.idNumber": "$.guardianIdNumber",
	"$.guardian.phone":    "$.guardianPhone",
	"$.guardian.relation": "$.guardianRelation",
}

// deskNewborn serves ecard.desk.newborn as ecard.desk with the guardian
// object built from the flat fields; diagnostics name the flat fields.
func (h handler) deskNewborn(ctx context.Context) (*sdk.HandleResponse, error) {
	var p newbornDeskPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	raw, err := json.Marshal(deskPayload{
		Name: p.Name, Gender: p.Gender, BirthDate: p.BirthDate, BirthOrder: p.BirthOrder, Validity: p.Validity,
		Guardian: &card.Guardian{Name: p.GuardianName, IDType: p.GuardianIDType, IDNumber: p.GuardianIDNumber,
			Phone: p.GuardianPhone, Relation: p.GuardianRelation},
	})
	if err != nil {
		return nil, fmt.Errorf("encode the newborn desk as ecard.desk: %w", err)
	}
	req := *h.req
	req.Payload = raw
	r, err := handler{a: h.a, cfg: h.cfg, req: &req}.desk(ctx)
	if r != nil {
		for i, d := range r.Diagnostics {
			if f, ok := newbornDeskFields[d.Field]; ok {
				r.Diagnostics[i].Field = f
			}
		}
	}
	return r, err
}
