package adapter_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestMIBatchNumberPerSupplier: two suppliers' documents sharing one
// number were uploaded to medical insurance under the same batch numbers
// (fixmedins_bchno <billNo>-<lineNo>), so the second supplier's lines were
// refused as duplicates (or, on a platform that does not check, changed
// the first's stock). A fetched document's lines now carry a number of
// their supplier's too, kept in the line's state so a resend uses the
// number of the first attempt; a line an earlier version sent keeps
// <billNo>-<lineNo>.
func TestMIBatchNumberPerSupplier(t *testing.T) {
	t.Parallel()
	const supA, supB = "91350200MA31A0001X", "91350200MA31B0002Y"
	tests := map[string]struct {
		// unknown: the first line of supplier A's document is sent with
		// no answer (HTTP 500), then resent; earlier: its state is as an
		// earlier version left it (no batch number kept).
		unknown, earlier bool
	}{
		"both suppliers uploaded":                  {},
		"a resend keeps its first number":          {unknown: true},
		"a line an earlier version sent keeps its": {unknown: true, earlier: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newListingEnv(t, func(body []byte) []byte { return sameNumber(t, body) })
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
			lines := map[string]int{}
			for _, id := range out.Drafts {
				d := getDraft(t, e, id)
				must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02"}), sdk.StatusOK)
				if billOf(id) == "PS-0001" {
					lines[id] = len(d.Lines)
				}
			}
			if len(lines) != 2 {
				t.Fatalf("drafts of PS-0001: %v, want two", lines)
			}
			upload := func(sup string, extra map[string]any) *sdk.HandleResponse {
				p := map[string]any{"billNo": "PS-0001", "supplierCode": sup}
				for k, v := range extra {
					p[k] = v
				}
				return e.send(adapter.OpMIUpload, p)
			}
			if tc.unknown {
				e.sim.FailHSA(tracecode.FailHTTP500, 1)
				if r := upload(supA, nil); r.Status == sdk.StatusOK {
					t.Fatalf("upload with the first line unanswered: ok, want it reported unknown: %s", r.Payload)
				}
				if tc.earlier {
					e.asBeforeBatchNumbers()
				}
			}
			before := e.state("miidx/")
			must[map[string]any](t, upload(supA, map[string]any{"resend": tc.unknown}), sdk.StatusOK)
			must[map[string]any](t, upload(supB, nil), sdk.StatusOK)
			recs := e.sim.HSARecords()
			if want := lines["PS-0001"] + lines["PS-0001@"+supB]; len(recs) != want {
				t.Errorf("the platform has %d records, want %d (every line of both documents, each once): %v", len(recs), want, recordKeys(recs))
			}
			_, old := recs["PS-0001-1"]
			if old != tc.earlier {
				t.Errorf("a record under PS-0001-1: %v, want %v (only a line an earlier version sent keeps that number): %v", old, tc.earlier, recordKeys(recs))
			}
			if tc.unknown && !tc.earlier {
				// The resend went out under the number the first attempt
				// recorded.
				first := firstBchno(t, before, "PS-0001")
				if _, ok := recs[first]; first == "" || !ok {
					t.Errorf("the resend is not under the first attempt's number %q: %v", first, recordKeys(recs))
				}
			}
			for k := range recs {
				if len(k) > 30 {
					t.Errorf("batch number %q is longer than fixmedins_bchno's 30 characters", k)
				}
			}
		})
	}
}

func recordKeys(m map[string]tracecode.HSARecord) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// firstBchno returns the batch number kept for line 1 of the document in
// the medical-insurance state entries es.
func firstBchno(t *testing.T, es []sdk.Entry, docNo string) string {
	t.Helper()
	for _, s := range es {
		if !strings.Contains(s.Key, docNo) {
			continue
		}
		var st struct {
			Lines map[string]map[string]any `json:"lines"`
		}
		if err := json.Unmarshal(s.Value, &st); err != nil {
			t.Fatal(err)
		}
		if l := st.Lines["1"]; l != nil {
			b, _ := l["bchno"].(string)
			return b
		}
	}
	return ""
}

// asBeforeBatchNumbers drops the batch numbers kept in the lines'
// medical-insurance state, as versions that sent every line under
// <billNo>-<lineNo> left it.
func (e *env) asBeforeBatchNumbers() {
	e.t.Helper()
	for _, s := range e.state("miidx/") {
		var st map[string]any
		if err := json.Unmarshal(s.Value, &st); err != nil {
			e.t.Fatal(err)
		}
		ls, _ := st["lines"].(map[string]any)
		for _, l := range ls {
			delete(l.(map[string]any), "bchno")
		}
		b, _ := json.Marshal(st)
		if _, err := e.host.Put(context.Background(), site, s.Key, b); err != nil {
			e.t.Fatal(err)
		}
	}
}
