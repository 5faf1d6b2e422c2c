package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
	"golang.org/x/text/unicode/norm"
)

// registerReply is the payload of a successful ecard.register.
type registerReply struct {
	CardNo string `json:"cardNo"`
	// Created is false when the person already had a card.
	Created      bool      `json:"created"`
	Status       string    `json:"status"`
	RegisteredAt time.Time `json:"registeredAt"`
	// PreviousCardNo is the person's revoked card this one replaces.
	PreviousCardNo string `json:"previousCardNo,omitempty"`
	// TempCardNo is the temporary card the registration linked to the
	// e-card (tempCardNo in the request).
	TempCardNo string `json:"tempCardNo,omitempty"`
}

// registerPayload is the input of ecard.register: the identity and,
// optionally, the temporary card the patient holds, linked to the e-card
// in the same call (as ecard.link does).
// Its identity fields are card.Identity's, listed here (not embedded) so
// that decoding errors name "$.name", not "$.Identity.name".
type registerPayload struct {
	Name     string `json:"name"`
	IDType   string `json:"idType"`
	IDNumber string `json:"idNumber"`
	// IssuingCountry is a passport's issuing state (see card.Identity).
	IssuingCountry string `json:"issuingCountry"`
	Phone          string `json:"phone"`
	Gender         string `json:"gender"`
	BirthDate      string `json:"birthDate"`
	TempCardNo     string `json:"tempCardNo"`
	// Guardian and BirthOrder register a newborn without an ID of its own
	// under its guardian (see card.Identity).
	Guardian   *card.Guardian `json:"guardian"`
	BirthOrder int            `json:"birthOrder"`
}

// registeredEvent is the payload of the "ecard.registered" event. It holds
// no raw personal data; HIS systems read the identity with ecard.get.
type registeredEvent struct {
	CardNo         string    `json:"cardNo"`
	Status         string    `json:"status"`
	RegisteredAt   time.Time `json:"registeredAt"`
	IDType         string    `json:"idType"`
	Name           string    `json:"name"`
	PreviousCardNo string    `json:"previousCardNo,omitempty"`
	// Newborn is true for a newborn registered under its guardian (it has
	// no idType of its own).
	Newborn bool `json:"newborn,omitempty"`
}

// register serves ecard.register: one person, one card.
func (h handler) register(ctx context.Context) (*sdk.HandleResponse, error) {
	start := h.a.now()
	var p registerPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	id := card.Identity{Name: p.Name, IDType: p.IDType, IDNumber: p.IDNumber, IssuingCountry: p.IssuingCountry, Phone: p.Phone, Gender: p.Gender, BirthDate: p.BirthDate,
		Guardian: p.Guardian, BirthOrder: p.BirthOrder}
	id = halfWidthIdentity(id)
	p.TempCardNo = strings.TrimSpace(halfWidth(p.TempCardNo))
	fes := card.ValidateIdentityAt(id, h.a.now())
	var ds sdk.Diagnostics
	for _, fe := range fes {
		s, d := splitMessage(fe.Message)
		ds = append(ds, sdk.Diagnostic{Severity: sdk.SeverityError, Field: fe.Field, Rule: fe.Rule, Summary: zhSummary(fe.Field, fe.Rule, s), Detail: d})
	}
	if p.TempCardNo != "" {
		ds = append(ds, h.checkTempCardNo(p.TempCardNo)...)
	}
	if ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	r, err := h.registerIdentity(ctx, id, start)
	if err != nil || p.TempCardNo == "" || r.Status != sdk.StatusOK {
		return r, err
	}
	return h.linkRegistered(ctx, r, p.TempCardNo)
}

// halfWidthIdentity returns id with the full-width forms of ASCII
// characters read as ASCII (see halfWidth) in its codes and numbers: ID
// type and number, issuing state, phone, gender, birth date, and the
// guardian's. A cashier typing while the Chinese input method is in
// full-width mode (全角) enters them so, and all of them are ASCII; names
// are kept as typed.
func halfWidthIdentity(id card.Identity) card.Identity {
	id.IDType, id.IDNumber, id.IssuingCountry = halfWidth(id.IDType), halfWidth(id.IDNumber), halfWidth(id.IssuingCountry)
	id.Phone, id.Gender, id.BirthDate = halfWidth(id.Phone), halfWidth(id.Gender), halfWidth(id.BirthDate)
	if id.Guardian != nil {
		g := *id.Guardian
		g.IDType, g.IDNumber, g.IssuingCountry = halfWidth(g.IDType), halfWidth(g.IDNumber), halfWidth(g.IssuingCountry)
		g.Phone, g.Relation = halfWidth(g.Phone), halfWidth(g.Relation)
		id.Guardian = &g
	}
	return id
}

