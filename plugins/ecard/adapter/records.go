package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// State key prefixes and the sequence name; see the package documentation.
const (
	keyCard   = "card/"
	keyPerson = "person/"
	// keyNumber + the identity key of a number as idType 01 is written
	// with every claim on a number valid under two ID types (see
	// aliasIDType), whichever type it is registered under.
	keyNumber = "number/"
	keyTemp   = "temp/"
	// keyPrefix + a cardPrefix holds its prefixRecord.
	keyPrefix = "prefix/"
	keyRecent = "recent/"
	// keyQRKey + a qrKeys id holds a qrKeyRecord.
	keyQRKey   = "qrkey/"
	seqCardNo  = "ecard.cardNo"
	maxCASTry  = 16
	maxNumber  = 32 // longest card or temporary-card number accepted as input
	maxReason  = 200
	statusLive = "active"
	statusDead = "revoked"
)

// errBusy means a compare-and-set kept conflicting; the message may be
// retried.
var errBusy = errors.New("ecard: state changed concurrently too many times; retry the message")

// cardRecord is the state of one e-card, stored at card/<cardNo>.
type cardRecord struct {
	CardNo      string `json:"cardNo"`
	Seq         int64  `json:"seq"`
	IdentityKey string `json:"identityKey"`
	Name        string `json:"name"`
	IDType      string `json:"idType"`
	IDNumber    string `json:"idNumber"`
	// IssuingCountry is a passport's issuing state; empty for other types
	// and for passports registered before it was recorded.
	IssuingCountry string `json:"issuingCountry,omitempty"`
	Phone          string `json:"phone"`
	Gender         string `json:"gender,omitempty"`
	BirthDate      string `json:"birthDate,omitempty"`
	// Guardian and BirthOrder are set for a newborn registered under its
	// guardian, without an ID of its own (IDType and IDNumber empty, Phone
	// the guardian's); IdentityKey is then the newborn's key (see
	// card.IdentityKey).
	Guardian   *card.Guardian `json:"guardian,omitempty"`
	BirthOrder int            `json:"birthOrder,omitempty"`
	Status     string         `json:"status"`
	// RegisteredAt is when the card was issued.
	RegisteredAt time.Time  `json:"registeredAt"`
	RevokedAt    *time.Time `json:"revokedAt,omitempty"`
	RevokeReason string     `json:"revokeReason,omitempty"`
	// RevokedBy is the id of the message that revoked the card.
	RevokedBy string `json:"revokedBy,omitempty"`
	// WrongID marks a card revoked because it was registered with another
	// person's ID number (ecard.revoke with wrongId): the person of the
	// number is not its holder, so a card later registered with the number
	// does not replace it.
	WrongID bool `json:"wrongId,omitempty"`
	// WrongIDMarkedAt is when a card already revoked was marked WrongID
	// (ecard.revoke again with wrongId); nil when it was revoked so at
	// once. The revocation's own event then goes out without wrongId, and
	// the mark is announced by an ecard.revoked of its own (see
	// WrongIDAnnounced).
	WrongIDMarkedAt *time.Time `json:"wrongIdMarkedAt,omitempty"`
	// TempCards are the linked temporary-card numbers, in link order.
	TempCards []string `json:"tempCards,omitempty"`
	// PreviousCardNo is the revoked card this one replaced; ReplacedBy is the
	// card that replaced this revoked one.
	PreviousCardNo string `json:"previousCardNo,omitempty"`
	ReplacedBy     string `json:"replacedBy,omitempty"`
	// LastRename is the last correction of the name (ecard.rename), and
	// EarlierRenames the ones before it, oldest first (at most
	// maxEarlierCorrections).
	LastRename     *renameNote  `json:"lastRename,omitempty"`
	EarlierRenames []renameNote `json:"earlierRenames,omitempty"`
	// LastPhone is the last correction of the phone (ecard.phone.correct),
	// and EarlierPhones the ones before it, as for the name.
	LastPhone     *phoneNote  `json:"lastPhone,omitempty"`
	EarlierPhones []phoneNote `json:"earlierPhones,omitempty"`
	// NameConfirmed and PhoneConfirmed are the newest correction message
	// that found the field as it asked (nothing to change), when it was
	// received after the field's last correction: a correction received
	// before it is refused as superseded (see supersededBy). Cleared by the
	// next correction of the field.
	NameConfirmed  *correction `json:"nameConfirmed,omitempty"`
	PhoneConfirmed *correction `json:"phoneConfirmed,omitempty"`
	// RegisteredBy is the id of the message that created the card, so that
	// the message, redelivered, gets the reply of a creation again.
	RegisteredBy string `json:"registeredBy,omitempty"`
	// Announced and RevocationAnnounced record that the events were
	// published, so a crash before publishing is repaired on the next call.
	Announced           bool `json:"announced,omitempty"`
	RevocationAnnounced bool `json:"revocationAnnounced,omitempty"`
	// WrongIDAnnounced records that the ecard.revoked of a later wrongId
	// mark (WrongIDMarkedAt) was published.
	WrongIDAnnounced bool `json:"wrongIdAnnounced,omitempty"`
}

// personRecord is stored at person/<identityKey>. It holds no personal
// data.
//
// A registration that issues a card writes it with the card record, in one
// sdk.WriteState, person first: the claim (Seq, RegisteredBy,
// PreviousCardNo, ClaimedAt) is what is needed to write the card record
// again with the same number if the instance dies between the two writes
// on a host that makes them one by one (see completeClaim). Records
// written before claims were kept have only CardNo.
type personRecord struct {
	CardNo string `json:"cardNo"`
	// Seq is the sequence value CardNo was formatted from.
	Seq int64 `json:"seq,omitempty"`
	// RegisteredBy is the id of the message that claimed the person for
	// CardNo.
	RegisteredBy string `json:"registeredBy,omitempty"`
	// PreviousCardNo is the person's revoked card that CardNo replaces.
	PreviousCardNo string `json:"previousCardNo,omitempty"`
	// ClaimedAt is when the claim was made: the card's registration time.
	ClaimedAt time.Time `json:"claimedAt,omitzero"`
}

