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
	"github.com/medgate/medgate/plugins/sdk/pii"
)

// revokePayload is the input of ecard.revoke.
type revokePayload struct {
	CardNo string `json:"cardNo"`
	Reason string `json:"reason"`
	// WrongID revokes a card registered with another person's ID number
	// (see cardRecord.WrongID).
	WrongID bool `json:"wrongId"`
}

// revokeReply is the payload of a successful ecard.revoke.
type revokeReply struct {
	CardNo         string    `json:"cardNo"`
	Status         string    `json:"status"`
	RevokedAt      time.Time `json:"revokedAt"`
	Reason         string    `json:"reason"`
	AlreadyRevoked bool      `json:"alreadyRevoked"`
	// WrongID is true for a card revoked as registered with another
	// person's ID number.
	WrongID bool `json:"wrongId,omitempty"`
}

// revoke serves ecard.revoke. Revoking a revoked card is not an error: the
// first revocation is kept and reported.
func (h handler) revoke(ctx context.Context) (*sdk.HandleResponse, error) {
	start := h.a.now()
	var p revokePayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	p.CardNo = h.readCardNo(strings.TrimSpace(halfWidth(p.CardNo)))
	p.Reason = strings.TrimSpace(p.Reason)
	ds := checkNumber("$.cardNo", "cardNo", p.CardNo)
	ds = append(ds, checkReason(p.Reason, "say why the card is revoked, e.g. \"duplicate registration\"")...)
	if ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	// The reason is typed by staff and often names the patient; it goes
	// into the ecard.revoked event, the journal, the reply and every
	// ecard.get of the card, masked or not: ID numbers, phones and names
	// after their labels are masked once, here, as in the host's logs.
	p.Reason = pii.Text(p.Reason)
	host := h.host()
	now := h.a.now().UTC().Truncate(time.Second)
	already := false
	rec, err := updateCard(ctx, host, p.CardNo, func(r *cardRecord) bool {
		if r.Status == statusDead {
			// A redelivery of the message that revoked it is not "already".
			already = r.RevokedBy == "" || r.RevokedBy != h.req.MessageID
			// Found out after the revocation: marked so while no card
			// replaces it yet.
			if p.WrongID && !r.WrongID && r.ReplacedBy == "" {
				r.WrongID, r.WrongIDMarkedAt = true, &now
				return true
			}
			return false
		}
		already = false
		r.Status, r.RevokedAt, r.RevokeReason, r.RevokedBy, r.WrongID = statusDead, &now, p.Reason, h.req.MessageID, p.WrongID
		return true
	})
	if errors.Is(err, sdk.ErrNotFound) {
		return h.unknownCard("$.cardNo", p.CardNo)
	}
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, host, recentKey(rec.Seq), rec.recent()); err != nil {
		return nil, err
	}
	revokedAt := now
	if rec.RevokedAt != nil {
		revokedAt = *rec.RevokedAt
	}
	if err := h.announceRevocation(ctx, host, rec, revokedAt); err != nil {
		return nil, err
	}
	reply := revokeReply{CardNo: rec.CardNo, Status: rec.Status, RevokedAt: revokedAt, Reason: rec.RevokeReason, AlreadyRevoked: already, WrongID: rec.WrongID}
	if err := h.journal(ctx, "revoke", rec.CardNo, map[string]any{"cardNo": p.CardNo, "reason": p.Reason, "wrongId": p.WrongID}, reply, start); err != nil {
		return nil, err
	}
	var warnings sdk.Diagnostics
	if p.WrongID && !rec.WrongID && rec.ReplacedBy != "" {
		warnings.Warn("$.wrongId", "replaced",
			fmt.Sprintf("卡 %s 已被卡 %s 替换，未标记为证件号输错 (card %s was already replaced by card %s when the ID number was registered again; not marked wrongId)", rec.CardNo, rec.ReplacedBy, rec.CardNo, rec.ReplacedBy),
			fmt.Sprintf("the two cards stay linked as a replacement; if card %s is not the person of card %s, have the HIS keep their records apart and do not move temporary cards between them", rec.ReplacedBy, rec.CardNo))
	}
	return ok(reply, warnings...)
}