// linkRegistered links the temporary card given with a registration to
// the card in the registration's reply r. A link the temporary card
// cannot take (it is linked to another e-card) leaves the registration as
// it is, with a warning.
func (h handler) linkRegistered(ctx context.Context, r *sdk.HandleResponse, tempNo string) (*sdk.HandleResponse, error) {
	var reply registerReply
	if err := json.Unmarshal(r.Payload, &reply); err != nil {
		return nil, fmt.Errorf("read the registration's reply: %w", err)
	}
	lr, err := h.linkCards(ctx, linkPayload{CardNo: reply.CardNo, TempCardNo: tempNo})
	if err != nil {
		return nil, err
	}
	if lr.Status != sdk.StatusOK {
		for _, d := range lr.Diagnostics {
			d.Severity = sdk.SeverityWarning
			d.Detail = "the e-card is registered, the temporary card was not linked: " + d.Detail
			r.Diagnostics = append(r.Diagnostics, d)
		}
		return r, nil
	}
	reply.TempCardNo = tempNo
	out, err := ok(reply, r.Diagnostics...)
	return out, err
}

// registerIdentity registers a checked identity.
func (h handler) registerIdentity(ctx context.Context, id card.Identity, start time.Time) (*sdk.HandleResponse, error) {
	id.Name = strings.TrimSpace(id.Name)
	id.IDNumber = card.NormalizeIDNumber(id.IDNumber)
	id.IssuingCountry = card.NormalizeIssuingCountry(id.IssuingCountry)
	id.Phone = card.NormalizePhone(id.Phone)
	if id.Guardian != nil {
		// A newborn: the guardian's phone is the card's contact.
		g := *id.Guardian
		g.Name, g.IDNumber, g.Phone = strings.TrimSpace(g.Name), card.NormalizeIDNumber(g.IDNumber), card.NormalizePhone(g.Phone)
		g.IssuingCountry = card.NormalizeIssuingCountry(g.IssuingCountry)
		id.Guardian, id.IDType, id.IDNumber, id.Phone = &g, "", "", g.Phone
	}
	ik, err := card.IdentityKey(h.cfg.identitySecret, id)
	if err != nil {
		return nil, fmt.Errorf("derive the identity key: %w", err)
	}
	host := h.host()
	numKey, err := h.numberKey(id)
	if err != nil {
		return nil, err
	}

	for range maxCASTry {
		// Read first: a registration of the number under its other type
		// that claims after this read makes this round's claim conflict.
		var numVer int64
		if numKey != "" {
			var last personRecord
			if numVer, err = getJSON(ctx, host, numKey, &last); errors.Is(err, sdk.ErrNotFound) {
				numVer = 0
			} else if err != nil {
				return nil, err
			}
		}
		var person personRecord
		personVer, err := getJSON(ctx, host, keyPerson+ik, &person)
		previous := ""
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			personVer = 0
			// The same number may be registered under another ID type
			// (a residence permit as 01 or as 09): same person, same card,
			// and a revoked one is replaced as under this type.
			if rec, found, err := h.aliasCard(ctx, id); err != nil {
				return nil, err
			} else if found && rec.Status != statusDead {
				return h.registered(ctx, rec, id, false, start)
			} else if found && rec.ReplacedBy == "" && !rec.WrongID {
				previous = rec.CardNo
			}
			// A passport holder registered before the issuing state was
			// recorded is keyed by the number alone.
			if rec, found, err := h.legacyPassportCard(ctx, ik, id); errors.Is(err, sdk.ErrConflict) {
				continue // adopted or changed meanwhile: read it again
			} else if err != nil {
				return nil, err
			} else if found && rec.Status == statusDead {
				continue // adopted revoked: the next round replaces it
			} else if found {
				return h.registered(ctx, rec, id, false, start)
			}
		case err != nil:
			return nil, err
		default:
			rec, _, err := getCard(ctx, host, person.CardNo)
			switch {
			case err == nil && person.RegisteredBy != "" && rec.IdentityKey != ik:
				// The claim's number turned out to be another person's card
				// (issued under an earlier rule), and the host wrote the
				// claim before refusing the card record: claim anew.
				previous = person.PreviousCardNo
			case err == nil && rec.Status != statusDead && rec.RegisteredBy != "" && rec.RegisteredBy == h.req.MessageID:
				// This message created the card and is redelivered: finish
				// and answer as the first handling did.
				if err := h.markReplaced(ctx, &rec); err != nil {
					return nil, err
				}
				return h.registered(ctx, rec, id, true, start)
			case err == nil && rec.Status != statusDead:
				return h.registered(ctx, rec, id, false, start)
			case err == nil:
				// Revoked: issue a replacement, unless the number has a
				// card under its other ID type registered since (see
				// aliasCard): that one, or its replacement, is the person's.
				alias, found, err := h.aliasCard(ctx, id)
				switch {
				case err != nil:
					return nil, err
				case found && alias.Status != statusDead:
					return h.registered(ctx, alias, id, false, start)
				case found && rec.ReplacedBy != "" && alias.ReplacedBy == "":
					if !alias.WrongID {
						previous = alias.CardNo
					}
				case !rec.WrongID:
					previous = rec.CardNo
				}
				// A card revoked as registered with another person's ID
				// number (wrongId) is not this person's: the new card
				// replaces nothing.
			case errors.Is(err, sdk.ErrNotFound) && person.RegisteredBy != "":
				// Claimed, but the card record was never written: the
				// instance died between the two writes, or the claiming
				// registration is still running.
				r, err := h.completeClaim(ctx, ik, id, person, start)
				if errors.Is(err, sdk.ErrConflict) {
					continue // the card record was written meanwhile: read it
				}
				return r, err
			case errors.Is(err, sdk.ErrNotFound):
				// A person record of before claims were kept that points
				// at a card record removed by hand: issue a new card.
			default:
				return nil, err
			}
		}

		seq, err := host.NextSequence(ctx, seqCardNo)
		if err != nil {
			return nil, fmt.Errorf("allocate a card number from sequence %s: %w", seqCardNo, err)
		}
		// The number's place in the range of the site's cardPrefix.
		idx, err := h.prefixIndex(ctx, seq)
		if err != nil {
			return nil, err
		}
		if idx < 0 {
			continue // drawn before the prefix's range began: skipped
		}
		var cardNo string
		if h.cfg.perm != nil {
			cardNo, err = h.cfg.rule.FormatShuffled(idx, h.cfg.perm)
		} else {
			cardNo, err = h.cfg.rule.Format(idx)
		}
		if errors.Is(err, card.ErrSequenceExhausted) {
			return &sdk.HandleResponse{Status: sdk.StatusFailed, Diagnostics: sdk.Diagnostics{{
				Rule: "sequence", Summary: fmt.Sprintf("the card numbers of cardPrefix %s are exhausted", h.cfg.rule.Prefix),
				Detail: fmt.Sprintf("number %d of cardPrefix %s does not fit cardWidth %d; widen cardWidth, or configure a cardPrefix not used before (it starts its own numbers), then resend",
					idx, h.cfg.rule.Prefix, h.cfg.rule.Width),
			}}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("format card number %d of cardPrefix %s: %w", idx, h.cfg.rule.Prefix, err)
		}
		// A number that exists was issued under an earlier rule: skip it.
		if _, _, err := getCard(ctx, host, cardNo); err == nil {
			continue
		} else if !errors.Is(err, sdk.ErrNotFound) {
			return nil, err
		}
		rec := cardRecord{
			CardNo: cardNo, Seq: seq, IdentityKey: ik,
			Name: id.Name, IDType: id.IDType, IDNumber: id.IDNumber, IssuingCountry: id.IssuingCountry, Phone: id.Phone, Gender: id.Gender, BirthDate: id.BirthDate,
			Guardian: id.Guardian, BirthOrder: id.BirthOrder,
			Status: statusLive, RegisteredAt: h.a.now().UTC().Truncate(time.Second), PreviousCardNo: previous,
			RegisteredBy: h.req.MessageID,
		}
		claim := personRecord{CardNo: cardNo, Seq: seq, RegisteredBy: h.req.MessageID, PreviousCardNo: previous, ClaimedAt: rec.RegisteredAt}
		// The claim on the person and the card record go in one
		// WriteState: one transaction on medgate's stores. A host that
		// makes them one by one writes the claim first, so an instance
		// that dies in between leaves a claim that completeClaim turns
		// into the card with the same number, never a card record that
		// no person points at. The claim's compare-and-set decides a race
		// between registrations of the same person; the loser's number is
		// skipped, never reused.
		if conflict, err := h.claimAndWrite(ctx, ik, personVer, numKey, numVer, claim, &rec); err != nil {
			return nil, err
		} else if conflict {
			continue
		}
		if err := h.markReplaced(ctx, &rec); err != nil {
			return nil, err
		}
		return h.registered(ctx, rec, id, true, start)
	}
	return nil, errBusy
}

