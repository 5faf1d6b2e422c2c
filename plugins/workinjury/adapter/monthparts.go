package adapter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// A monthly settlement (GYU003) lists every record of an institution's
// month, and one call carries at most 500 items; the requirements upload
// it incrementally (增量传输，单次最多上传500条). medgate's reconstruction:
// a month of more than 500 items goes in parts, part_no of part_count, each
// with the whole month's header (its sums and counts, the same in every
// part). The items of all parts together are exactly the month's records,
// none in two parts; parts may come in any order.
//
// State: each part writes its items (monthpart/<akb020>/<yyyyMM>/<n>), then
// claims itself in the month's claim (monthdone/…, PartCount, Header,
// Parts) with a compare-and-set of the version it read before checking
// the other parts' items. Of two parts claimed at the same instant, the
// second fails the compare-and-set and waits (retryable, nothing sent); a
// part that claims successfully read the month's claim after every part
// claimed before it, so it saw their items. The month's claim is Done from
// the first accepted part on: a record dated in the month is then refused
// (rule month-not-settled), and while parts are claimed but none is
// accepted it waits. The same part sent again under a new message id is
// answered with the earlier message's outcome (partAgainError).

// inParts says whether a GYU003 is one part of a month uploaded in parts.
func inParts(doc map[string]any) bool {
	return str(doc, "part_no") != "" || str(doc, "part_count") != ""
}

// partOf returns a GYU003's part_no and part_count (0 when absent or not
// an integer; the schema reports that).
func partOf(doc map[string]any) (n, count int) {
	n, _ = strconv.Atoi(str(doc, "part_no"))
	count, _ = strconv.Atoi(str(doc, "part_count"))
	return n, count
}

func monthPartKey(akb020, m string, n int) string {
	return "monthpart/" + akb020 + "/" + m + "/" + strconv.Itoa(n)
}

// monthPart is one claimed part of a monthly settlement in parts.
type monthPart struct {
	MessageID string   `json:"messageId"`
	Items     []string `json:"items"` // item_type + "/" + ref_no
	Done      bool     `json:"done,omitempty"`
	Ref       string   `json:"ref,omitempty"`
}

// monthHeaderFields are the header fields every part of a month carries
// alike (the whole month's).
var monthHeaderFields = []string{"settle_count", "revoke_count", "person_count", "total_amount", "fund_pay", "self_pay",
	"revoke_amount", "deduct_amount", "deduct_revoke_amount", "month_fund_pay"}

// monthHeader is the canonical text of a GYU003's header fields.
func monthHeader(doc map[string]any) map[string]string {
	h := map[string]string{}
	for _, f := range monthHeaderFields {
		switch {
		case strings.HasSuffix(f, "_count"):
			if n, err := strconv.Atoi(str(doc, f)); err == nil {
				h[f] = strconv.Itoa(n)
			} else {
				h[f] = str(doc, f)
			}
		default:
			if v, ok := dec(doc, f); ok {
				h[f] = money(v)
			} else {
				h[f] = str(doc, f)
			}
		}
	}
	return h
}

// itemKeys are the keys (item_type/ref_no) of a GYU003's items, in order.
func itemKeys(doc map[string]any) []string {
	items, _ := doc["items"].([]any)
	keys := make([]string, len(items))
	for i, x := range items {
		r, _ := x.(map[string]any)
		keys[i] = str(r, "item_type") + "/" + str(r, "ref_no")
	}
	return keys
}

// partProblem is what is wrong with a part against the month's other
// parts.
type partProblem struct{ field, rule, summary, detail string }