// announceRevocation publishes what of rec's revocation is not announced
// yet: the revocation (ecard.revoked, id ecard.revoked/<cardNo>), and a
// wrongId mark made after it (ecard.revoked with wrongId, id
// ecard.revoked/<cardNo>/wrongId), so the platform learns that the card
// was registered with another person's ID number also when that was found
// out later. Each event is published until it is recorded as announced, so
// a crash in between publishes it again under the same id and with the
// same payload, which consumers deduplicate; each id has one payload
// whatever the order of the calls: the revocation's says wrongId only when
// the card was revoked so at once.
func (h handler) announceRevocation(ctx context.Context, host sdk.Host, rec cardRecord, revokedAt time.Time) error {
	payload := map[string]any{"cardNo": rec.CardNo, "status": rec.Status, "revokedAt": revokedAt, "reason": rec.RevokeReason}
	if !rec.RevocationAnnounced {
		if rec.WrongID && rec.WrongIDMarkedAt == nil {
			payload["wrongId"] = true
		}
		ev, _ := json.Marshal(payload)
		if err := host.Publish(ctx, sdk.Event{ID: "ecard.revoked/" + rec.CardNo, Type: "ecard.revoked", Key: rec.CardNo, Payload: ev, OccurredAt: revokedAt}); err != nil {
			return fmt.Errorf("publish ecard.revoked for card %s: %w", rec.CardNo, err)
		}
		if _, err := updateCard(ctx, host, rec.CardNo, func(r *cardRecord) bool {
			if r.RevocationAnnounced {
				return false
			}
			r.RevocationAnnounced = true
			return true
		}); err != nil {
			return fmt.Errorf("mark the revocation of card %s as announced: %w", rec.CardNo, err)
		}
	}
	if !rec.WrongID || rec.WrongIDMarkedAt == nil || rec.WrongIDAnnounced {
		return nil
	}
	payload["wrongId"] = true
	ev, _ := json.Marshal(payload)
	if err := host.Publish(ctx, sdk.Event{ID: "ecard.revoked/" + rec.CardNo + "/wrongId", Type: "ecard.revoked", Key: rec.CardNo, Payload: ev, OccurredAt: *rec.WrongIDMarkedAt}); err != nil {
		return fmt.Errorf("publish ecard.revoked (marked wrongId) for card %s: %w", rec.CardNo, err)
	}
	if _, err := updateCard(ctx, host, rec.CardNo, func(r *cardRecord) bool {
		if r.WrongIDAnnounced {
			return false
		}
		r.WrongIDAnnounced = true
		return true
	}); err != nil {
		return fmt.Errorf("mark the wrongId of card %s as announced: %w", rec.CardNo, err)
	}
	return nil
}

// linkPayload is the input of ecard.link.
type linkPayload struct {
	CardNo     string `json:"cardNo"`
	TempCardNo string `json:"tempCardNo"`
	// PreviousCardNo names the revoked newborn card (registered under a
	// guardian) the temporary card is linked to, when the child has since
	// been registered with its own ID as CardNo: the link then moves (see
	// newbornMove).
	PreviousCardNo string `json:"previousCardNo"`
}

// linkReply is the payload of a successful ecard.link: the card with its
// temporary cards.
type linkReply struct {
	cardView
	TempCardNo    string `json:"tempCardNo"`
	AlreadyLinked bool   `json:"alreadyLinked"`
}

