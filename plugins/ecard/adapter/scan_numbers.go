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

// Results of scans of plain numbers, besides those of op_scan.go.
const (
	// ResultTemporaryCard: the text is a temporary-card number of this
	// site (by tempCardPrefixes). It is "ok" when the card is linked to an
	// e-card (tempCardLookup: links), else the rule of the invalid reply.
	ResultTemporaryCard = "temporary-card"
	// lookECardNumber is the looksLike of an e-card number scanned or typed
	// without its QR code.
	lookECardNumber = "ecard-number"
)

// tempScanReply is the payload of a scan of a linked temporary card: the
// e-card it belongs to, masked unless revealed.
type tempScanReply struct {
	Result     string `json:"result"`
	TempCardNo string `json:"tempCardNo"`
	Prefix     string `json:"prefix"`
	// Source is where the patient was found: "links" (ecard.link).
	Source   string    `json:"source"`
	LinkedAt time.Time `json:"linkedAt"`
	cardView
}

// tempScanRefusal is the payload of a scan of a temporary card whose
// patient is not known here.
type tempScanRefusal struct {
	Result     string `json:"result"`
	LooksLike  string `json:"looksLike"`
	TempCardNo string `json:"tempCardNo"`
	Prefix     string `json:"prefix"`
	// Lookup is the site's tempCardLookup: links, none or his.
	Lookup string `json:"lookup"`
	// LookupFailed is true when the HIS lookup did not answer usably.
	LookupFailed bool `json:"lookupFailed,omitempty"`
}

// tempPrefix returns the temporary-card prefix text starts with.
func (h handler) tempPrefix(text string) (string, bool) {
	for _, tp := range h.cfg.rule.TempPrefixes {
		if strings.HasPrefix(text, tp) {
			return tp, true
		}
	}
	return "", false
}

// scanNumber answers a scan of text that is a number of this site: a
// temporary-card number (by its prefix) or an e-card number without its QR
// code. It reports false for other texts.
//
// A temporary-card number may also have the shape of a resident ID number
// (18 digits whose last one happens to be the right check character, 1 in
// 11 of such numbers) or of a drug trace code (20 digits starting with 8).
// The site's tempCardPrefixes are a specific rule of this hospital and
// those shapes generic ones, so a number that starts with a temporary-card
// prefix is a temporary card whatever shape it has. E-card QR codes and
// national health card codes keep their kinds.
func (h handler) scanNumber(ctx context.Context, text string, reveal bool) (*sdk.HandleResponse, bool, error) {
	if checkNumber("$.text", "text", text).HasError() {
		return nil, false, nil
	}
	kind := h.cfg.sealer.Classify(text)
	if prefix, ok := h.tempPrefix(text); ok && (kind == card.KindUnknown || kind == card.KindResidentID || kind == card.KindTraceCode) {
		r, err := h.scanTemp(ctx, text, prefix, reveal)
		return r, true, err
	}
	if kind != card.KindUnknown {
		return nil, false, nil
	}
	if no := upperCheckX(text); h.cfg.rule.Check(no) == nil {
		r, err := invalid("$.text", ResultNotECard, fmt.Sprintf("%s is an e-card number, not its QR code", no),
			"a card number alone does not prove the patient is present; ask for the QR code (ecard.qrcode prints a new one), or look the card up with ecard.get (the console's 电子卡查询 page)",
			scanRefusal{Result: ResultNotECard, LooksLike: lookECardNumber, CardNo: no})
		return r, true, err
	}
	return nil, false, nil
}

// upperCheckX returns a scanned number with a final lower-case x as the
// upper-case X it stands for. A scanner in lower-case mode (or with Caps
// Lock inverting it) types an e-card number's check character X as x; no
// e-card number ends in x (NumberRule.Check refuses it, and numbers are
// issued with X), so nothing else could be meant, and the check character
// must still match. Temporary-card numbers are not passed here: they may
// hold letters whose case the HIS keeps.
func upperCheckX(number string) string {
	if n, ok := strings.CutSuffix(number, "x"); ok {
		return n + "X"
	}
	return number
}