// partProblems checks part n of count of a GYU003 (doc) against the
// month's claim cl (version ver) and the other parts' items: the same
// part_count and header, part n not claimed by another message, no item
// in another part, and, when n is the last part to be claimed and idx is
// known (no upload of the month without an outcome), every record of the
// month in some part.
func partProblems(ctx context.Context, h sdk.Host, msgID string, doc map[string]any, cl claimState, ver int64, idx *monthIndex) ([]partProblem, error) {
	akb020, m := str(doc, "akb020"), str(doc, "settle_month")
	n, count := partOf(doc)
	var out []partProblem
	add := func(field, rule, summary, detail string) {
		out = append(out, partProblem{field, rule, summary, detail})
	}
	claimed := ver > 0 && !cl.Revoked
	if claimed && cl.PartCount == 0 {
		if cl.MessageID != msgID {
			if cl.Done {
				add("$.settle_month", "state", fmt.Sprintf("rule once-per-month: institution %s's %s is already settled in one call (monthly settlement %s)", akb020, m, cl.Ref), "each institution settles each month once")
			} else {
				add("$.settle_month", "state", fmt.Sprintf("rule once-per-month: institution %s's %s is being settled in one call by message %s", akb020, m, cl.MessageID), "each institution settles each month once")
			}
		}
		return out, nil
	}
	others := map[int]string{} // part → message
	if claimed {
		if cl.PartCount != count {
			add("$.part_count", "consistency", fmt.Sprintf("rule month-parts: institution %s's %s is uploaded in %d parts, not %d", akb020, m, cl.PartCount, count),
				"every part of a month gives the same part_count")
		}
		head := monthHeader(doc)
		for _, f := range monthHeaderFields {
			if want, ok := cl.Header[f]; ok && head[f] != want {
				add("$."+f, "consistency", fmt.Sprintf("rule month-parts: %s is %s but the month's other parts give %s", f, head[f], want),
					"every part carries the same header: the whole month's sums and counts, not the part's")
			}
		}
		for k, id := range cl.Parts {
			p, err := strconv.Atoi(k)
			if err != nil || id == msgID {
				continue
			}
			others[p] = id
		}
	}
	if id, ok := others[n]; ok {
		var p monthPart
		if _, err := getJSON(ctx, h, monthPartKey(akb020, m, n), &p); err != nil {
			return nil, err
		}
		if len(out) == 0 && sameItems(p.Items, itemKeys(doc)) {
			// The same part (count, header and items) as another message:
			// a platform that lost the earlier reply sent it again under a
			// new id. Its answer is the earlier message's (partAgainError).
			return nil, &partAgainError{akb020: akb020, month: m, part: n, msgID: id, ref: p.Ref}
		}
		if p.Done {
			add("$.part_no", "state", fmt.Sprintf("rule once-per-part: part %d of institution %s's %s is already settled, by message %s (monthly settlement %s), with other items or header than this message's", n, akb020, m, id, p.Ref),
				"each part goes once and a settled part cannot be changed: nothing was sent; if this message was meant as another part, correct part_no; if the settled part is wrong, ask the social-security agency")
		} else {
			add("$.part_no", "state", fmt.Sprintf("rule once-per-part: part %d of institution %s's %s is being uploaded by message %s (without an outcome yet), with other items or header than this message's", n, akb020, m, id),
				"each part goes once: nothing was sent; wait for that message's outcome, and if the national system refuses it, send the part again, corrected")
		}
		return out, nil
	}
	owner := map[string]int{}
	for p := range others {
		var mp monthPart
		if _, err := getJSON(ctx, h, monthPartKey(akb020, m, p), &mp); err != nil {
			return nil, err
		}
		for _, k := range mp.Items {
			owner[k] = p
		}
	}
	mine := itemKeys(doc)
	for i, k := range mine {
		if p, ok := owner[k]; ok {
			add(fmt.Sprintf("$.items[%d].ref_no", i), "unique", fmt.Sprintf("rule month-parts: item %s is in part %d of the month already", strings.Replace(k, "/", " ", 1), p),
				"list each record of the month in one part only")
		}
	}
	if idx == nil || len(others) != count-1 {
		return out, nil
	}
	for _, k := range mine {
		owner[k] = n
	}
	var missing []string
	for _, it := range idx.Items {
		if _, ok := owner[it.Type+"/"+it.Ref]; !ok {
			missing = append(missing, "type "+it.Type+" "+it.Ref)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		list := strings.Join(missing[:min(len(missing), 20)], ", ")
		if len(missing) > 20 {
			list += fmt.Sprintf(" and %d more", len(missing)-20)
		}
		add("$.items", "consistency", fmt.Sprintf("rule month-items: this is the last of %d parts, and %d record(s) of institution %s in %s are in none of them: %s", count, len(missing), akb020, m, list),
			"the items of all parts together are every record of the month")
	}
	return out, nil
}

// monthPartRules checks, in the rules, part_no and part_count of a GYU003
// in parts and the part against the month's other parts (partProblems).
// open says that uploads of the month have no outcome yet: the month's
// records known here are incomplete, so whether the parts leave a record
// out is not checked.
func (l *lifecycle) monthPartRules(akb020, m string, open bool) error {
	d := l.doc
	n, count := partOf(d)
	switch {
	case str(d, "part_no") == "" || str(d, "part_count") == "":
		field := "$.part_no"
		if str(d, "part_count") == "" {
			field = "$.part_count"
		}
		l.fail(field, "required", "rule month-parts: part_no and part_count go together", "give both for a month uploaded in parts, neither for a month in one call")
		return nil
	case count < 1:
		l.fail("$.part_count", "range", fmt.Sprintf("rule month-parts: part_count is %s", str(d, "part_count")), "a month goes in at least one part")
		return nil
	case n < 1 || n > count:
		l.fail("$.part_no", "range", fmt.Sprintf("rule month-parts: part_no is %s, not between 1 and part_count %d", str(d, "part_no"), count), "")
		return nil
	}
	var cl claimState
	ver, err := getJSON(l.ctx, l.h, "monthdone/"+akb020+"/"+m, &cl)
	if err != nil {
		return err
	}
	var idx *monthIndex
	if !open {
		idx = &monthIndex{}
		if _, err := getJSON(l.ctx, l.h, "month/"+akb020+"/"+m, idx); err != nil {
			return err
		}
	}
	ps, err := partProblems(l.ctx, l.h, l.msgID, d, cl, ver, idx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		l.fail(p.field, p.rule, p.summary, p.detail)
	}
	return nil
}

// claimMonthPart claims part n of a GYU003 in parts, once it passed the
// rules: it writes the part's items, then adds the part to the month's
// claim with a compare-and-set on the version it checked the other parts
// against. It returns the response to give when the part may not be sent
// (another part was claimed meanwhile and the check must run again: a
// deliberate wait, nothing sent), nil to go on.
func (a *Adapter) claimMonthPart(ctx context.Context, h sdk.Host, msgID string, doc map[string]any) (*sdk.HandleResponse, error) {
	akb020, m := str(doc, "akb020"), str(doc, "settle_month")
	n, count := partOf(doc)
	key := "monthdone/" + akb020 + "/" + m
	var cl claimState
	ver, err := getJSON(ctx, h, key, &cl)
	if err != nil {
		return nil, err
	}
	open, err := monthOpen(ctx, h, akb020, m)
	if err != nil {
		return nil, err
	}
	var idx *monthIndex
	if len(open) == 0 {
		idx = &monthIndex{}
		if _, err := getJSON(ctx, h, "month/"+akb020+"/"+m, idx); err != nil {
			return nil, err
		}
	}
	ps, err := partProblems(ctx, h, msgID, doc, cl, ver, idx)
	var again *partAgainError
	if errors.As(err, &again) {
		// The same part was claimed by another message since the rules
		// ran: the next attempt answers with that message's outcome.
		return monthPartChanged(akb020, m, n), nil
	}
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		// The rules passed on what they read: another part was claimed
		// since. The next attempt checks again and says what is wrong.
		return monthPartChanged(akb020, m, n), nil
	}
	if err := a.at("part-checked"); err != nil {
		return nil, err
	}
	if err := putJSON(ctx, h, monthPartKey(akb020, m, n), monthPart{MessageID: msgID, Items: itemKeys(doc)}); err != nil {
		return nil, err
	}
	next := cl
	if ver == 0 || cl.Revoked {
		next = claimState{MessageID: msgID, At: a.now().UTC(), PartCount: count, Header: monthHeader(doc)}
	}
	parts := map[string]string{}
	for k, v := range next.Parts {
		parts[k] = v
	}
	parts[strconv.Itoa(n)] = msgID
	next.Parts = parts
	if _, err := casJSON(ctx, h, key, ver, next); errors.Is(err, sdk.ErrConflict) {
		a.releasePart(ctx, h, msgID, doc)
		return monthPartChanged(akb020, m, n), nil
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

// sameItems reports whether two lists of item keys hold the same items.
func sameItems(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[string]bool, len(a))
	for _, k := range a {
		set[k] = true
	}
	for _, k := range b {
		if !set[k] {
			return false
		}
	}
	return len(set) == len(a)
}

// partAgainError: a GYU003 part is the same part (part_count, header and
// items) that another message of the month claimed. It is what a platform
// sends when it lost medgate's reply and sends the part again under a new
// message id: the business is that message's, and so is the answer
// (partAgain).
// A month in one call (part 0) is the same when its items are the month's
// records known here and its header their sums, as the earlier message's
// were (monthly).
type partAgainError struct {
	akb020, month string
	part          int    // 0: the month in one call
	msgID, ref    string // the earlier message, and its monthly settlement when accepted
}

func (e *partAgainError) Error() string {
	return fmt.Sprintf("rule %s: %s, with the same items and header, is message %s's", e.rule(), e.what(), e.msgID)
}

// what names the part, or the month in one call.
func (e *partAgainError) what() string {
	if e.part == 0 {
		return fmt.Sprintf("the monthly settlement of institution %s's %s", e.akb020, e.month)
	}
	return fmt.Sprintf("part %d of institution %s's %s", e.part, e.akb020, e.month)
}

func (e *partAgainError) rule() string {
	if e.part == 0 {
		return "once-per-month"
	}
	return "once-per-part"
}

func (e *partAgainError) field() string {
	if e.part == 0 {
		return "$.settle_month"
	}
	return "$.part_no"
}

// partAgain answers a part sent again under a new message id (e): ok with
// the earlier message's answer (its serial and month_settle_no) and a
// warning naming it, when the national system accepted it; while its
// outcome is not known, a deliberate wait (this message is answered with
// that outcome, or checked and sent if the part is refused). Nothing is
// sent.
func (a *Adapter) partAgain(ctx context.Context, h sdk.Host, e *partAgainError) *sdk.HandleResponse {
	var rec sentRecord
	ver, err := getJSON(ctx, h, "msg/"+e.msgID, &rec)
	if err != nil {
		return failed(true, "state", "cannot read the outcome of the message that sent this part before (nothing was sent)", err.Error())
	}
	if ver > 0 && rec.Done && rec.Status == string(sdk.StatusOK) {
		resp := recordResponse("GYU003", rec)
		resp.Diagnostics = append(resp.Diagnostics, sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: e.field(), Rule: e.rule(),
			Summary: fmt.Sprintf("%s is already settled: message %s sent it with the same items and header (serial %s, monthly settlement %s); this message was not sent again",
				e.what(), e.msgID, rec.Serial, firstNonEmpty(e.ref, str(decodedOutput(rec.Output), "month_settle_no"))),
			Detail: "the answer is that message's: it is settled once, whatever message id carries it again (a platform that lost the earlier reply); if this message was meant as another part or month, correct its part_no or settle_month"})
		return resp
	}
	serial := rec.Serial
	if serial == "" {
		serial = "not drawn yet"
	}
	return sdk.Wait(sdk.Problem(e.field(), "state",
		fmt.Sprintf("rule %s: %s, with the same items and header, is being uploaded by message %s (serial %s), without an outcome yet", e.rule(), e.what(), e.msgID, serial),
		"nothing was sent; medgate tries this message again by itself: it is answered with that message's outcome if the national system accepts it, and checked and sent if it refuses it"))
}

