package adapter_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestSmallestAnsweredWithSpaces: a hierarchy answer whose codes or
// parent codes carry white space (as code.Parse trims those of documents,
// and the stock ledger those of hierarchy answers) resolves as without
// it: one top, all its units, no mismatch. Before, a parent " C" was not
// the code "C", so every pack and unit became a top code of its own and
// the case was reported empty.
func TestSmallestAnsweredWithSpaces(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ from, to string }{
		"parent codes with a leading space": {`"parentCode":"`, `"parentCode":" `},
		"codes with a trailing space":       {`","codeLevel"`, ` ","codeLevel"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				e.sim.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				if strings.HasSuffix(r.URL.Path, "/code/smallest") || strings.HasSuffix(r.URL.Path, "/codes/smallest") {
					body = bytes.ReplaceAll(body, []byte(tc.from), []byte(tc.to))
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(rec.Code)
				_, _ = w.Write(body)
			}))
			t.Cleanup(srv.Close)
			if ds := e.configure(baseSettings(srv.URL, e.dir)); ds.HasError() {
				t.Fatal(ds)
			}
			var top string
			var want int
			for _, b := range e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst)) {
				for _, l := range b.Lines {
					for _, c := range l.Codes {
						if n := len(e.sim.SmallestOf(c.Code)); n > 1 && top == "" {
							top, want = c.Code, n
						}
					}
				}
			}
			if top == "" {
				t.Fatal("no case in the simulator's day")
			}
			// A fetch keeps its documents' hierarchies (fetchSmallest) and
			// warns of the same packages as from an answer without spaces.
			type warned struct{ Warnings []string }
			day := map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}
			got := must[warned](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
			plain := newEnv(t, nil)
			plainOut := must[warned](t, plain.send(adapter.OpStockInFetch, day), sdk.StatusOK)
			if strings.Join(got.Warnings, "\n") != strings.Join(plainOut.Warnings, "\n") {
				t.Errorf("fetch warnings:\n%s\nwant, as without spaces:\n%s", strings.Join(got.Warnings, "\n"), strings.Join(plainOut.Warnings, "\n"))
			}
			out := must[expansion](t, e.send(adapter.OpCodeSmallest, map[string]string{"code": top}), sdk.StatusOK)
			if len(out.Tops) != 1 || strings.TrimSpace(out.Tops[0].Code) != top || out.SmallestCount != want || len(out.Mismatches) != 0 {
				t.Fatalf("smallest of %s: %d top(s) %+v, %d smallest (want 1 top, %d), mismatches %+v", top, len(out.Tops), out.Tops[:min(3, len(out.Tops))], out.SmallestCount, want, out.Mismatches[:min(3, len(out.Mismatches))])
			}
			for _, s := range out.Smallest {
				if s != strings.TrimSpace(s) {
					t.Errorf("smallest code %q not trimmed", s)
				}
			}
		})
	}
}