// link serves ecard.link: the link is stored both ways, temp/<t> → card
// first (compare-and-set, so a temporary card links to one e-card only),
// then the card's list.
func (h handler) link(ctx context.Context) (*sdk.HandleResponse, error) {
	var p linkPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	p.CardNo, p.TempCardNo, p.PreviousCardNo = h.readCardNo(strings.TrimSpace(halfWidth(p.CardNo))), strings.TrimSpace(halfWidth(p.TempCardNo)), h.readCardNo(strings.TrimSpace(halfWidth(p.PreviousCardNo)))
	ds := checkNumber("$.cardNo", "cardNo", p.CardNo)
	if len(ds) == 0 && h.cfg.rule.IsTemporary(p.CardNo) {
		ds.Error("$.cardNo", "temporary-card", zhSummary("$.cardNo", "temporary-card", fmt.Sprintf("%s is a temporary-card number", p.CardNo)), "give the e-card number in cardNo and the temporary-card number in tempCardNo")
	}
	ds = append(ds, h.checkTempCardNo(p.TempCardNo)...)
	if p.PreviousCardNo != "" {
		ds = append(ds, checkNumber("$.previousCardNo", "previousCardNo", p.PreviousCardNo)...)
	}
	if ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	return h.linkCards(ctx, p)
}

// checkTempCardNo checks a temporary-card number given as $.tempCardNo.
func (h handler) checkTempCardNo(tempNo string) sdk.Diagnostics {
	ds := checkNumber("$.tempCardNo", "tempCardNo", tempNo)
	if len(ds) == 0 && !h.cfg.rule.IsTemporary(tempNo) {
		ds.Error("$.tempCardNo", "format", fmt.Sprintf("%s is not a temporary-card number", tempNo),
			fmt.Sprintf("temporary-card numbers start with %s (setting tempCardPrefixes)", strings.Join(h.cfg.rule.TempPrefixes, ", ")))
	}
	return ds
}

// linkCards links temporary card p.TempCardNo to e-card p.CardNo (the
// numbers checked) and publishes ecard.linked.
func (h handler) linkCards(ctx context.Context, p linkPayload) (*sdk.HandleResponse, error) {
	host := h.host()
	rec, _, err := getCard(ctx, host, p.CardNo)
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
	now := h.a.now().UTC().Truncate(time.Second)
	already := false
	linkedAt := now
	link := tempRecord{CardNo: p.CardNo, LinkedAt: now, LinkedBy: h.req.MessageID}
	for try, expect := 0, int64(0); ; try++ {
		_, err := casJSON(ctx, host, keyTemp+p.TempCardNo, expect, link)
		if err == nil {
			break
		}
		if !errors.Is(err, sdk.ErrConflict) {
			return nil, err
		}
		if try == maxCASTry {
			return nil, fmt.Errorf("link temporary card %s: %w", p.TempCardNo, errBusy)
		}
		var tr tempRecord
		ver, err := getJSON(ctx, host, keyTemp+p.TempCardNo, &tr)
		if err != nil {
			return nil, err
		}
		if tr.CardNo == p.CardNo {
			// A redelivery of the message that made the link is not "already".
			already, linkedAt = tr.LinkedBy == "" || tr.LinkedBy != h.req.MessageID, tr.LinkedAt
			link.MovedFrom = tr.MovedFrom
			break
		}
		replaces, err := h.replaces(ctx, rec, tr.CardNo)
		if err != nil {
			return nil, err
		}
		if !replaces && p.PreviousCardNo != "" {
			if r, err := h.newbornMove(ctx, rec, p, tr.CardNo); r != nil || err != nil {
				return r, err
			}
			replaces = true
		}
		if !replaces {
			detail := "a temporary card links to one e-card only; check the numbers"
			if old, _, err := getCard(ctx, host, tr.CardNo); err == nil && old.Status == statusDead && old.Guardian != nil && old.ReplacedBy == "" {
				detail = fmt.Sprintf("card %s is a revoked newborn card; if this card is the same child registered with its own ID, link again with \"previousCardNo\": %q", tr.CardNo, tr.CardNo)
			} else if err == nil && old.Status == statusDead && old.WrongID && old.ReplacedBy == "" {
				detail = fmt.Sprintf("card %s was revoked as registered with a wrong ID number; if this card is its patient's, registered with the right number, link again with \"previousCardNo\": %q", tr.CardNo, tr.CardNo)
			}
			return invalid("$.tempCardNo", "already-linked", fmt.Sprintf("temporary card %s is linked to card %s", p.TempCardNo, tr.CardNo),
				detail, map[string]string{"tempCardNo": p.TempCardNo, "linkedCardNo": tr.CardNo})
		}
		// Linked to a revoked card of the same person that this card
		// replaced, or to the revoked newborn card of the child this card
		// was registered for with its own ID: the link moves here.
		expect, link.MovedFrom = ver, tr.CardNo
	}
	// Also repairs a link that stopped after the first write.
	rec, err = updateCard(ctx, host, p.CardNo, func(r *cardRecord) bool {
		for _, t := range r.TempCards {
			if t == p.TempCardNo {
				return false
			}
		}
		r.TempCards = append(r.TempCards, p.TempCardNo)
		return true
	})
	if err != nil {
		return nil, err
	}
	// Published on every call with a stable id, so a crash before
	// publishing is repaired by resending and consumers can deduplicate.
	// A moved link is a new event: its id names the card too, so that a
	// consumer deduplicating by id does not drop it as the first link.
	evID, evPayload := "ecard.linked/"+p.TempCardNo, map[string]any{"cardNo": rec.CardNo, "tempCardNo": p.TempCardNo, "linkedAt": linkedAt}
	if link.MovedFrom != "" {
		evID += "/" + rec.CardNo
		evPayload["previousCardNo"] = link.MovedFrom
	}
	ev, _ := json.Marshal(evPayload)
	if err := host.Publish(ctx, sdk.Event{ID: evID, Type: "ecard.linked", Key: rec.CardNo, Payload: ev, OccurredAt: linkedAt}); err != nil {
		return nil, fmt.Errorf("publish ecard.linked for temporary card %s: %w", p.TempCardNo, err)
	}
	return ok(linkReply{cardView: rec.maskedView(), TempCardNo: p.TempCardNo, AlreadyLinked: already})
}