// prefixIndex returns the place of sequence value seq (from the site's
// one counter, seqCardNo) in the numbers of the site's cardPrefix: seq
// minus the prefix's base (see prefixRecord). The first registration
// under a prefix records its base: 0 while seq fits cardWidth, so a prefix
// in use goes on with the counter as it always has, and seq−1 once the
// counter has passed the width (the numbers of an earlier prefix are
// exhausted) and no card number starts with the prefix, so a new prefix
// starts its own numbers at 1 instead of being exhausted too. The base is written with compare-and-set, so every
// instance uses the same one; an index below 0 is a value drawn before
// the base another instance recorded, which the caller skips.
func (h handler) prefixIndex(ctx context.Context, seq int64) (int64, error) {
	key := keyPrefix + h.cfg.rule.Prefix
	capacity := int64(1)
	for range h.cfg.rule.Width {
		capacity *= 10
	}
	for range maxCASTry {
		var pr prefixRecord
		_, err := getJSON(ctx, h.host(), key, &pr)
		if err == nil {
			return seq - pr.Base, nil
		}
		if !errors.Is(err, sdk.ErrNotFound) {
			return 0, err
		}
		pr = prefixRecord{Base: 0, Since: h.a.now().UTC().Truncate(time.Second)}
		if seq >= capacity {
			// A prefix that has cards (used before prefixes had records,
			// or one whose card numbers start with it) keeps base 0 and
			// stays exhausted: starting it again at 1 would walk through
			// numbers that are taken.
			used, err := h.host().Scan(ctx, keyCard+h.cfg.rule.Prefix, 1)
			if err != nil {
				return 0, fmt.Errorf("ecard: look for cards of cardPrefix %s: %w", h.cfg.rule.Prefix, err)
			}
			if len(used) == 0 {
				pr.Base = seq - 1
			}
		}
		if _, err := casJSON(ctx, h.host(), key, 0, &pr); errors.Is(err, sdk.ErrConflict) {
			continue // another registration recorded it: read it
		} else if err != nil {
			return 0, err
		}
		return seq - pr.Base, nil
	}
	return 0, errBusy
}

