package adapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// maxScanText bounds the scanned text; e-card codes are at most 85
// characters and the other codes a scanner reads are shorter than this.
const maxScanText = 1024

// Scan results: "ok" or the rule of the invalid reply.
const (
	ResultOK          = "ok"
	ResultExpired     = "expired"
	ResultNotYetValid = "not-yet-valid"
	ResultTampered    = "tampered"
	ResultRevoked     = "revoked"
	ResultNotECard    = "not-ecard"
	ResultUnknownCard = "unknown-card"
	// ResultOtherSite refuses an authentic code printed at another site
	// (card.ErrOtherSite).
	ResultOtherSite = "other-site"
	// ResultOldFormat refuses an authentic code of format version 1 at a
	// site whose acceptV1Codes is false (card.ErrLegacyCode).
	ResultOldFormat = "old-format"
)

// scanPayload is the input of ecard.scan.
type scanPayload struct {
	Text string `json:"text"`
	// Reveal asks for the unmasked identity of the patient of a QR code or
	// a temporary card; only sites that set revealIdentity allow it.
	// Without it the identity is masked: a card number is printed on paper
	// and is all ecard.qrcode needs, so a scan must not turn it into the
	// holder's identity (the HIS finds the patient by the card number).
	Reveal bool `json:"reveal"`
}

// cardView is a card as returned to the HIS: masked (maskedView) unless the
// request asked for the identity where the site allows it (view).
type cardView struct {
	CardNo   string `json:"cardNo"`
	Status   string `json:"status"`
	Name     string `json:"name"`
	IDType   string `json:"idType"`
	IDNumber string `json:"idNumber"`
	// IssuingCountry is a passport's issuing state.
	IssuingCountry string `json:"issuingCountry,omitempty"`
	Phone          string `json:"phone"`
	Gender         string `json:"gender,omitempty"`
	BirthDate      string `json:"birthDate,omitempty"`
	// Guardian and BirthOrder are a newborn's, registered under its
	// guardian; the guardian is masked with the rest.
	Guardian     *card.Guardian `json:"guardian,omitempty"`
	BirthOrder   int            `json:"birthOrder,omitempty"`
	RegisteredAt time.Time      `json:"registeredAt"`
	RevokedAt    *time.Time     `json:"revokedAt,omitempty"`
	RevokeReason string         `json:"revokeReason,omitempty"`
	// WrongID marks a card revoked as registered with another person's ID
	// number (ecard.revoke with wrongId).
	WrongID        bool     `json:"wrongId,omitempty"`
	TempCards      []string `json:"tempCards"`
	PreviousCardNo string   `json:"previousCardNo,omitempty"`
	ReplacedBy     string   `json:"replacedBy,omitempty"`
	// Masked is true when name, ID number and phone are masked and the
	// birth date left out.
	Masked bool `json:"masked"`
}

// maskedView is the card with its personal data masked, for replies to
// requests that need not or may not see the identity.
func (r *cardRecord) maskedView() cardView {
	v := r.view()
	v.Name, v.IDNumber, v.Phone = card.MaskName(v.Name), card.MaskIDNumber(v.IDNumber), card.MaskPhone(v.Phone)
	v.BirthDate, v.Masked = "", true
	v.Guardian = maskGuardian(r.Guardian)
	return v
}

func (r *cardRecord) view() cardView {
	temps := r.TempCards
	if temps == nil {
		temps = []string{}
	}
	return cardView{
		CardNo: r.CardNo, Status: r.Status, Name: r.Name, IDType: r.IDType, IDNumber: r.IDNumber, IssuingCountry: r.IssuingCountry, Phone: r.Phone,
		Gender: r.Gender, BirthDate: r.BirthDate, Guardian: copyGuardian(r.Guardian), BirthOrder: r.BirthOrder, RegisteredAt: r.RegisteredAt, RevokedAt: r.RevokedAt,
		RevokeReason: r.RevokeReason, WrongID: r.WrongID, TempCards: temps, PreviousCardNo: r.PreviousCardNo, ReplacedBy: r.ReplacedBy,
	}
}

// copyGuardian returns a copy of g, or nil.
func copyGuardian(g *card.Guardian) *card.Guardian {
	if g == nil {
		return nil
	}
	c := *g
	return &c
}

