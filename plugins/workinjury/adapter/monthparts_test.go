package adapter

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// bigMonth settles stay ZY0801 and makes 1,199 deductions of 0.01 on it,
// all in May 2025: the institution's month has 1,200 records, more than
// one GYU003 call may carry (500). It returns the whole month's GYU003
// as the adapter's month index gives it, and the settlement.
func bigMonth(t *testing.T, c *chain) (map[string]any, string) {
	t.Helper()
	_, s := c.settle("ZY0801")
	var batch []map[string]any
	for i := 1; i <= 1199; i++ {
		batch = append(batch, deduction(fmt.Sprintf("KP%05d", i), s, "0.01"))
		if len(batch) == 500 || i == 1199 {
			c.mustOK(c.send("GYU004", deductions(batch...)))
			batch = nil
		}
	}
	whole := c.monthly(hospital, "202505")
	if n := len(whole["items"].([]any)); n != 1200 {
		t.Fatalf("the month has %d records, want 1200", n)
	}
	return whole, s
}

// part is part n of count of the whole month's GYU003, listing its items
// [from, to), with the whole month's header.
func part(whole map[string]any, n, count, from, to int) map[string]any {
	p := maps.Clone(whole)
	p["items"] = slices.Clone(whole["items"].([]any)[from:to])
	p["part_no"], p["part_count"] = n, count
	return p
}

// A month of more than 500 items could never be sent: GYU003 had to list
// the whole month in one call of at most 500. It now goes in parts, each
// with the whole month's header, in any order, checked against the
// month's records known here and against the other parts, and the
// simulator (which checks the same rules on its own) takes each part.
func TestMonthlySettlementInParts(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	whole, s := bigMonth(t, c)
	sent := func() int { return len(c.sim.Received("GYU003")) }
	if r := c.send("GYU003", whole); r.Status != sdk.StatusInvalid {
		t.Fatalf("the whole month in one call answered %s, want invalid (over the batch limit)", r.Status)
	}

	// Part 2 first: accepted, the month is settled from now on.
	first := c.mustOK(c.handle("m-part2", "GYU003", part(whole, 2, 3, 400, 800), false))
	no, _ := first["month_settle_no"].(string)
	info, ok := c.sim.MonthParts(hospital, "202505")
	if !ok || no == "" || info.MonthlyNo != no || len(info.Parts) != 1 || len(info.Parts[2]) != 400 || info.Complete {
		t.Fatalf("after part 2: simulator parts %+v (%v), answer %v", info, ok, first)
	}

	// A record dated in the month after the first part is refused.
	before := len(c.sim.Received("GYU004"))
	late := deduction("KP09999", s, "0.01")
	late["deduct_time"] = stampT(admitDay.Add(20 * 24 * time.Hour))
	c.wantInvalid(t, c.send("GYU004", deductions(late)), "GYU004", before, "$.deductions[0].deduct_time", "rule month-not-settled")

	// Part 1: accepted under the same number; settlement ZY0801 (item 0)
	// is now in the monthly settlement at the national side.
	if out := c.mustOK(c.handle("m-part1", "GYU003", part(whole, 1, 3, 0, 400), false)); out["month_settle_no"] != no {
		t.Fatalf("part 1 answered %v, want month_settle_no %s", out, no)
	}
	if info, _ := c.sim.MonthParts(hospital, "202505"); len(info.Parts) != 2 || len(info.Parts[1]) != 400 || info.Complete {
		t.Fatalf("after part 1: simulator parts %+v", info)
	}
	if got := c.sim.Monthlies(hospital, "202505"); len(got) != 0 {
		t.Fatalf("with part 3 missing the simulator has monthly settlements %+v", got)
	}

	// Part 1 retried (the same message): its outcome, nothing sent.
	n := sent()
	if out := c.mustOK(c.handle("m-part1", "GYU003", part(whole, 1, 3, 0, 400), true)); out["month_settle_no"] != no || sent() != n {
		t.Fatalf("part 1 retried answered %v and sent %d calls", out, sent()-n)
	}

	tests := map[string]struct {
		doc   map[string]any
		field string
		rule  string
	}{
		"part 1's number, other items":  {part(whole, 1, 3, 0, 399), "$.part_no", "rule once-per-part"},
		"an item of part 1 in part 3":   {part(whole, 3, 3, 399, 1200), "$.items[0].ref_no", "rule month-parts"},
		"a header differing":            {with(part(whole, 3, 3, 800, 1200), "deduct_amount", json.Number("4.00"), "month_fund_pay", json.Number("48.50")), "$.deduct_amount", "rule month-parts"},
		"the part's sums as header":     {with(part(whole, 3, 3, 800, 1200), "deduct_amount", json.Number("4.00"), "month_fund_pay", json.Number("48.50")), "$.deduct_amount", "rule month-amount=Σitems"},
		"another part_count":            {part(whole, 3, 4, 800, 1200), "$.part_count", "rule month-parts"},
		"the last part leaving one out": {part(whole, 3, 3, 800, 1199), "$.items", "rule month-items"},
		"part_no without part_count": {func() map[string]any {
			p := part(whole, 3, 3, 800, 1200)
			delete(p, "part_count")
			return p
		}(), "$.part_count", "rule month-parts"},
		"the month in one call": {func() map[string]any {
			p := part(whole, 3, 3, 800, 1200)
			delete(p, "part_count")
			delete(p, "part_no")
			return p
		}(), "$.settle_month", "rule once-per-month"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c.wantInvalid(t, c.send("GYU003", tc.doc), "GYU003", sent(), tc.field, tc.rule)
		})
	}

	// Part 3 completes the month.
	if out := c.mustOK(c.send("GYU003", part(whole, 3, 3, 800, 1200))); out["month_settle_no"] != no {
		t.Fatalf("part 3 answered %v, want month_settle_no %s", out, no)
	}
	info, _ = c.sim.MonthParts(hospital, "202505")
	mo := c.sim.Monthlies(hospital, "202505")
	if !info.Complete || len(info.Parts) != 3 || len(mo) != 1 || mo[0].MonthlyNo != no || mo[0].Sums.DeductAmount != 1199 {
		t.Fatalf("after part 3: simulator parts %+v, monthly settlements %+v", info, mo)
	}
}

