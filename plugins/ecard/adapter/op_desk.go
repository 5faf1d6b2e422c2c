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
	// ConfirmName prints the label of a card found under the ID number
	// whose stored name (for a newborn: name or gender) is not the one
	// typed: the clerk has checked that the card is this person's (see
	// deskMismatch).
	ConfirmName bool `json:"confirmName,omitempty"`
	// TempCardNo is the temporary card the patient holds, linked to the
	// card once the desk has found it this patient's (see desk).
	TempCardNo string `json:"tempCardNo,omitempty"`
}

// deskRefusal is the payload of a desk call refused because the card found
// under the ID number names another person (deskMismatch): the card and
// its stored name, masked; no code is issued.
type deskRefusal struct {
	Result     string `json:"result"`
	CardNo     string `json:"cardNo"`
	StoredName string `json:"storedName"`
	Outcome    string `json:"outcome"`
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
	// TempCardNo is the temporary card linked to the card by this call.
	TempCardNo string `json:"tempCardNo,omitempty"`
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
	p.TempCardNo = strings.TrimSpace(halfWidth(p.TempCardNo))
	var ds sdk.Diagnostics
	if v := p.Validity; v != "" {
		if _, rule, sum, det := readValidity(v); rule != "" {
			ds = append(ds, sdk.Diagnostic{Field: "$.validity", Rule: rule, Summary: sum, Detail: det})
		}
	}
	if p.TempCardNo != "" {
		ds = append(ds, h.checkTempCardNo(p.TempCardNo)...)
	}
	if ds.HasError() {
		// Report the identity's problems too: every problem at once.
		for _, fe := range card.ValidateIdentityAt(id, h.a.now()) {
			sum, det := splitMessage(fe.Message)
			ds = append(ds, sdk.Diagnostic{Severity: sdk.SeverityError, Field: fe.Field, Rule: fe.Rule, Summary: zhSummary(fe.Field, fe.Rule, sum), Detail: det})
		}
		return sdk.Invalid(ds...), nil
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
	if !r.Created {
		if refused, err := h.deskMismatch(ctx, r.CardNo, reg, p.ConfirmName, id.Gender); refused != nil || err != nil {
			return refused, err
		}
	}
	// The temporary card is linked only now, once the card is known to be
	// this patient's: linked by the registration, it would be linked to
	// the card of another person whose ID number was typed.
	var linked string
	if p.TempCardNo != "" {
		if reg, err = h.linkRegistered(ctx, reg, p.TempCardNo); err != nil {
			return nil, err
		}
		var lr registerReply
		_ = json.Unmarshal(reg.Payload, &lr)
		linked = lr.TempCardNo
	}
	qr, err := sub(qrPayload{CardNo: r.CardNo, Validity: p.Validity, PrintLabel: true}).qrcode(ctx)
	if err != nil || qr.Status != sdk.StatusOK {
		return qr, err
	}
	out := deskReply{Created: r.Created, Status: r.Status, RegisteredAt: r.RegisteredAt, IDTypeName: card.IDTypeName(id.IDType), TempCardNo: linked}
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

// deskMismatch refuses to print the label of existing card cardNo when the
// registration reg that found it under the ID number warned that the name
// typed is not the one stored (for a newborn, the name or the gender: the
// other twin under the wrong birth order): the label would name someone
// other than the person at the counter. Usual causes: a typo at either
// registration, a name changed since, a wrong ID number typed (now or
// then). It returns nil when the names agree or the clerk confirmed the
// card is this person's (confirm; the warning stays in the reply).
// confirm confirms a name, not a newborn's sex: a newborn card recorded as
// male and one typed as female (or the other way) are two children, the
// other twin's card found under the wrong birth order, and are refused
// whatever confirm says; an unknown or unspecified gender (GB/T 2261.1 0,
// 9) on either side names no other child.
func (h handler) deskMismatch(ctx context.Context, cardNo string, reg *sdk.HandleResponse, confirm bool, gender string) (*sdk.HandleResponse, error) {
	var mismatch []sdk.Diagnostic
	var others sdk.Diagnostics
	for _, d := range reg.Diagnostics {
		if d.Rule == "mismatch" && (d.Field == "$.name" || d.Field == "$.gender") {
			mismatch = append(mismatch, d)
		} else {
			others = append(others, d)
		}
	}
	if len(mismatch) == 0 {
		return nil, nil
	}
	rec, _, err := getCard(ctx, h.host(), cardNo)
	if err != nil {
		return nil, fmt.Errorf("read card %s found by the desk: %w", cardNo, err)
	}
	otherSex := rec.Guardian != nil && knownSex(rec.Gender) && knownSex(gender) && rec.Gender != gender
	if confirm && !otherSex {
		return nil, nil
	}
	stored := card.MaskName(rec.Name)
	field, what, whatEn := mismatch[0].Field, "姓名", "name"
	if otherSex {
		field = "$.gender"
	}
	if field == "$.gender" {
		what, whatEn = "性别", "gender"
	}
	d := sdk.Diagnostic{
		Severity: sdk.SeverityError, Field: field, Rule: "mismatch",
		Summary: fmt.Sprintf("%s与此证件号已有电子卡 %s 登记的不一致（卡上姓名 %s），未打印标签 (the %s differs from the one on card %s, registered with this ID number; no label printed)",
			what, cardNo, stored, whatEn, cardNo),
		Detail: "请与患者核对证件：本次输入有误，改正后重新提交；卡是用他人证件号登记的，请管理员以 wrongId 注销后各自重新登记；卡上姓名有误或已改名，" +
			"请管理员先在“电子卡更正姓名”页（ecard.rename）更正再打印；新生儿请核对胎次（birthOrder）；确认此卡就是眼前患者的（如生僻字无法输入），勾选 confirmName 后重新提交。" +
			" Check the document with the patient: retype a mistyped name or ID number; a card registered with another person's ID number is revoked with wrongId by an admin and each registers again;" +
			" a wrong or changed name on the card is corrected by an admin with ecard.rename first;" +
			" for a newborn check birthOrder; if the card is this person's (e.g. a rare character that cannot be typed), send again with confirmName: true",
	}
	if confirm {
		// Only a newborn of the other sex gets here (otherSex).
		d.Summary = fmt.Sprintf("性别与此监护人、出生日期、胎次已有的新生儿电子卡 %s 不一致（卡上姓名 %s），勾选 confirmName 也不打印 (the gender differs from the newborn on card %s; confirmName does not print a newborn of the other sex)",
			cardNo, stored, cardNo)
		d.Detail = "男婴与女婴是两个孩子：多为双胞胎另一个的胎次（birthOrder）填错，请核对后重新提交；若卡上性别登记错了，请管理员注销此卡（ecard.revoke）后重新登记，新卡接替旧卡，临时卡可随之转移。" +
			" A male and a female newborn are two children: usually the other twin's birthOrder was given; check it and send again." +
			" If the gender on the card is wrong, an admin revokes the card (ecard.revoke) and the child is registered again: the new card replaces it, and linked temporary cards move to it with ecard.link"
	}
	b, err := json.Marshal(deskRefusal{Result: "mismatch", CardNo: cardNo, StoredName: stored,
		Outcome: "未打印：与已有电子卡的" + what + "不一致 not printed: " + whatEn + " differs from the existing card"})
	if err != nil {
		return nil, fmt.Errorf("encode reply: %w", err)
	}
	return &sdk.HandleResponse{Status: sdk.StatusInvalid, Payload: b, Diagnostics: append(sdk.Diagnostics{d}, others...)}, nil
}

// knownSex reports whether a GB/T 2261.1 gender code names a sex: 1 male
// or 2 female, not 0 unknown or 9 unspecified.
func knownSex(code string) bool { return code == card.GenderMale || code == card.GenderFemale }