// claimAndWrite writes the claim on the person (at version personVer) and
// the new card record rec (which must not exist) in one sdk.WriteState.
// When numKey is set (see numberKey) the claim is written there too, first,
// at version numVer. It reports conflict when an expectation did not hold:
// a concurrent registration of the same person won (under this ID type or,
// through numKey, under the other type of the number), or the number was
// taken. On a host that writes one by one the claim may then be written
// without the card record; the next round of registerIdentity sees it (a
// claim pointing at another person's card) and claims anew.
func (h handler) claimAndWrite(ctx context.Context, ik string, personVer int64, numKey string, numVer int64, claim personRecord, rec *cardRecord) (conflict bool, err error) {
	pb, err := json.Marshal(claim)
	if err != nil {
		return false, fmt.Errorf("ecard: encode state %s: %w", keyPerson+ik, err)
	}
	cb, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("ecard: encode state %s: %w", keyCard+rec.CardNo, err)
	}
	var writes []sdk.StateWrite
	if numKey != "" {
		writes = append(writes, sdk.StateWrite{Key: numKey, Value: pb, Expect: numVer})
	}
	writes = append(writes,
		sdk.StateWrite{Key: keyPerson + ik, Value: pb, Expect: personVer},
		sdk.StateWrite{Key: keyCard + rec.CardNo, Value: cb, Expect: 0},
	)
	_, err = sdk.WriteState(ctx, h.host(), writes)
	if errors.Is(err, sdk.ErrConflict) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("ecard: write state %s and %s for card %s: %w", keyPerson+ik, keyCard+rec.CardNo, rec.CardNo, err)
	}
	return false, nil
}