// decodedOutput is a stored answer as a map (empty when unreadable).
func decodedOutput(b []byte) map[string]any {
	m := map[string]any{}
	if len(b) == 0 || decodeJSON(b, &m) != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// monthPartChanged is the reply of a part whose month's other parts
// changed while it was checked.
func monthPartChanged(akb020, m string, n int) *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem("$.part_no", "state",
		fmt.Sprintf("rule month-parts: another part of institution %s's %s was claimed while part %d was checked", akb020, m, n),
		"nothing was sent; medgate checks this part again, with the other one counted, on its next attempt"))
}

// releasePart frees the claim of a part that was refused or never sent:
// its items, its place in the month's claim, and the month's claim once
// no part holds it and none was accepted.
func (a *Adapter) releasePart(ctx context.Context, h sdk.Host, msgID string, doc map[string]any) {
	akb020, m := str(doc, "akb020"), str(doc, "settle_month")
	n, _ := partOf(doc)
	err := update(ctx, h, "monthdone/"+akb020+"/"+m, func(cl *claimState, exists bool) error {
		if !exists || cl.Revoked || cl.Parts[strconv.Itoa(n)] != msgID {
			return errSkip
		}
		parts := map[string]string{}
		for k, v := range cl.Parts {
			if k != strconv.Itoa(n) {
				parts[k] = v
			}
		}
		cl.Parts = parts
		if len(parts) == 0 && !cl.Done {
			cl.Revoked = true
		} else if cl.MessageID == msgID {
			cl.MessageID = parts[slices.Min(slices.Collect(maps.Keys(parts)))]
		}
		return nil
	})
	if err != nil {
		a.log.Warn("cannot release a part of a monthly settlement; it stays until the message is replayed", "akb020", akb020, "month", m, "part", n, "err", err)
	}
	var p monthPart
	ver, err := getJSON(ctx, h, monthPartKey(akb020, m, n), &p)
	if err != nil || ver == 0 || p.MessageID != msgID || p.Done {
		return
	}
	if err := h.Delete(ctx, monthPartKey(akb020, m, n)); err != nil {
		a.log.Warn("cannot release the items of a part of a monthly settlement", "akb020", akb020, "month", m, "part", n, "err", err)
	}
}

// partAccepted records an accepted part: its items for good, and the
// month as settled (the first accepted part gives the month's claim its
// monthly settlement number).
func partAccepted(ctx context.Context, h sdk.Host, msgID string, doc map[string]any, ref string) error {
	akb020, m := str(doc, "akb020"), str(doc, "settle_month")
	n, count := partOf(doc)
	if err := update(ctx, h, monthPartKey(akb020, m, n), func(p *monthPart, exists bool) error {
		if exists && p.MessageID == msgID && p.Done {
			return errSkip
		}
		*p = monthPart{MessageID: msgID, Items: itemKeys(doc), Done: true, Ref: ref}
		return nil
	}); err != nil {
		return err
	}
	return update(ctx, h, "monthdone/"+akb020+"/"+m, func(cl *claimState, exists bool) error {
		if !exists || cl.Revoked {
			*cl = claimState{MessageID: msgID, PartCount: count, Header: monthHeader(doc)}
		}
		if cl.Parts == nil {
			cl.Parts = map[string]string{}
		}
		cl.Parts[strconv.Itoa(n)] = msgID
		cl.Done = true
		if cl.Ref == "" {
			cl.Ref = ref
		}
		return nil
	})
}