// newbornMove checks that the link of temporary card p.TempCardNo may move
// from card linked, the card it is linked to, to card rec (active), as
// p.PreviousCardNo asks: a newborn registered under its guardian and later
// with its own ID has two cards that no replacement connects (they have
// different identities), so staff name the newborn card. The move is
// allowed only from a revoked newborn card that no other card replaced, to
// a card registered with an ID of its own, with the same birth date and
// gender where both cards state them; a link never moves away from an
// active card. It returns nil when the move is allowed, else the refusal.
func (h handler) newbornMove(ctx context.Context, rec cardRecord, p linkPayload, linked string) (*sdk.HandleResponse, error) {
	refuse := func(summary, detail string) (*sdk.HandleResponse, error) {
		return invalid("$.previousCardNo", "previous-card", summary, detail,
			map[string]string{"tempCardNo": p.TempCardNo, "linkedCardNo": linked, "previousCardNo": p.PreviousCardNo})
	}
	if p.PreviousCardNo != linked {
		return refuse(fmt.Sprintf("temporary card %s is linked to card %s, not to %s", p.TempCardNo, linked, p.PreviousCardNo),
			"previousCardNo must be the card the temporary card is linked to (linkedCardNo); check the numbers")
	}
	old, _, err := getCard(ctx, h.host(), linked)
	if errors.Is(err, sdk.ErrNotFound) {
		return refuse(fmt.Sprintf("card %s is unknown", linked),
			"the temporary card's link names a card that is not registered at this site; have the gateway administrator repair the link")
	}
	if err != nil {
		return nil, err
	}
	if old.WrongID {
		// A card registered with another person's ID number: its patient
		// registered again with their own, a card no replacement connects.
		switch {
		case old.Status != statusDead || old.ReplacedBy != "":
			return refuse(fmt.Sprintf("card %s cannot pass its temporary cards on", linked), "check the numbers")
		case rec.Guardian != nil || old.Guardian != nil || !sameName(old.Name, rec.Name):
			return refuse(fmt.Sprintf("cards %s and %s name different patients", linked, rec.CardNo),
				"the link moves from a card revoked as registered with a wrong ID number only to the card of the same patient, registered with the right number; check cardNo, or correct the name first (ecard.rename)")
		}
		return nil, nil
	}
	switch {
	case old.Guardian == nil:
		return refuse(fmt.Sprintf("card %s is not a newborn card", linked),
			"previousCardNo moves a link only from a newborn's card (registered under its guardian); a person's own revoked card passes its links to the card that replaced it when the person registered again")
	case old.Status != statusDead:
		return refuse(fmt.Sprintf("newborn card %s is not revoked", linked),
			"a link never moves away from an active card; revoke the newborn card first (ecard.revoke), then link again")
	case old.ReplacedBy != "" && old.ReplacedBy != rec.CardNo:
		return refuse(fmt.Sprintf("newborn card %s was replaced by card %s", linked, old.ReplacedBy),
			fmt.Sprintf("link the temporary card to card %s, which replaced it", old.ReplacedBy))
	case rec.Guardian != nil:
		return refuse(fmt.Sprintf("card %s is itself a newborn card", rec.CardNo),
			"the link moves to the card of the child registered with its own ID; check cardNo")
	}
	oldBirth, oldGender := birthAndGender(old)
	birth, gender := birthAndGender(rec)
	switch {
	case birth == "":
		return refuse(fmt.Sprintf("card %s states no birth date", rec.CardNo),
			"the link moves only to a card whose birth date (given at registration, or in a resident ID or residence permit number) is the newborn's; check cardNo")
	case birth != oldBirth, knownGender(oldGender) && knownGender(gender) && oldGender != gender:
		return refuse(fmt.Sprintf("cards %s and %s differ in birth date or gender", linked, rec.CardNo),
			"they are not the same child; check the numbers")
	}
	return nil, nil
}