// completeClaim finishes a registration whose claim on the person (see
// personRecord) was written without its card record: it writes the card
// record under the claimed number, sequence, previous card and time, with
// the identity id (the same person: same identity key). The claiming
// message, redelivered after its instance died, completes it at once and
// answers as the creation it is. Another registration of the same person
// completes it only once the claim is older than announceGrace, so it
// does not race the claiming registration while that one still runs; until
// then it answers errBusy and the host retries it. The error matches
// sdk.ErrConflict when the card record was written meanwhile.
func (h handler) completeClaim(ctx context.Context, ik string, id card.Identity, claim personRecord, start time.Time) (*sdk.HandleResponse, error) {
	own := claim.RegisteredBy == h.req.MessageID
	if !own && h.a.now().Sub(claim.ClaimedAt) <= announceGrace {
		return nil, errBusy
	}
	rec := cardRecord{
		CardNo: claim.CardNo, Seq: claim.Seq, IdentityKey: ik,
		Name: id.Name, IDType: id.IDType, IDNumber: id.IDNumber, IssuingCountry: id.IssuingCountry, Phone: id.Phone, Gender: id.Gender, BirthDate: id.BirthDate,
		Guardian: id.Guardian, BirthOrder: id.BirthOrder,
		Status: statusLive, RegisteredAt: claim.ClaimedAt, PreviousCardNo: claim.PreviousCardNo,
		RegisteredBy: claim.RegisteredBy,
	}
	if _, err := casJSON(ctx, h.host(), keyCard+rec.CardNo, 0, &rec); err != nil {
		return nil, err
	}
	if err := h.markReplaced(ctx, &rec); err != nil {
		return nil, err
	}
	return h.registered(ctx, rec, id, own, start)
}

// markReplaced records on the revoked card rec.PreviousCardNo (if any)
// that rec replaced it. That card may have been marked wrongId since the
// registration read it (ecard.revoke, which marks only a card no card
// replaces yet): both change it by compare-and-set, and the first stands.
// When the mark came first, rec replaces nothing: its PreviousCardNo is
// cleared, in rec and in its record, so neither a scan of the wrong card
// nor a link of its temporary cards leads to the number holder's card.
func (h handler) markReplaced(ctx context.Context, rec *cardRecord) error {
	previous, cardNo := rec.PreviousCardNo, rec.CardNo
	if previous == "" {
		return nil
	}
	wrongID := false
	_, err := updateCard(ctx, h.host(), previous, func(r *cardRecord) bool {
		wrongID = r.WrongID && r.ReplacedBy == ""
		if r.ReplacedBy == cardNo || wrongID {
			return false
		}
		r.ReplacedBy = cardNo
		return true
	})
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("mark card %s as replaced: %w", previous, err)
	}
	if !wrongID {
		return nil
	}
	h.a.log.Warn("registration: the card it would replace was marked wrongId meanwhile; the new card replaces nothing",
		"cardNo", cardNo, "previousCardNo", previous)
	updated, err := updateCard(ctx, h.host(), cardNo, func(r *cardRecord) bool {
		if r.PreviousCardNo != previous {
			return false
		}
		r.PreviousCardNo = ""
		return true
	})
	if err != nil {
		return fmt.Errorf("card %s replaces card %s, marked wrongId meanwhile: clear its previousCardNo: %w", cardNo, previous, err)
	}
	*rec = updated
	return nil
}

// aliasIDType returns the other ID type under which number num of type
// idType may have been registered, or "". A 港澳台居民居住证 number (18
// characters starting with 81, 82 or 83) is valid both as idType 09 and,
// being in the GB 11643 number space, as 01 or 02, which IdentityKey keys
// apart.
func aliasIDType(idType, num string) string {
	if len(num) != 18 || !(strings.HasPrefix(num, "81") || strings.HasPrefix(num, "82") || strings.HasPrefix(num, "83")) {
		return ""
	}
	switch idType {
	case card.IDTypeResidentCard, card.IDTypeHouseholdRegister:
		return card.IDTypeHMTResidencePermit
	case card.IDTypeHMTResidencePermit:
		return card.IDTypeResidentCard
	}
	return ""
}

// numberKey returns the state key that every registration of id's number
// claims, under either of its ID types (see aliasIDType): keyNumber and the
// identity key of the number as idType 01. It is "" for other numbers,
// which one person key covers. The two types key the number apart (the
// person keys of cards registered under either stay as they are), so two
// registrations at once, one per type, would each find no card under the
// other type and both issue one; each writes its claim here as well, at the
// version read before it looked, so the second one's claim conflicts and
// its next round finds the first one's card.
func (h handler) numberKey(id card.Identity) (string, error) {
	if id.Guardian != nil || aliasIDType(id.IDType, id.IDNumber) == "" {
		return "", nil
	}
	ik, err := card.IdentityKey(h.cfg.identitySecret, card.Identity{IDType: card.IDTypeResidentCard, IDNumber: id.IDNumber})
	if err != nil {
		return "", fmt.Errorf("derive the identity key of the number: %w", err)
	}
	return keyNumber + ik, nil
}

