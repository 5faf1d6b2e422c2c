package adapter_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestFetchedDocumentWithRepeatedLineNumberIsSkipped: line numbers key a
// fetched document's lines everywhere after the fetch (draft adjustments,
// the receipt, the medical-insurance upload's per-line state and batch
// number <billNo>-<lineNo>). A platform document numbering two lines
// alike is skipped with a warning naming it, like any document that does
// not fit; before, it became a draft whose second line no adjustment
// could reach (and, once confirmed, a 3502 upload that sent the second
// line's figures in place of the first's and never sent the first).
func TestFetchedDocumentWithRepeatedLineNumberIsSkipped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var broken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		e.sim.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/stockin/list") {
			var ans map[string]any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&ans); err == nil {
				data, _ := ans["data"].(map[string]any)
				bills, _ := data["bills"].([]any)
				for _, b := range bills {
					bm, _ := b.(map[string]any)
					lines, _ := bm["lines"].([]any)
					if len(lines) >= 2 && broken == "" {
						lines[1].(map[string]any)["lineNo"] = lines[0].(map[string]any)["lineNo"]
						broken, _ = bm["billNo"].(string)
					}
				}
				body, _ = json.Marshal(ans)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	if ds := e.configure(baseSettings(srv.URL, e.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	r := e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"})
	out := must[fetchReply](t, r, sdk.StatusOK)
	if broken == "" {
		t.Fatal("the simulator's day has no document of two lines")
	}
	for _, id := range out.Drafts {
		if billOf(id) == broken {
			t.Fatalf("document %s, which numbers two lines alike, became draft %s", broken, id)
		}
	}
	warned := false
	for _, d := range r.Diagnostics {
		warned = warned || d.Severity == sdk.SeverityWarning && strings.Contains(d.Detail+d.Summary, broken) && strings.Contains(d.Detail+d.Summary, "line number")
	}
	if !warned {
		t.Errorf("no warning naming %s and its repeated line number: %s", broken, r.Diagnostics)
	}
	if out.New == 0 {
		t.Errorf("the other documents were not fetched: %+v", out)
	}
}
