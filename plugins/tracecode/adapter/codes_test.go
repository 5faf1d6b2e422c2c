package adapter_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/plugins/tracecode/code"
)

type expansion struct {
	BillNo        string       `json:"billNo"`
	Code          string       `json:"code"`
	Tops          []code.Count `json:"tops"`
	SmallestCount int          `json:"smallestCount"`
	Smallest      []string     `json:"smallest"`
	Truncated     bool         `json:"truncated"`
	Mismatches    []code.Count `json:"mismatches"`
}

func TestCodeQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, cst)
	bills := e.sim.StockIn(day)
	// Find a document with a partial case (the simulator ships one now and
	// then) and one without.
	var partial, full string
	for _, b := range bills {
		hasPartial := false
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				r, _ := code.ParseRatio(l.PackRatio, code.RatioCumulative)
				want, _ := r.SmallestPer(1)
				if len(e.sim.SmallestOf(c.Code)) != want {
					hasPartial = true
				}
			}
		}
		if hasPartial && partial == "" {
			partial = b.BillNo
		}
		if !hasPartial && full == "" {
			full = b.BillNo
		}
	}
	if partial == "" || full == "" {
		t.Fatalf("the simulator's day has no partial and full documents to test with: %v", bills)
	}
	byNo := map[string]int{}
	for i, b := range bills {
		byNo[b.BillNo] = i
	}

	t.Run("codes by document", func(t *testing.T) {
		b := bills[byNo[full]]
		out := must[struct {
			Count int
			Codes []struct {
				Code, Kind, Product string
				Level, LineNo       int
			}
		}](t, e.send(adapter.OpCodesByBill, map[string]string{"billNo": full}), sdk.StatusOK)
		var want []string
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				want = append(want, c.Code)
			}
		}
		var got []string
		for _, c := range out.Codes {
			got = append(got, c.Code)
			if c.Kind != "drug" || c.Product != c.Code[:7] || c.LineNo == 0 {
				t.Errorf("code %+v", c)
			}
		}
		if out.Count != len(want) || !slices.Equal(got, want) {
			t.Errorf("codes %v, want %v", got, want)
		}
	})
	t.Run("smallest sub-codes of a document", func(t *testing.T) {
		b := bills[byNo[full]]
		r := e.send(adapter.OpCodesSmallest, map[string]string{"billNo": full})
		out := must[expansion](t, r, sdk.StatusOK)
		if out.SmallestCount != b.Smallest() || len(out.Mismatches) != 0 {
			t.Errorf("%d smallest, %d mismatches; the document holds %d units", out.SmallestCount, len(out.Mismatches), b.Smallest())
		}
		for _, top := range out.Tops {
			if top.Expected == 0 || top.Expected != top.Smallest {
				t.Errorf("top %+v", top)
			}
		}
	})
	t.Run("pack-ratio mismatch is reported", func(t *testing.T) {
		r := e.send(adapter.OpCodesSmallest, map[string]string{"billNo": partial})
		out := must[expansion](t, r, sdk.StatusOK)
		if len(out.Mismatches) == 0 {
			t.Fatalf("no mismatch reported for %s: %+v", partial, out)
		}
		m := out.Mismatches[0]
		if m.Smallest >= m.Expected || m.BoxStatus != "2" || m.Problem == "" {
			t.Errorf("mismatch %+v", m)
		}
		warned := false
		for _, d := range r.Diagnostics {
			warned = warned || (d.Severity == sdk.SeverityWarning && d.Rule == "amount")
		}
		if !warned {
			t.Errorf("no warning diagnostic for the mismatch: %s", r.Diagnostics)
		}
		if out.SmallestCount != bills[byNo[partial]].Smallest() {
			t.Errorf("%d smallest, the document holds %d", out.SmallestCount, bills[byNo[partial]].Smallest())
		}
	})
	t.Run("smallest sub-codes of one code", func(t *testing.T) {
		l := bills[byNo[full]].Lines[0]
		top := l.Codes[0].Code
		out := must[expansion](t, e.send(adapter.OpCodeSmallest, map[string]string{"code": top}), sdk.StatusOK)
		want := e.sim.SmallestOf(top)
		if !slices.Equal(out.Smallest, want) || len(out.Tops) != 1 || out.Tops[0].Expected != len(want) {
			t.Errorf("smallest of %s = %+v, want %v", top, out, want)
		}
	})
	t.Run("errors", func(t *testing.T) {
		testCases := map[string]struct {
			typ     string
			payload map[string]string
			status  sdk.Status
			ext     string
		}{
			"bad code":         {adapter.OpCodeSmallest, map[string]string{"code": "12345"}, sdk.StatusInvalid, ""},
			"unknown code":     {adapter.OpCodeSmallest, map[string]string{"code": drugCode("8199999", 1)}, sdk.StatusRejected, "NOT_FOUND"},
			"unknown document": {adapter.OpCodesByBill, map[string]string{"billNo": "NOPE"}, sdk.StatusRejected, "NOT_FOUND"},
			"missing number":   {adapter.OpCodesSmallest, map[string]string{}, sdk.StatusInvalid, ""},
		}
		for name, tc := range testCases {
			r := e.send(tc.typ, tc.payload)
			if r.Status != tc.status || (tc.ext != "" && (r.External == nil || r.External.Code != tc.ext)) {
				t.Errorf("%s: %s %+v %s", name, r.Status, r.External, r.Diagnostics)
			}
		}
	})
	t.Run("truncated replies", func(t *testing.T) {
		e2 := newEnv(t, func(s map[string]string) { s["maxCodesInReply"] = "3" })
		b := e2.sim.StockIn(day)[0]
		out := must[expansion](t, e2.send(adapter.OpCodesSmallest, map[string]string{"billNo": b.BillNo}), sdk.StatusOK)
		if !out.Truncated || len(out.Smallest) != 3 || out.SmallestCount != b.Smallest() {
			t.Errorf("truncation: %d listed of %d, truncated %v", len(out.Smallest), out.SmallestCount, out.Truncated)
		}
	})
}

