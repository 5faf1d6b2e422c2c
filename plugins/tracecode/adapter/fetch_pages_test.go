package adapter_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestFetchReadsEveryPageOfAPlatformThatServesSmallerPages: a platform that
// serves at most N documents a page, whatever pageSize asks for (many
// paged APIs cap the page size silently), answered the first page with N
// documents and a total above N; the fetch took the page as the whole
// listing (page × the requested size ≥ total) and never asked for the
// rest, so those deliveries got no stored document, no draft receipt and
// no event. The fetch now counts the documents listed against the total.
func TestFetchReadsEveryPageOfAPlatformThatServesSmallerPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		cap, pageSize int
	}{
		{"capped at 1, asked 50", 1, 50},
		{"capped at 2, asked 50", 2, 50},
		{"capped at 2, asked 3", 2, 3},
		{"not capped", 100, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newCappedListingEnv(t, tc.cap, map[string]string{"pageSize": strconv.Itoa(tc.pageSize)})
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-25", "endDate": "2026-11-26"}), sdk.StatusOK)
			want := append(e.sim.StockIn(time.Date(2026, 11, 25, 0, 0, 0, 0, cst)), e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))...)
			if len(want) <= 2 {
				t.Fatalf("the simulator has %d documents; the test needs more than a capped page", len(want))
			}
			if out.Bills != len(want) || out.New != len(want) || len(out.Drafts) != len(want) {
				t.Fatalf("fetched %d documents (%d new, %d drafts) in %d pages; the platform has %d", out.Bills, out.New, len(out.Drafts), out.Pages, len(want))
			}
			if n := len(e.events(adapter.EventStockIn)); n != len(want) {
				t.Errorf("%d stock-in events, want %d", n, len(want))
			}
			// No page is asked for beyond the listing's end.
			if max := (len(want)+min(tc.cap, tc.pageSize)-1)/min(tc.cap, tc.pageSize) + 1; out.Pages > max || e.sim.Stats().Calls["stockin"] > max {
				t.Errorf("%d pages, %d listing calls; at most %d needed", out.Pages, e.sim.Stats().Calls["stockin"], max)
			}
		})
	}
}

// newCappedListingEnv is newEnv (without fetching smallest sub-codes) on a
// platform whose stock-in listing serves at most capSize documents a page
// and reports that size in its answer, whatever the request asks.
func newCappedListingEnv(t *testing.T, capSize int, settings map[string]string) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bill/stockin/list") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Error(err)
			}
			var req map[string]any
			if err := json.Unmarshal(body, &req); err != nil {
				t.Error(err)
			}
			if ps, ok := req["pageSize"].(float64); ok && int(ps) > capSize {
				req["pageSize"] = capSize
			}
			body, _ = json.Marshal(req)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	host := sdktest.NewMemoryHost()
	e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	s := baseSettings(srv.URL, e.dir)
	s["fetchSmallest"] = "false"
	for k, v := range settings {
		s[k] = v
	}
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	return e
}