// aliasCard returns the card, live or revoked, of the person registered with
// id's number under its alias ID type (see aliasIDType), if there is one.
// Both types are one person: a live card under either is the person's card,
// and a revoked one not replaced yet is the card a new registration, under
// either type, replaces.
func (h handler) aliasCard(ctx context.Context, id card.Identity) (cardRecord, bool, error) {
	alt := aliasIDType(id.IDType, id.IDNumber)
	if alt == "" {
		return cardRecord{}, false, nil
	}
	ik, err := card.IdentityKey(h.cfg.identitySecret, card.Identity{IDType: alt, IDNumber: id.IDNumber})
	if err != nil {
		return cardRecord{}, false, fmt.Errorf("derive the identity key: %w", err)
	}
	var person personRecord
	if _, err := getJSON(ctx, h.host(), keyPerson+ik, &person); errors.Is(err, sdk.ErrNotFound) {
		return cardRecord{}, false, nil
	} else if err != nil {
		return cardRecord{}, false, err
	}
	rec, _, err := getCard(ctx, h.host(), person.CardNo)
	if errors.Is(err, sdk.ErrNotFound) {
		return cardRecord{}, false, nil
	}
	if err != nil {
		return cardRecord{}, false, err
	}
	return rec, true, nil
}

// legacyPassportCard returns the card of a passport holder registered
// before the issuing state was part of the key (card.IdentityKey without
// IssuingCountry: the number alone), when it is id's. A passport number is
// unique only within its issuing state, so the number alone does not tell
// whose card it is: the card is id's only when it records no issuing state
// yet and its holder is id's person by sameHolder: the same name, written
// alike or not, and no other birth date (a newborn's card: its guardian's
// name, the birth date being in the key already). The first such registration adopts
// the card for id's issuing state: person/<ik> (ik is id's key) then
// points at it and the card records the state, in one sdk.WriteState, so
// the holder's next registrations find it under ik, and a holder of the
// same number from another state gets a card of their own. A revoked card
// is adopted too, so that person/<ik> points at it as at any person's
// revoked card: the caller's next round issues its replacement (with
// previousCardNo, the old card's replacedBy, and its temporary cards free
// to move), as a registration does after any revocation. The error
// matches sdk.ErrConflict when another registration adopted the card or
// the card changed meanwhile. A holder whose name was misspelt at either
// registration, or given in another order without both birth dates, gets a
// new card: a duplicate the HIS can merge, where a shared card would mix
// two patients' records.
func (h handler) legacyPassportCard(ctx context.Context, ik string, id card.Identity) (cardRecord, bool, error) {
	legacy, holder := id, id.Name
	switch {
	case id.Guardian != nil && id.Guardian.IDType == card.IDTypePassport:
		g := *id.Guardian
		g.IssuingCountry, holder = "", g.Name
		legacy.Guardian = &g
	case id.Guardian == nil && id.IDType == card.IDTypePassport:
		legacy.IssuingCountry = ""
	default:
		return cardRecord{}, false, nil
	}
	lk, err := card.IdentityKey(h.cfg.identitySecret, legacy)
	if err != nil {
		return cardRecord{}, false, fmt.Errorf("derive the identity key of before issuing states: %w", err)
	}
	host := h.host()
	var person personRecord
	if _, err := getJSON(ctx, host, keyPerson+lk, &person); errors.Is(err, sdk.ErrNotFound) {
		return cardRecord{}, false, nil
	} else if err != nil {
		return cardRecord{}, false, err
	}
	rec, ver, err := getCard(ctx, host, person.CardNo)
	if errors.Is(err, sdk.ErrNotFound) {
		return cardRecord{}, false, nil
	} else if err != nil {
		return cardRecord{}, false, err
	}
	recHolder, recCountry, recBirth, birth := rec.Name, rec.IssuingCountry, rec.BirthDate, id.BirthDate
	if rec.Guardian != nil {
		// The birth dates are the child's, not the guardian's.
		recHolder, recCountry, recBirth, birth = rec.Guardian.Name, rec.Guardian.IssuingCountry, "", ""
	}
	if recCountry != "" || !sameHolder(recHolder, recBirth, holder, birth) {
		return cardRecord{}, false, nil
	}
	if rec.Guardian != nil {
		g := *rec.Guardian
		g.IssuingCountry = id.Guardian.IssuingCountry
		rec.Guardian = &g
	} else {
		rec.IssuingCountry = id.IssuingCountry
	}
	pb, err := json.Marshal(personRecord{CardNo: rec.CardNo})
	if err != nil {
		return cardRecord{}, false, fmt.Errorf("ecard: encode state %s: %w", keyPerson+ik, err)
	}
	cb, err := json.Marshal(rec)
	if err != nil {
		return cardRecord{}, false, fmt.Errorf("ecard: encode state %s: %w", keyCard+rec.CardNo, err)
	}
	if _, err := sdk.WriteState(ctx, host, []sdk.StateWrite{
		{Key: keyPerson + ik, Value: pb, Expect: 0},
		{Key: keyCard + rec.CardNo, Value: cb, Expect: ver},
	}); errors.Is(err, sdk.ErrConflict) {
		// Another registration of the holder adopted it, or the card
		// changed: the caller's next round reads it again.
		return cardRecord{}, false, fmt.Errorf("adopt card %s of before issuing states: %w", rec.CardNo, err)
	} else if err != nil {
		return cardRecord{}, false, fmt.Errorf("ecard: adopt card %s of before issuing states: write state %s and %s: %w", rec.CardNo, keyPerson+ik, keyCard+rec.CardNo, err)
	}
	return rec, true, nil
}

