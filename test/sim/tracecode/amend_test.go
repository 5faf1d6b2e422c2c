package tracecode

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestAmend: a delivery corrected on the platform (POST /_sim/amend, as a
// supplier takes a short-shipped case off it) is listed with the line's
// codes and quantity as corrected, so the "platform changed" path of a
// draft receipt can be exercised by hand; requests that name nothing to
// amend are refused saying why.
func TestAmend(t *testing.T) {
	t.Parallel()
	s := New(Options{Seed: 1, BillsPerDay: 3})
	before := s.StockIn(day)[0]
	l0 := before.Lines[0]
	if len(l0.Codes) < 2 {
		t.Fatalf("line 1 of %s ships %d code(s); the test needs 2", before.BillNo, len(l0.Codes))
	}
	dropped := l0.Codes[len(l0.Codes)-1].Code
	units := len(s.SmallestOf(dropped))
	post := func(body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/_sim/amend", strings.NewReader(body)))
		return w
	}
	if w := post(`{"billNo":"` + before.BillNo + `","lineNo":1,"dropCodes":1}`); w.Code != 200 {
		t.Fatalf("amend: %d %s", w.Code, w.Body)
	}
	after := s.StockIn(day)[0]
	got := after.Lines[0]
	if len(got.Codes) != len(l0.Codes)-1 || got.Qty != l0.Qty-units {
		t.Errorf("line 1 after the amendment: %d codes, qty %d; want %d codes, qty %d", len(got.Codes), got.Qty, len(l0.Codes)-1, l0.Qty-units)
	}
	for _, c := range got.Codes {
		if c.Code == dropped {
			t.Errorf("code %s still listed", dropped)
		}
	}
	s.mu.Lock()
	listed, _ := s.billCodesOf(before.BillNo)
	s.mu.Unlock()
	if n := len(listed); n != len(after.Lines[0].Codes)+codesOfLines(after.Lines[1:]) {
		t.Errorf("the document's codes query lists %d codes", n)
	}
	if before.Lines[0].Qty != l0.Qty {
		t.Errorf("the document StockIn returned before changed: qty %d, was %d", before.Lines[0].Qty, l0.Qty)
	}
	// A line every code of which leaves is taken off the document; a
	// document keeps a line.
	var multi, single *Bill
	for _, b := range s.StockIn(day) {
		switch {
		case len(b.Lines) > 1 && multi == nil:
			multi = &b
		case len(b.Lines) == 1 && single == nil:
			single = &b
		}
	}
	if multi == nil || single == nil {
		t.Fatalf("the day has no document of one line and one of several: %v", s.StockIn(day))
	}
	last := multi.Lines[len(multi.Lines)-1]
	if w := post(fmt.Sprintf(`{"billNo":%q,"lineNo":%d,"dropCodes":%d}`, multi.BillNo, last.LineNo, len(last.Codes))); w.Code != 200 {
		t.Fatalf("amend: %d %s", w.Code, w.Body)
	}
	for _, b := range s.StockIn(day) {
		if b.BillNo == multi.BillNo && len(b.Lines) != len(multi.Lines)-1 {
			t.Errorf("%s has %d lines after every code of line %d left, want %d", b.BillNo, len(b.Lines), last.LineNo, len(multi.Lines)-1)
		}
	}
	only := single.Lines[0]
	if w := post(fmt.Sprintf(`{"billNo":%q,"lineNo":%d,"dropCodes":%d}`, single.BillNo, only.LineNo, len(only.Codes))); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), fmt.Sprintf("dropCodes must be 1 to %d", len(only.Codes)-1)) {
		t.Errorf("every code of a document's only line: %d %s", w.Code, w.Body)
	}
	for body, want := range map[string]string{
		`{"billNo":"NOPE","lineNo":1,"dropCodes":1}`:                     "no delivery",
		`{"billNo":"` + before.BillNo + `","lineNo":99,"dropCodes":1}`:   "has no line 99",
		`{"billNo":"` + before.BillNo + `","lineNo":1,"dropCodes":0}`:    "dropCodes must be 1 to",
		`{"billNo":"` + before.BillNo + `","lineNo":1,"dropCodes":1000}`: "dropCodes must be 1 to",
		`not json`: `send {"billNo"`,
	} {
		if w := post(body); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %s, want 400 saying %q", body, w.Code, w.Body, want)
		}
	}
}

func codesOfLines(ls []Line) int {
	n := 0
	for _, l := range ls {
		n += len(l.Codes)
	}
	return n
}

// TestDeliveriesIndependentOfListingOrder: a day's deliveries carry the
// same codes whichever days were listed before (a simulator restarted, as
// `make run` again, listing the days in another order), as the platform's
// documents keep their codes: a medgate that fetched them before would
// otherwise flag every draft receipt as changed on the platform and hold
// in stock codes the platform now lists on other documents. No two days
// share a code.
func TestDeliveriesIndependentOfListingOrder(t *testing.T) {
	t.Parallel()
	next := day.AddDate(0, 0, 1)
	a := New(Options{Seed: 3, BillsPerDay: 4})
	a1, a2 := a.StockIn(day), a.StockIn(next)
	b := New(Options{Seed: 3, BillsPerDay: 4})
	b2, b1 := b.StockIn(next), b.StockIn(day)
	if !reflect.DeepEqual(a1, b1) || !reflect.DeepEqual(a2, b2) {
		t.Fatalf("the deliveries of a day depend on the days listed before it:\n%v\n%v", a1, b1)
	}
	seen := map[string]string{}
	for _, bills := range [][]Bill{a1, a2} {
		for _, bl := range bills {
			for _, l := range bl.Lines {
				for _, c := range l.Codes {
					for _, n := range a.subtree(c.Code, 0) {
						if other, ok := seen[n.Code]; ok {
							t.Fatalf("code %s on %s and %s", n.Code, other, bl.BillNo)
						}
						seen[n.Code] = bl.BillNo
					}
				}
			}
		}
	}
}
