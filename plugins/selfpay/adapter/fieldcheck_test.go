package adapter

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// warned returns "field rule" of every warning of r, sorted.
func warned(r *sdk.HandleResponse) []string {
	var out []string
	for _, d := range r.Diagnostics {
		if d.Severity == sdk.SeverityWarning {
			out = append(out, d.Field+" "+d.Rule)
		}
	}
	slices.Sort(out)
	return out
}

// TestUploadWarnsOfTimesAndSplits: no source states that a visit ends
// after it begins, that a fee falls within the visit or that a line's
// self-pay parts stay within its total, so the upload goes on (status ok,
// the platform gets it) but the reply warns the clerk of each, on the
// field, the stored reply too. The upload took such data silently.
func TestUploadWarnsOfTimesAndSplits(t *testing.T) {
	t.Parallel()
	const fees = "$." + nodeFees
	line := func(m map[string]any, i int) map[string]any { return m[nodeFees].([]any)[i].(map[string]any) }
	cases := map[string]struct {
		edit func(m map[string]any)
		want []string
	}{
		"all within the visit": {edit: func(map[string]any) {}},
		"the visit ends before it begins": {
			edit: func(m map[string]any) {
				m[nodeMdtrt].(map[string]any)["endtime"] = "2025-03-25 09:59:59"
				for i := range 3 {
					line(m, i)["fee_ocur_time"] = "2025-03-25 09:00:00"
				}
			},
			want: []string{"$." + nodeMdtrt + ".endtime time"},
		},
		"a fee before the admission": {
			edit: func(m map[string]any) { line(m, 1)["fee_ocur_time"] = "2025-03-25 09:59:59" },
			want: []string{fees + "[1].fee_ocur_time time"},
		},
		"a fee after the discharge": {
			edit: func(m map[string]any) { line(m, 2)["fee_ocur_time"] = "2025-04-01 09:00:01" },
			want: []string{fees + "[2].fee_ocur_time time"},
		},
		"a fee at the admission and one at the discharge": {
			edit: func(m map[string]any) {
				line(m, 0)["fee_ocur_time"] = "2025-03-25 10:00:00"
				line(m, 1)["fee_ocur_time"] = "2025-04-01 09:00:00"
			},
		},
		"no endtime, a fee late": {
			edit: func(m map[string]any) {
				delete(m[nodeMdtrt].(map[string]any), "endtime")
				line(m, 0)["fee_ocur_time"] = "2026-01-01 00:00:00"
			},
		},
		"full self-pay above the total": {
			edit: func(m map[string]any) { line(m, 0)["fulamt_ownpay_amt"] = "11.01" },
			want: []string{fees + "[0].fulamt_ownpay_amt amount"},
		},
		"in-scope amount above the total": {
			edit: func(m map[string]any) { line(m, 2)["fulamt_ownpay_amt"], line(m, 2)["inscp_amt"] = "0", "12" },
			want: []string{fees + "[2].inscp_amt amount"},
		},
		"a refund line": {
			edit: func(m map[string]any) {
				l := line(m, 2)
				l["cnt"], l["det_item_fee_sumamt"], l["fulamt_ownpay_amt"] = "-2", "-11.00", "-11.00"
				m[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "11.00"
			},
		},
		"a refund line with a positive part": {
			edit: func(m map[string]any) {
				l := line(m, 2)
				l["cnt"], l["det_item_fee_sumamt"], l["fulamt_ownpay_amt"] = "-2", "-11.00", "5.00"
				m[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "11.00"
			},
			want: []string{fees + "[2].fulamt_ownpay_amt amount"},
		},
		"a free line": {
			edit: func(m map[string]any) {
				l := line(m, 1)
				l["pric"], l["det_item_fee_sumamt"], l["fulamt_ownpay_amt"] = "0", "0.00", "0"
				m[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "22.00"
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			id := fmt.Sprintf("ZYW%x", len(name)*31+int(name[0]))
			m := upload(id, 3)
			tc.edit(m)
			r := e.must(OpUpload, "w-"+id, m, 1)
			wantStatus(t, r, sdk.StatusOK)
			if got := warned(r); !slices.Equal(got, tc.want) {
				t.Errorf("warnings %q, want %q: %v", got, tc.want, r.Diagnostics)
			}
			if v := e.sim.Visit(testCode, id); len(v.Fees) != 3 || !v.Complete {
				t.Errorf("a warning held the upload back: the platform has %+v", v)
			}
			again := e.must(OpUpload, "w-"+id, m, 2)
			if got := warned(again); !slices.Equal(got, tc.want) {
				t.Errorf("the stored reply warns %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSingleWarnsOfTimesAndSplits: a single 4202 whose visit ends before
// it begins, and a single 4201A line with a part above its total, are sent
// and answered ok with a warning.
func TestSingleWarnsOfTimesAndSplits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const id = "ZYSW"
	f := fee(id, 1)
	f["overlmt_selfpay"] = "20"
	r := e.must("selfpay.4201A", "sw-fees", map[string]any{nodeFees: []any{f}}, 1)
	wantStatus(t, r, sdk.StatusOK)
	if got, want := warned(r), []string{"$." + nodeFees + "[0].overlmt_selfpay amount"}; !slices.Equal(got, want) {
		t.Errorf("4201A warnings %q, want %q", got, want)
	}
	v := visit(id, 1)
	v["endtime"] = "2025-03-01 00:00:00"
	r = e.must("selfpay.4202", "sw-visit", map[string]any{nodeMdtrt: v, nodeDiags: diagnoses()}, 1)
	wantStatus(t, r, sdk.StatusOK)
	if got, want := warned(r), []string{"$." + nodeMdtrt + ".endtime time"}; !slices.Equal(got, want) {
		t.Errorf("4202 warnings %q, want %q", got, want)
	}
	if d := r.Diagnostics.String(); !strings.Contains(d, "2025-03-01 00:00:00") || strings.Contains(d, testCert) {
		t.Errorf("the warning does not name the times, or names the patient: %s", d)
	}
}

// TestManyFeesOutsideTheVisit: a warning per line for the first ten,
// then one counting the rest.
func TestManyFeesOutsideTheVisit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const id = "ZYMW"
	m := upload(id, 25)
	for _, f := range m[nodeFees].([]any) {
		f.(map[string]any)["fee_ocur_time"] = "2025-03-01 08:00:00"
	}
	r := e.must(OpUpload, "mw", m, 1)
	wantStatus(t, r, sdk.StatusOK)
	got := warned(r)
	if len(got) != 11 {
		t.Fatalf("%d warnings, want 11: %q", len(got), got)
	}
	if d := r.Diagnostics.String(); !strings.Contains(d, "15 more fee lines dated outside the visit") {
		t.Errorf("the rest is not counted: %s", d)
	}
}

// TestQuery4208InvertedPeriod: a 4208 searching a period that ends before
// it begins finds nothing, which read as "no such visit"; the reply now
// warns that the period is inverted. A period in order does not warn.
func TestQuery4208InvertedPeriod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "qi-up", upload("ZYQI", 1), 1), sdk.StatusOK)
	cases := map[string]struct {
		begin, end string
		want       []string
	}{
		"in order": {begin: "2025-03-25 00:00:00", end: "2025-03-26 00:00:00"},
		"inverted": {begin: "2025-03-26 00:00:00", end: "2025-03-25 00:00:00", want: []string{"$.endtime time"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.must("selfpay.4208", "qi-"+name, map[string]any{"certno": testCert, "begntime": tc.begin, "endtime": tc.end, "page_num": 1, "page_size": 10}, 1)
			wantStatus(t, r, sdk.StatusOK)
			if got := warned(r); !slices.Equal(got, tc.want) {
				t.Errorf("warnings %q, want %q", got, tc.want)
			}
		})
	}
}