// sameHolder reports whether the holder of a passport card registered
// before issuing states, name recName born recBirth, is the person name born
// birth (birth dates YYYY-MM-DD, "" when not stated) of a registration with
// the same passport number. Two stated birth dates that differ are two
// persons. Names are compared as words (nameWords), so letter case,
// full-width forms, spacing and the separators of "SURNAME, GIVEN" or the
// machine-readable zone's "SURNAME<<GIVEN" do not matter; the same words in
// another order ("JOHN SMITH", "SMITH JOHN") are the same person only when
// both birth dates are stated (and so equal): the passport number, the
// words and the birth date then all agree.
func sameHolder(recName, recBirth, name, birth string) bool {
	if recBirth != "" && birth != "" && recBirth != birth {
		return false
	}
	a, b := nameWords(recName), nameWords(name)
	if len(a) == 0 || len(a) != len(b) {
		return false
	}
	if slices.Equal(a, b) {
		return true
	}
	if recBirth == "" || birth == "" {
		return false
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// nameWords returns the words of a name for comparison: NFKC-normalised (a
// full-width Ｊ or 　 is J or a space), in lower case, split at spaces,
// commas, dots, dashes, middle dots and the "<" fillers of a passport's
// machine-readable zone.
func nameWords(name string) []string {
	return strings.FieldsFunc(strings.ToLower(norm.NFKC.String(name)), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || strings.ContainsRune(",.<·・•", r)
	})
}

// sameName reports whether names a and b, as typed at two registrations,
// are the same name: they differ at most in letter case, full-width forms
// (Ｊｏｈｎ　Ｓｍｉｔｈ), spacing and the separators nameWords ignores (·, -,
// the machine-readable zone's <). The same words in another order are not
// the same name here: a label prints the stored one.
func sameName(a, b string) bool {
	if a == b {
		return true
	}
	wa, wb := nameWords(a), nameWords(b)
	return len(wa) > 0 && strings.Join(wa, "") == strings.Join(wb, "")
}

// registered finishes a registration that returns rec: it announces a card
// not yet announced, journals the call and builds the reply.
func (h handler) registered(ctx context.Context, rec cardRecord, id card.Identity, created bool, start time.Time) (*sdk.HandleResponse, error) {
	host := h.host()
	var warnings sdk.Diagnostics
	switch {
	case created:
	case id.Guardian != nil:
		// The same newborn: same guardian ID, birth date and birth order.
		if rec.Gender != id.Gender {
			warnings.Warn("$.gender", "mismatch", "the gender differs from the one of the newborn registered under this guardian, birth date and birth order",
				"the existing card is returned unchanged; if this is another child of the same birth (twins), give its own birthOrder")
		}
		if !sameName(rec.Name, id.Name) {
			warnings.Warn("$.name", "mismatch", "the name differs from the one of the newborn registered under this guardian, birth date and birth order",
				"the existing card is returned unchanged (a provisional name is replaced with ecard.rename); if this is another child of the same birth, give its own birthOrder")
		}
		if rec.Phone != id.Phone {
			warnings.Warn("$.guardian.phone", "mismatch", "the guardian's phone differs from the one registered with this newborn",
				"the existing card is returned unchanged; a number wrong on the card (a typo at registration, a new number) is corrected with ecard.phone.correct")
		}
	default:
		if !sameName(rec.Name, id.Name) {
			warnings.Warn("$.name", "mismatch", "the name differs from the one registered with this ID number",
				"the existing card is returned unchanged; check the name against the ID document: a name wrong on the card (a typo at registration, a name changed) is corrected with ecard.rename")
		}
		if rec.Phone != id.Phone {
			warnings.Warn("$.phone", "mismatch", "the phone differs from the one registered with this ID number",
				"the existing card is returned unchanged; a number wrong on the card (a typo at registration, a new number) is corrected with ecard.phone.correct")
		}
	}
	if !rec.Announced && (created || h.mayRepair(rec)) {
		if err := putJSON(ctx, host, recentKey(rec.Seq), rec.recent()); err != nil {
			return nil, err
		}
		ev, _ := json.Marshal(registeredEvent{
			CardNo: rec.CardNo, Status: rec.Status, RegisteredAt: rec.RegisteredAt,
			IDType: rec.IDType, Name: card.MaskName(rec.Name), PreviousCardNo: rec.PreviousCardNo, Newborn: rec.Guardian != nil,
		})
		if err := host.Publish(ctx, sdk.Event{ID: "ecard.registered/" + rec.CardNo, Type: "ecard.registered", Key: rec.CardNo,
			Payload: ev, OccurredAt: rec.RegisteredAt}); err != nil {
			return nil, fmt.Errorf("publish ecard.registered for card %s: %w", rec.CardNo, err)
		}
		if _, err := updateCard(ctx, host, rec.CardNo, func(r *cardRecord) bool {
			if r.Announced {
				return false
			}
			r.Announced = true
			return true
		}); err != nil {
			return nil, fmt.Errorf("mark card %s as announced: %w", rec.CardNo, err)
		}
	}
	reply := registerReply{CardNo: rec.CardNo, Created: created, Status: rec.Status, RegisteredAt: rec.RegisteredAt, PreviousCardNo: rec.PreviousCardNo}
	if err := h.journal(ctx, "register", rec.CardNo, maskedIdentity(id), reply, start); err != nil {
		return nil, err
	}
	return ok(reply, warnings...)
}

// announceGrace is how long a card may stay unannounced before any
// registration of the same person announces it.
const announceGrace = 2 * time.Minute

// mayRepair reports whether a registration that found rec unannounced should
// announce it. The registration that created the card announces it; another
// one only does when the creating message has failed for sure: it is a retry
// or a recovery (the host redelivers a message whose call broke), or the card
// has been unannounced for longer than announceGrace. Concurrent
// registrations of the same person therefore announce the card once.
func (h handler) mayRepair(rec cardRecord) bool {
	return h.req.Attempt > 1 || h.req.Recovering || h.a.now().Sub(rec.RegisteredAt) > announceGrace
}

// maskedIdentity is an identity fit for the journal; a newborn's has its
// guardian's, masked too, and its birth order.
func maskedIdentity(id card.Identity) map[string]any {
	m := map[string]any{
		"name":     card.MaskName(id.Name),
		"idType":   id.IDType,
		"idNumber": card.MaskIDNumber(id.IDNumber),
		"phone":    card.MaskPhone(id.Phone),
	}
	if id.IssuingCountry != "" {
		m["issuingCountry"] = id.IssuingCountry
	}
	if id.Guardian != nil {
		m["guardian"] = maskGuardian(id.Guardian)
		m["birthOrder"] = id.BirthOrder
	}
	return m
}

// maskGuardian returns a copy of g with its personal data masked, or nil.
func maskGuardian(g *card.Guardian) *card.Guardian {
	if g == nil {
		return nil
	}
	m := *g
	m.Name, m.IDNumber, m.Phone = card.MaskName(g.Name), card.MaskIDNumber(g.IDNumber), card.MaskPhone(g.Phone)
	return &m
}

// journal records one registration or revocation. request and response must
// hold no raw personal data.
func (h handler) journal(ctx context.Context, code, cardNo string, request, response any, start time.Time) error {
	req, err := json.Marshal(request)
	if err != nil {
		return fmt.Errorf("encode journal request: %w", err)
	}
	resp, err := json.Marshal(response)
	if err != nil {
		return fmt.Errorf("encode journal response: %w", err)
	}
	if _, err := h.host().Journal(ctx, sdk.Exchange{
		MessageID: h.req.MessageID, System: "ecard", Code: code, Serial: cardNo,
		Request: req, Response: resp, Status: "ok", Duration: h.a.now().Sub(start),
	}); err != nil {
		return fmt.Errorf("journal %s of card %s: %w", code, cardNo, err)
	}
	return nil
}