// TestSmallestQueryWarningsBounded: every code of a hierarchy answer that
// the site does not accept was a warning of its own, so an answer of
// thousands of such codes made a reply of thousands of diagnostics (over
// the reply size a Kafka record takes). They are capped like the other
// answer warnings.
func TestSmallestQueryWarningsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil) // consumableCodes: gs1
	var codes []string
	for i := range 200 {
		codes = append(codes, fmt.Sprintf("(01)06901234567892(21)%04d", i))
	}
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("GS1-DOC", "102", line(1, "200", codes...))), sdk.StatusOK)
	s := baseSettings(e.url, e.dir)
	s["consumableCodes"] = "none" // the site now takes drug codes only
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	r := e.send(adapter.OpCodesSmallest, map[string]string{"billNo": "GS1-DOC"})
	out := must[expansion](t, r, sdk.StatusOK)
	if out.SmallestCount != 200 {
		t.Fatalf("%d smallest codes, want 200", out.SmallestCount)
	}
	if len(r.Diagnostics) > 25 {
		t.Errorf("%d diagnostics for one answer, want them capped", len(r.Diagnostics))
	}
}

// TestSmallestReplyBounded: maxCodesInReply bounds the codes one reply
// lists. The smallest sub-codes were cut to it, but the top codes (one
// entry per case, pack or box of the document, with its count) and the
// mismatches were not: a document of tens of thousands of boxes made a
// reply of megabytes.
func TestSmallestReplyBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["maxCodesInReply"] = "10" })
	var codes []string
	for i := range 30 {
		codes = append(codes, drugCode("8100001", 700+i))
	}
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("BOXES", "102", line(1, "30", codes...))), sdk.StatusOK)
	out := must[expansion](t, e.send(adapter.OpCodesSmallest, map[string]string{"billNo": "BOXES"}), sdk.StatusOK)
	if out.SmallestCount != 30 || !out.Truncated {
		t.Fatalf("smallestCount %d truncated %v, want 30 and true", out.SmallestCount, out.Truncated)
	}
	if len(out.Tops) > 10 || len(out.Mismatches) > 10 || len(out.Smallest) > 10 {
		t.Errorf("reply lists %d tops, %d mismatches, %d smallest codes; maxCodesInReply is 10", len(out.Tops), len(out.Mismatches), len(out.Smallest))
	}
}
