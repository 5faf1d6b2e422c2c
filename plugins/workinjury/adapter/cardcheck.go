package adapter

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// The pre-check of the card transactions, GYD052 (social-security-card
// authentication) and GYD055 (card internal authentication): 「人员存在已审核
// 通过备案」, the person has an approved filing (requirements items 31 and
// 38, the same pre-check as GYD051's). It is made the way every filing
// precondition of the uploads is: from what this site knows (an approved
// filing of the person, valid on the day, for the institution's type and
// not of another institution), else with GYD051, never skipped. A GYD051
// that finds no valid filing makes the message invalid, and one without a
// trustworthy answer makes it fail retryably; nothing is sent either way.
// The precondition GYD051@card asks GYD051 even when the filing is known
// here, as GYD051@admission does for GYU101.
//
// GYD055 names no person, only the card: its holder is the one a
// successful GYD052 of the card at this site named (holder/<hash>). Within
// cardAuthMaxAge of that GYD052 the holder's filing was checked then; after
// it the holder's filing is checked again as above, on the current day. A
// card whose holder this site has not seen cannot be checked here (there is
// no person to ask GYD051 about): the GYD055 goes out and the national
// system's own pre-check decides.

// cardHolder is the holder of a card, as a successful GYD052 named it.
type cardHolder struct {
	AAC002 string    `json:"aac002"`
	AAC003 string    `json:"aac003"`
	At     time.Time `json:"at"`
}

// holderKey is the state key of a card's holder; card numbers never
// appear in keys.
func holderKey(aaz500 string) string {
	sum := sha256.Sum256([]byte("medgate-workinjury-card:" + aaz500))
	return "holder/" + hex.EncodeToString(sum[:12])
}

// cardFiling checks the approved-filing pre-check of GYD052 and GYD055.
func (l *lifecycle) cardFiling(code string) error {
	d := l.doc
	akb020 := str(d, "akb020")
	fc := filingCheck{akb020: akb020, scene: "1"}
	switch code {
	case "GYD052":
		fc.path, fc.aac002, fc.aac003, fc.day = "$.aac002", str(d, "aac002"), str(d, "aac003"), dayOf(str(d, "aae036"))
	case "GYD055":
		aaz500 := str(d, "aaz500")
		if aaz500 == "" || akb020 == "" {
			return nil // the schema reports them
		}
		var h cardHolder
		ver, err := getJSON(l.ctx, l.h, holderKey(aaz500), &h)
		if err != nil {
			return err
		}
		if ver == 0 {
			return nil // not seen here: the national pre-check decides
		}
		if !l.c.pre[preFilingCard] && l.a.now().Sub(h.At) <= l.c.cardAuthMaxAge {
			return nil // checked at that GYD052
		}
		fc.path, fc.aac002, fc.aac003, fc.day = "$.aaz500", h.AAC002, h.AAC003, l.a.now().In(cst).Format("2006-01-02")
	}
	if fc.aac002 == "" || akb020 == "" || fc.day == "" {
		return nil // the schema reports them
	}
	it, err := l.a.instType(l.ctx, l.h, akb020, "")
	if err != nil {
		return err
	}
	if it == "3" {
		fc.scene, fc.device = "3", true
	}
	no, f, err := l.a.validFiling(l.ctx, l.h, fc.aac002, it)
	if err != nil {
		return err
	}
	covers := func(f filingState) bool {
		return (f.AAE030 == "" || f.AAE030 <= fc.day) && (f.AAE031 == "" || fc.day <= f.AAE031) && (f.AKB020 == "" || f.AKB020 == akb020)
	}
	known := no != "" && covers(f)
	if !known && it != "3" {
		// A filing at an institution not known here has an index entry
		// of its own (guessedKey).
		gs, err := l.a.guessedFilings(l.ctx, l.h, personKey(fc.aac002))
		if err != nil {
			return err
		}
		known = slices.ContainsFunc(gs, func(g numberedFiling) bool { return g.f.AKB020 == akb020 && covers(g.f) })
	}
	if known && !l.c.pre[preFilingCard] {
		return nil
	}
	return l.remoteFiling(fc, !known)
}

// otherHolder is the reply to a GYD052 whose answer authenticates the card
// (auth_result 1) but names another holder (aac002) than the person the
// message asked about, nil for any other answer. Such an answer is not
// that person's authentication: passed on as ok, the cashier would admit
// the patient on another worker's card, and GYD052@admission and the
// card's holder for GYD055 would be remembered for the wrong person. The
// reply is failed and not retryable (who holds the card does not change
// by asking again), without the answer, which is the other worker's
// personal data; neither number is named. An answer naming no holder is
// taken as about the person asked; a check digit x and X are the same.
func otherHolder(doc map[string]any, out outcome) *sdk.HandleResponse {
	var r map[string]any
	if err := decodeJSON(out.output, &r); err != nil || str(r, "auth_result") != "1" {
		return nil
	}
	if got := str(r, "aac002"); got == "" || strings.EqualFold(got, str(doc, "aac002")) {
		return nil
	}
	ds := sdk.Diagnostics{{Severity: sdk.SeverityError, Field: "$.aac002", Rule: "consistency",
		Summary: "rule card-holder: the national system authenticated card aaz500 as another person's, not this aac002's: not passed on",
		Detail: "the card is not the patient's: check that the card presented is the patient's own and that aac002/aac003 are the patient's, then authenticate again; " +
			"if they are, give the serial " + out.serial + " to the national system's operators. Nothing was recorded as authenticated"}}
	zhFirst("GYD052", ds)
	return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: false, Diagnostics: ds,
		External: &sdk.External{System: systemName, Code: out.code, Message: out.message, MsgID: out.serial}}
}