// readCardNo returns an e-card number typed by staff (ecard.get,
// ecard.link, ecard.revoke, ecard.qrcode: the print page, the desk, a HIS
// form) read as a scan reads it: with a final lower-case x as the X it
// stands for (see upperCheckX) when the number is then a well-formed
// e-card number of the site's rule, its check character matching; else
// as typed. A temporary-card number is never well formed under the rule,
// so it keeps its case.
func (h handler) readCardNo(number string) string {
	if no := upperCheckX(number); no != number && h.cfg.rule.Check(no) == nil {
		return no
	}
	return number
}

// scanTemp answers a scan of a temporary-card number: with the linked
// e-card and its patient when tempCardLookup is links or a URL and a link
// exists; else, with a URL, with the patient the HIS service names; else
// a refusal that says it is a temporary card.
func (h handler) scanTemp(ctx context.Context, tempNo, prefix string, reveal bool) (*sdk.HandleResponse, error) {
	refusal := tempScanRefusal{Result: ResultTemporaryCard, LooksLike: ResultTemporaryCard, TempCardNo: tempNo, Prefix: prefix, Lookup: h.cfg.tempLookup}
	summary := fmt.Sprintf("%s is a temporary-card number (prefix %s)", tempNo, prefix)
	if h.cfg.tempLookup == lookupNone {
		return invalid("$.text", ResultTemporaryCard, summary,
			"this site does not look temporary cards up (tempCardLookup: none); find the patient in HIS by the temporary card", refusal)
	}
	var tr tempRecord
	_, err := getJSON(ctx, h.host(), keyTemp+tempNo, &tr)
	if errors.Is(err, sdk.ErrNotFound) && h.cfg.his != nil {
		return h.scanHIS(ctx, tempNo, prefix, reveal, refusal)
	}
	if errors.Is(err, sdk.ErrNotFound) {
		return invalid("$.text", ResultTemporaryCard, summary,
			"it is not linked to an e-card: find the patient in HIS by the temporary card, then register an e-card and link it (ecard.link)", refusal)
	}
	if err != nil {
		return nil, err
	}
	rec, _, err := getCard(ctx, h.host(), tr.CardNo)
	if errors.Is(err, sdk.ErrNotFound) {
		// The link was made to an existing card, so its record was lost
		// since (state damaged or restored incompletely). ecard.link
		// cannot replace such a link: it is a case for the administrator.
		return invalid("$.text", ResultUnknownCard, fmt.Sprintf("temporary card %s is linked to card %s, which is not registered at this site", tempNo, tr.CardNo),
			fmt.Sprintf("the record of card %s is missing from this site's state (temp/%s names it); find the patient in HIS by the temporary card, and have the gateway administrator restore card/%s or remove the link", tr.CardNo, tempNo, tr.CardNo),
			scanRefusal{Result: ResultUnknownCard, LooksLike: ResultTemporaryCard, TempCardNo: tempNo, CardNo: tr.CardNo})
	}
	if err != nil {
		return nil, err
	}
	if rec.Status == statusDead {
		if rec, err = h.withLiveReplacement(ctx, rec); err != nil {
			return nil, err
		}
		detail := revokedDetail(rec)
		if rec.ReplacedBy != "" {
			detail = fmt.Sprintf("the patient's card is now card %s, issued when the patient registered again: link the temporary card to it (ecard.link)", rec.ReplacedBy)
		}
		return invalid("$.text", ResultRevoked, fmt.Sprintf("temporary card %s is linked to card %s, which is revoked", tempNo, rec.CardNo), detail,
			scanRefusal{Result: ResultRevoked, LooksLike: ResultTemporaryCard, TempCardNo: tempNo, CardNo: rec.CardNo, RevokedAt: rec.RevokedAt, ReplacedBy: rec.ReplacedBy, WrongID: rec.WrongID})
	}
	view := rec.maskedView()
	if reveal {
		view = rec.view()
	}
	return ok(tempScanReply{Result: ResultTemporaryCard, TempCardNo: tempNo, Prefix: prefix, Source: lookupLinks, LinkedAt: tr.LinkedAt, cardView: view})
}