// scanReply is the payload of a successful ecard.scan.
type scanReply struct {
	Result string `json:"result"`
	cardView
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// scanRefusal is the payload of an invalid ecard.scan: Result repeats the
// diagnostic's rule.
type scanRefusal struct {
	Result string `json:"result"`
	// Reason refines "tampered": "authentication", "unknown-key",
	// "retired-key" (see retiredKey) or "malformed".
	Reason string `json:"reason,omitempty"`
	// LooksLike says what a "not-ecard" text is instead:
	// "national-health-card", "resident-id", "resident-id-bad-check" (the
	// shape of an ID number with a wrong check character), "trace-code",
	// "ecard-number" (a card number without its QR code) or "unknown".
	// (A revoked or missing card scanned by a linked temporary card's
	// number has looksLike "temporary-card" and its tempCardNo.)
	LooksLike  string `json:"looksLike,omitempty"`
	TempCardNo string `json:"tempCardNo,omitempty"`
	CardNo     string `json:"cardNo,omitempty"`
	// CardStatus and Name (masked) are those of the e-card registered
	// for a scanned resident ID number, when there is one.
	CardStatus string     `json:"cardStatus,omitempty"`
	Name       string     `json:"name,omitempty"`
	IssuedAt   *time.Time `json:"issuedAt,omitempty"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	// ReplacedBy is the card the patient of a revoked card holds now: the
	// card that replaced it when its person registered again or, when
	// that one was revoked and replaced in turn, the last replacement; it
	// is left out when the patient's latest card is revoked too.
	ReplacedBy string `json:"replacedBy,omitempty"`
	// WrongID marks a revoked card that was registered with another
	// person's ID number (ecard.revoke with wrongId): its patient registers
	// with their own number.
	WrongID bool `json:"wrongId,omitempty"`
}

// kindName is the stable name of a card.Kind in replies.
func kindName(k card.Kind) string {
	switch k {
	case card.KindECard:
		return "ecard"
	case card.KindNationalHealthCard:
		return "national-health-card"
	case card.KindResidentID:
		return "resident-id"
	case card.KindTraceCode:
		return "trace-code"
	}
	return "unknown"
}

// scan serves ecard.scan with one state read (two for a code sealed with a
// key that is not the active one, see retiredKey): every reply, accepted or
// refused, says what the text is ("kind") and, in Chinese, what to do
// ("message").
func (h handler) scan(ctx context.Context) (*sdk.HandleResponse, error) {
	r, err := h.scanText(ctx)
	if err != nil {
		return nil, err
	}
	return explain(r)
}

// scanText answers a scan.
func (h handler) scanText(ctx context.Context) (*sdk.HandleResponse, error) {
	var p scanPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	switch {
	case strings.TrimSpace(p.Text) == "": // a scanner's bare CR/LF is an empty scan
		return invalid("$.text", "required", "text is required", `send the scanned text as {"text": "..."}`, nil)
	case len(p.Text) > maxScanText:
		return invalid("$.text", "length", fmt.Sprintf("text has %d bytes", len(p.Text)),
			fmt.Sprintf("a scanned code is at most %d bytes; check the scanner configuration", maxScanText), nil)
	}
	p.Text = withoutSymbologyID(halfWidth(p.Text))
	if p.Reveal && !h.cfg.revealAllowed {
		// Refused before the text is looked at: the same for QR codes and
		// temporary cards.
		return invalid("$.reveal", "not-allowed", "this site does not reveal identities through ecard.scan",
			"scan again without reveal: the reply then has the card number and the masked name, ID number and phone; a site whose callers are all trusted may set revealIdentity: true", nil)
	}
	if r, done, err := h.scanNumber(ctx, strings.TrimSpace(p.Text), p.Reveal); done || err != nil {
		return r, err
	}
	if card.ResidentIDCheckFails(p.Text) {
		return invalid("$.text", ResultNotECard, "the text looks like a resident ID number with a wrong check character",
			"its GB 11643 (ISO 7064 MOD 11-2) check character does not match: it was misread or mistyped; scan or type it again",
			scanRefusal{Result: ResultNotECard, LooksLike: KindResidentIDBadCheck})
	}
	if h.cfg.sealer.Classify(p.Text) == card.KindResidentID {
		return h.scanResidentID(ctx, strings.TrimSpace(p.Text))
	}
	claims, err := h.cfg.sealer.Open(p.Text)
	if err != nil {
		return refuse(claims, err)
	}
	if r, err := h.retiredKey(ctx, claims); r != nil || err != nil {
		return r, err
	}
	rec, _, err := getCard(ctx, h.host(), claims.CardNo)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return invalid("$.text", ResultUnknownCard, fmt.Sprintf("the code is authentic but card %s is unknown", claims.CardNo),
			"no such card is registered at this site; check that the code was issued by this site, or register the patient again",
			scanRefusal{Result: ResultUnknownCard, CardNo: claims.CardNo})
	case err != nil:
		return nil, err
	case rec.Status == statusDead:
		if rec, err = h.withLiveReplacement(ctx, rec); err != nil {
			return nil, err
		}
		return invalid("$.text", ResultRevoked, fmt.Sprintf("card %s is revoked", rec.CardNo), revokedDetail(rec),
			scanRefusal{Result: ResultRevoked, CardNo: rec.CardNo, RevokedAt: rec.RevokedAt, ReplacedBy: rec.ReplacedBy, WrongID: rec.WrongID})
	}
	view := rec.maskedView()
	if p.Reveal { // allowed: checked above
		view = rec.view()
	}
	return ok(scanReply{Result: ResultOK, cardView: view, IssuedAt: claims.IssuedAt, ExpiresAt: claims.ExpiresAt})
}

// withoutSymbologyID returns s without the AIM symbology identifier a
// scanner set to transmit it puts before what it read (ISO/IEC 15424: "]",
// the symbology's letter and a modifier character, such as "]Q1" for a QR
// code, "]C0" for a Code 128 temporary card), and without whitespace around
// it. No e-card code, card number, ID number or trace code starts with "]",
// so nothing else could be meant; without this, every scan at a counter
// whose scanner sends it was answered not-ecard, "无法识别的码", and scanning
// again could not help.
func withoutSymbologyID(s string) string {
	t := strings.TrimSpace(s)
	if len(t) > 3 && t[0] == ']' && isASCIILetter(t[1]) && (isASCIILetter(t[2]) || (t[2] >= '0' && t[2] <= '9')) {
		return strings.TrimSpace(t[3:])
	}
	return s
}

// isASCIILetter reports whether c is A–Z or a–z.
func isASCIILetter(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') }

// halfWidth returns s with the full-width forms of ASCII characters
// (U+FF01–U+FF5E: Ａ, ２, ｘ) and the ideographic space (U+3000) as the
// ASCII characters they stand for. A keyboard-wedge scanner types what it
// reads as key strokes, so while the PC's Chinese input method is in
// full-width mode (全角) a QR code, card number or ID number arrives in
// full-width forms; all of them are ASCII, so nothing else could be meant,
// and for a QR code the authentication decides as for any text.
func halfWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == 0x3000:
			return ' '
		}
		return r
	}, s)
}

// scanResidentID answers a scan of a resident ID number (valid check
// character): not an e-card code, but when the person has an e-card here,
// its number, status and the masked name, so the counter can ask for its
// QR code. Two state reads (up to four for a residence-permit number).
func (h handler) scanResidentID(ctx context.Context, id string) (*sdk.HandleResponse, error) {
	refusal := scanRefusal{Result: ResultNotECard, LooksLike: KindResidentID}
	detail := "look the patient up by ID number instead"
	// The 18-character numbers of residence permits (idType 09: 81, 82,
	// 83…) and 2023 permanent residence cards (idType 08: 9…) have the same
	// shape and check character; a person registered with one is found
	// under that type.
	types := []string{card.IDTypeResidentCard}
	switch n := card.NormalizeIDNumber(id); {
	case strings.HasPrefix(n, "81") || strings.HasPrefix(n, "82") || strings.HasPrefix(n, "83"):
		types = append(types, card.IDTypeHMTResidencePermit)
	case strings.HasPrefix(n, "9"):
		types = []string{card.IDTypeForeignPermanentResident}
	}
	// The person's card under either type: a live one if there is one
	// (a card revoked under one type may have been replaced under the
	// other), else the first one found.
	var found *cardRecord
	for _, typ := range types {
		ik, kerr := card.IdentityKey(h.cfg.identitySecret, card.Identity{IDType: typ, IDNumber: id})
		if kerr != nil {
			return nil, fmt.Errorf("derive the identity key of a scanned ID number: %w", kerr)
		}
		var person personRecord
		if _, err := getJSON(ctx, h.host(), keyPerson+ik, &person); errors.Is(err, sdk.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		rec, _, err := getCard(ctx, h.host(), person.CardNo)
		if errors.Is(err, sdk.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if rec.WrongID {
			continue // registered with this number by mistake: another person's card
		}
		if found == nil || rec.Status != statusDead {
			found = &rec
		}
		if rec.Status != statusDead {
			break
		}
	}
	if rec := found; rec != nil {
		refusal.CardNo, refusal.CardStatus, refusal.Name = rec.CardNo, rec.Status, card.MaskName(rec.Name)
		detail = fmt.Sprintf("the person has e-card %s (%s): ask for its QR code, or look the patient up by ID number", rec.CardNo, rec.Status)
	}
	return invalid("$.text", ResultNotECard, "the text is not a hospital e-card code: it is a resident ID number (居民身份证号)", detail, refusal)
}

// refuse turns an error of Sealer.Open into an invalid reply with a distinct
// rule per case.
func refuse(c card.Claims, err error) (*sdk.HandleResponse, error) {
	var notECard *card.NotECardError
	var expired *card.ExpiredError
	switch {
	case errors.As(err, &notECard) && notECard.Kind == card.KindECard:
		return invalid("$.text", ResultTampered, "the e-card code is malformed", detail(err, card.ErrNotECard)+"; ask the patient to show the code again",
			scanRefusal{Result: ResultTampered, Reason: "malformed"})
	case errors.As(err, &notECard):
		return invalid("$.text", ResultNotECard, "the text is not a hospital e-card code", detail(err, card.ErrNotECard),
			scanRefusal{Result: ResultNotECard, LooksLike: kindName(notECard.Kind)})
	case errors.Is(err, card.ErrUnknownKey):
		return invalid("$.text", ResultTampered, "the e-card code was sealed with an unknown key", detail(err, card.ErrUnknownKey)+
			"; or it is another hospital's e-card code, sealed by its own medgate under a key id of its own: register a patient of another hospital here",
			scanRefusal{Result: ResultTampered, Reason: "unknown-key"})
	case errors.Is(err, card.ErrTampered):
		return invalid("$.text", ResultTampered, "the e-card code failed authentication", detail(err, card.ErrTampered)+
			"; or it is another hospital's e-card code, sealed by its own medgate with its own key: scan again, and if it fails again, "+
			"check the patient's identity and register a patient of another hospital here for a card of this hospital; otherwise treat it as possible fraud",
			scanRefusal{Result: ResultTampered, Reason: "authentication"})
	case errors.Is(err, card.ErrLegacyCode):
		// No card number either: a version-1 code may be another site's.
		return invalid("$.text", ResultOldFormat, "the e-card code is of the old format (version 1), which this site no longer accepts",
			detail(err, card.ErrLegacyCode)+" (this site sets acceptV1Codes: false)",
			scanRefusal{Result: ResultOldFormat})
	case errors.Is(err, card.ErrOtherSite):
		// No card number in the reply: at this site it may be another
		// patient's.
		return invalid("$.text", ResultOtherSite, "the e-card code was printed at another site", detail(err, card.ErrOtherSite),
			scanRefusal{Result: ResultOtherSite})
	case errors.As(err, &expired):
		return invalid("$.text", ResultExpired, fmt.Sprintf("the e-card code of card %s has expired", c.CardNo), err.Error(),
			scanRefusal{Result: ResultExpired, CardNo: c.CardNo, IssuedAt: &c.IssuedAt, ExpiresAt: &expired.ExpiresAt})
	case errors.Is(err, card.ErrNotYetValid):
		return invalid("$.text", ResultNotYetValid, fmt.Sprintf("the e-card code of card %s is not valid yet", c.CardNo), detail(err, card.ErrNotYetValid),
			scanRefusal{Result: ResultNotYetValid, CardNo: c.CardNo, IssuedAt: &c.IssuedAt, ExpiresAt: &c.ExpiresAt})
	}
	return nil, fmt.Errorf("open the scanned code: %w", err)
}

// detail is err's message without the leading text of the sentinel it
// wraps, which the diagnostic's summary already says.
func detail(err, sentinel error) string {
	msg := err.Error()
	if d, ok := strings.CutPrefix(msg, sentinel.Error()+": "); ok {
		return d
	}
	return msg
}