// prefixRecord is stored at prefix/<cardPrefix> by the first registration
// that draws a number under the prefix. The site has one counter
// (seqCardNo) whatever its prefix; a card number's digits are formatted
// from the counter's value minus Base. Base is 0 for a prefix first used
// while the counter fit cardWidth (every prefix of before this record:
// their numbers stay as they were), and the counter's value − 1 for a
// prefix first used after the counter passed cardWidth, which so starts
// its own numbers at 1, unless a card number starts with it already (a
// prefix used before these records): that one keeps 0. It holds no
// personal data.
type prefixRecord struct {
	Base int64 `json:"base"`
	// Since is when the record was written.
	Since time.Time `json:"since"`
}

// tempRecord is stored at temp/<tempCardNo>.
type tempRecord struct {
	CardNo   string    `json:"cardNo"`
	LinkedAt time.Time `json:"linkedAt"`
	// LinkedBy is the id of the message that made the link.
	LinkedBy string `json:"linkedBy,omitempty"`
	// MovedFrom is the revoked card the link was moved from, to the card
	// that replaced it or, for a newborn card, to the card of the child
	// registered with its own ID (ecard.link with previousCardNo).
	MovedFrom string `json:"movedFrom,omitempty"`
}

// recentItem is one row of the recent-cards work list, stored at
// recent/<inverted seq>. Personal data is masked.
type recentItem struct {
	CardNo   string `json:"cardNo"`
	Name     string `json:"name"`
	IDType   string `json:"idType"`
	IDNumber string `json:"idNumber"`
	Phone    string `json:"phone"`
	// GuardianName is the masked name of a newborn's guardian.
	GuardianName string    `json:"guardianName,omitempty"`
	Status       string    `json:"status"`
	RegisteredAt time.Time `json:"registeredAt"`
	// RevokedAt is when a revoked card was revoked (the work list's
	// revokedAt column).
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

func (r *cardRecord) recent() recentItem {
	return recentItem{
		CardNo:       r.CardNo,
		Name:         card.MaskName(r.Name),
		IDType:       r.IDType,
		IDNumber:     card.MaskIDNumber(r.IDNumber),
		Phone:        card.MaskPhone(r.Phone),
		GuardianName: guardianName(r.Guardian),
		Status:       r.Status,
		RegisteredAt: r.RegisteredAt,
		RevokedAt:    r.RevokedAt,
	}
}

// guardianName is the masked name of guardian g, or "" without one.
func guardianName(g *card.Guardian) string {
	if g == nil {
		return ""
	}
	return card.MaskName(g.Name)
}

// recentKey orders the work list newest first: Scan returns keys in
// ascending order, so the sequence is inverted.
func recentKey(seq int64) string { return fmt.Sprintf("%s%019d", keyRecent, math.MaxInt64-seq) }

// getJSON reads key into v and returns its version. It returns an error
// matching sdk.ErrNotFound when the key does not exist.
func getJSON(ctx context.Context, h sdk.Host, key string, v any) (int64, error) {
	e, err := h.Get(ctx, key)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return 0, err
		}
		return 0, fmt.Errorf("ecard: read state %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return 0, fmt.Errorf("ecard: decode state %s: %w; the record is damaged, restore it from a backup", key, err)
	}
	return e.Version, nil
}

// casJSON writes v at key if the key is at version expect. It returns an
// error matching sdk.ErrConflict when it is not.
func casJSON(ctx context.Context, h sdk.Host, key string, expect int64, v any) (int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("ecard: encode state %s: %w", key, err)
	}
	ver, err := h.CompareAndSet(ctx, key, expect, b)
	if err != nil && !errors.Is(err, sdk.ErrConflict) {
		return 0, fmt.Errorf("ecard: write state %s: %w", key, err)
	}
	return ver, err
}

func putJSON(ctx context.Context, h sdk.Host, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("ecard: encode state %s: %w", key, err)
	}
	if _, err := h.Put(ctx, key, b); err != nil {
		return fmt.Errorf("ecard: write state %s: %w", key, err)
	}
	return nil
}

func getCard(ctx context.Context, h sdk.Host, cardNo string) (cardRecord, int64, error) {
	var rec cardRecord
	ver, err := getJSON(ctx, h, keyCard+cardNo, &rec)
	return rec, ver, err
}

// updateCard applies change to the card's record with compare-and-set,
// re-reading and re-applying on conflict. change reports whether anything
// must be written. The error matches sdk.ErrNotFound when the card does not
// exist, and is errBusy when the record kept changing.
func updateCard(ctx context.Context, h sdk.Host, cardNo string, change func(*cardRecord) bool) (cardRecord, error) {
	for range maxCASTry {
		rec, ver, err := getCard(ctx, h, cardNo)
		if err != nil {
			return cardRecord{}, err
		}
		if !change(&rec) {
			return rec, nil
		}
		_, err = casJSON(ctx, h, keyCard+cardNo, ver, &rec)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return cardRecord{}, err
		}
		return rec, nil
	}
	return cardRecord{}, errBusy
}

// validNumber reports whether s may be used as a card or temporary-card
// number in a state key: 1–32 characters of A–Z, a–z, 0–9, '-' and '_'.
func validNumber(s string) bool {
	if s == "" || len(s) > maxNumber {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