// birthAndGender returns the birth date (YYYY-MM-DD) and gender of card
// rec's person: as registered, else as encoded in an 18-character
// resident ID or residence permit number (registration checked that they
// agree); "" when unknown.
func birthAndGender(rec cardRecord) (birth, gender string) {
	birth, gender = rec.BirthDate, rec.Gender
	n := rec.IDNumber
	switch rec.IDType {
	case card.IDTypeResidentCard, card.IDTypeHouseholdRegister, card.IDTypeHMTResidencePermit, card.IDTypeForeignPermanentResident:
	default:
		return birth, gender
	}
	if len(n) != 18 || strings.Trim(n[:17], "0123456789") != "" {
		return birth, gender
	}
	if birth == "" {
		birth = n[6:10] + "-" + n[10:12] + "-" + n[12:14]
	}
	if !knownGender(gender) {
		gender = map[bool]string{true: "1", false: "2"}[(n[16]-'0')%2 == 1]
	}
	return birth, gender
}

// knownGender reports whether g is male (1) or female (2) in GB/T 2261.1,
// not unknown (0) or unstated (9).
func knownGender(g string) bool { return g == "1" || g == "2" }

// maxReplacements bounds the chain of replaced cards replaces follows.
const maxReplacements = 32

// replaces reports whether card rec replaced card old, directly or through
// earlier replacements: old is found by following the PreviousCardNo each
// card got when its person registered again after a revocation (written
// with the new card, so it holds even when marking the old card replaced
// did not happen). Every card passed on the way is revoked, old included.
func (h handler) replaces(ctx context.Context, rec cardRecord, old string) (bool, error) {
	for range maxReplacements {
		prev := rec.PreviousCardNo
		if prev == "" {
			return false, nil
		}
		var err error
		rec, _, err = getCard(ctx, h.host(), prev)
		if errors.Is(err, sdk.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if rec.Status != statusDead {
			return false, nil
		}
		if prev == old {
			return true, nil
		}
	}
	return false, nil
}

// getPayload is the input of ecard.get: one of the two numbers.
type getPayload struct {
	CardNo     string `json:"cardNo"`
	TempCardNo string `json:"tempCardNo"`
	// Reveal asks for the unmasked identity; only sites that set
	// revealIdentity allow it.
	Reveal bool `json:"reveal"`
}

// getReply is the payload of a successful ecard.get.
type getReply struct {
	cardView
	// MatchedTempCardNo is the temporary card the lookup went through.
	MatchedTempCardNo string `json:"matchedTempCardNo,omitempty"`
}

// get serves ecard.get. A temporary-card number given as cardNo is looked up
// as tempCardNo.
func (h handler) get(ctx context.Context) (*sdk.HandleResponse, error) {
	var p getPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	p.CardNo, p.TempCardNo = h.readCardNo(strings.TrimSpace(halfWidth(p.CardNo))), strings.TrimSpace(halfWidth(p.TempCardNo))
	switch {
	case p.CardNo == "" && p.TempCardNo == "":
		return invalid("$.cardNo", "required", "cardNo or tempCardNo is required", `send {"cardNo": "..."} or {"tempCardNo": "..."}`, nil)
	case p.CardNo != "" && p.TempCardNo != "":
		return invalid("$.tempCardNo", "exclusive", "give cardNo or tempCardNo, not both", "remove one of them", nil)
	}
	if p.Reveal && !h.cfg.revealAllowed {
		return invalid("$.reveal", "not-allowed", "this site does not reveal identities through ecard.get",
			"the reply masks name, ID number and phone; a site whose callers are all trusted may set revealIdentity: true", nil)
	}
	field, number := "$.cardNo", p.CardNo
	if p.TempCardNo != "" {
		field, number = "$.tempCardNo", p.TempCardNo
	}
	if ds := checkNumber(field, field[2:], number); ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	host := h.host()
	matched := ""
	if p.TempCardNo != "" || h.cfg.rule.IsTemporary(p.CardNo) {
		var tr tempRecord
		_, err := getJSON(ctx, host, keyTemp+number, &tr)
		if errors.Is(err, sdk.ErrNotFound) {
			return invalid(field, "unknown-card", zhSummary(field, "unlinked", fmt.Sprintf("temporary card %s is not linked to an e-card", number)),
				"link it with ecard.link, or look up the e-card by its own number", map[string]string{"result": "unknown-card", "tempCardNo": number})
		}
		if err != nil {
			return nil, err
		}
		matched, number = number, tr.CardNo
	}
	rec, _, err := getCard(ctx, host, number)
	if errors.Is(err, sdk.ErrNotFound) {
		return h.unknownCard(field, number)
	}
	if err != nil {
		return nil, err
	}
	view := rec.maskedView()
	if p.Reveal {
		view = rec.view()
	}
	return ok(getReply{cardView: view, MatchedTempCardNo: matched})
}

// listPayload is the input of ecard.cards.list.
type listPayload struct {
	Limit int `json:"limit"`
}

// Work-list sizes.
const (
	defaultListLimit = 50
	maxListLimit     = 500
)

// list serves ecard.cards.list, the recent-cards work list: {"items": [...]}
// newest first, masked.
func (h handler) list(ctx context.Context) (*sdk.HandleResponse, error) {
	var p listPayload
	if ds := decode(h.req.Payload, &p); ds != nil {
		return sdk.Invalid(ds...), nil
	}
	limit := p.Limit
	switch {
	case limit == 0:
		limit = defaultListLimit
	case limit < 0 || limit > maxListLimit:
		return invalid("$.limit", "range", fmt.Sprintf("limit %d is out of range", p.Limit), fmt.Sprintf("use 1 to %d", maxListLimit), nil)
	}
	entries, err := h.host().Scan(ctx, keyRecent, limit)
	if err != nil {
		return nil, fmt.Errorf("scan the recent cards: %w", err)
	}
	items := make([]recentItem, 0, len(entries))
	var warnings sdk.Diagnostics
	for _, e := range entries {
		var it recentItem
		if err := json.Unmarshal(e.Value, &it); err != nil {
			warnings.Warn("", "state", "a work-list entry is damaged and was skipped", fmt.Sprintf("state key %s: %v", e.Key, err))
			continue
		}
		items = append(items, it)
	}
	return ok(map[string]any{"items": items}, warnings...)
}
