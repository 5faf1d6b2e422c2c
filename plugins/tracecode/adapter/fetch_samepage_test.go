package adapter_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestFetchRefusesAListingThatDoesNotPage: a platform that does not take
// the page number as sent (a field named otherwise, so fieldNames is
// wrong) answers every page with the first one. The fetch counted those
// repeats toward the total and stopped there, reporting success with only
// the first page's documents: the others got no document, no draft and
// no event, and nothing said so. A page that lists only documents earlier
// pages of the fetch listed now fails the fetch, naming the setting to
// check; the documents read are kept.
func TestFetchRefusesAListingThatDoesNotPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["pageSize"] = "1" })
	page := regexp.MustCompile(`"page":\d+`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bill/stockin/list") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(page.ReplaceAll(body, []byte(`"page":1`))))
			r.ContentLength = -1
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s := baseSettings(srv.URL, e.dir)
	s["pageSize"] = "1"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	if n := len(e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))); n < 2 {
		t.Fatalf("the simulator's day has %d documents; the test needs two pages", n)
	}
	r := e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"})
	if r.Status == sdk.StatusOK || !strings.Contains(r.Diagnostics.String(), "page 2") || !strings.Contains(r.Diagnostics.String(), "fieldNames") {
		t.Fatalf("a listing repeating its first page: %s %s; want a failure naming page 2 and fieldNames", r.Status, r.Diagnostics)
	}
	if n := len(e.events(adapter.EventStockIn)); n != 1 {
		t.Errorf("%d stock-in events, want the 1 document read", n)
	}
}