// A part the national system refuses frees its place: the month is not
// settled while no part is accepted, and the part can be sent again.
func TestMonthlySettlementPartRefused(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	whole, s := bigMonth(t, c)
	// A deduction made at the national side, not known here: the
	// simulator's month has a record more, and refuses the part's header.
	if err := c.sim.AddDeduction("KN0001", s, 1, "国家侧扣款", admitDay.Add(11*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := c.send("GYU003", part(whole, 1, 3, 0, 400))
	if r.Status != sdk.StatusRejected {
		t.Fatalf("part 1 against a national month with another record answered %s, want rejected: %s", r.Status, r.Diagnostics)
	}
	var cl claimState
	if ver, err := getJSON(t.Context(), hostFor(c.host, testSite), "monthdone/"+hospital+"/202505", &cl); err != nil || (ver > 0 && !cl.Revoked) {
		t.Fatalf("a refused only part still claims the month: %+v (%v)", cl, err)
	}
	// The month is open: a record of it is sent.
	c.mustOK(c.send("GYU004", deductions(deduction("KP09998", s, "0.01"))))
}

// Two parts of a month with an item in common, checked at the same
// instant (different Kafka keys, or instances), each pass the check of the
// other parts' items. The one that claims second fails its compare-and-set
// of the month's claim: it waits, nothing sent, and its next attempt finds
// the item in the other part.
func TestMonthlySettlementPartsCheckedTogether(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	whole, _ := bigMonth(t, c)
	var inner *sdk.HandleResponse
	started := false
	c.impl.hook = func(p string) error {
		if p != "part-checked" || started {
			return nil
		}
		started = true
		inner = c.handle("m-part2", "GYU003", part(whole, 2, 3, 399, 800), false)
		return nil
	}
	before := len(c.sim.Received("GYU003"))
	outer := c.handle("m-part1", "GYU003", part(whole, 1, 3, 0, 400), false)
	c.impl.hook = nil
	if inner == nil {
		t.Fatal("part 2 was never handled while part 1 was checked")
	}
	c.mustOK(inner)
	c.wantWait(t, outer, "GYU003", before+1, "$.part_no", "rule month-parts")
	c.wantInvalid(t, c.handle("m-part1", "GYU003", part(whole, 1, 3, 0, 400), true), "GYU003", before+1, "$.items[399].ref_no", "rule month-parts")
	if info, _ := c.sim.MonthParts(hospital, "202505"); len(info.Parts) != 1 || len(info.Parts[2]) != 401 {
		t.Fatalf("simulator parts %+v, want part 2 only", info)
	}
}
