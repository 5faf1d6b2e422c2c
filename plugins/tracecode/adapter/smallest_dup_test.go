package adapter_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestSmallestCodeListedTwiceIsExportedOnce: a hierarchy answer listing a
// unit twice (the platform's data repeating a node) was counted once in
// the reply ("each was counted once"), but both nodes were kept as
// smallest, so the export's 最小子码 sheet listed the unit twice for the
// one query: a code counted twice. The node counted is the one kept as
// smallest; the repeat stays on the hierarchy sheet as answered.
func TestSmallestCodeListedTwiceIsExportedOnce(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		op   string // the query
		path string // its path on the platform
	}{
		"codes.smallest":        {op: adapter.OpCodeSmallest, path: "/code/smallest"},
		"codes.bybill.smallest": {op: adapter.OpCodesSmallest, path: "/bill/codes/smallest"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
			sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
			var repeated atomic.Value // the unit the answer lists twice
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				sim.ServeHTTP(rec, r)
				out := rec.Body.Bytes()
				if strings.HasSuffix(r.URL.Path, tc.path) {
					var ans map[string]any
					if err := json.Unmarshal(out, &ans); err == nil {
						data, _ := ans["data"].(map[string]any)
						if codes, _ := data["codes"].([]any); len(codes) > 0 {
							last := codes[len(codes)-1]
							repeated.Store(last.(map[string]any)["code"])
							data["codes"] = append(codes, last)
							out, _ = json.Marshal(ans)
						}
					}
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(rec.Code)
				_, _ = w.Write(out)
			}))
			t.Cleanup(srv.Close)
			a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			host := sdktest.NewMemoryHost()
			e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
			s := baseSettings(srv.URL, e.dir)
			s["fetchSmallest"] = "false"
			if ds := e.configure(s); ds.HasError() {
				t.Fatal(ds)
			}
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
			d := getDraft(t, e, out.Drafts[0])
			var payload map[string]string
			if tc.op == adapter.OpCodeSmallest {
				payload = map[string]string{"code": d.Lines[0].Codes[0]}
			} else {
				payload = map[string]string{"billNo": billOf(d.ID)}
			}
			rep := must[struct {
				SmallestCount int      `json:"smallestCount"`
				Smallest      []string `json:"smallest"`
			}](t, e.send(tc.op, payload), sdk.StatusOK)
			unit, _ := repeated.Load().(string)
			if unit == "" {
				t.Fatal("the answer was not rewritten")
			}
			n := 0
			for _, c := range rep.Smallest {
				if c == unit {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("the reply lists unit %s %d times, want once: %+v", unit, n, rep)
			}
			x := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "to": "2026-11-26", "sheets": []string{"smallest", "hierarchy"}}), sdk.StatusOK)
			f, err := excelize.OpenFile(x.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			count := func(sheet string, col int) int {
				rows, err := f.GetRows(sheet)
				if err != nil {
					t.Fatal(err)
				}
				k := 0
				for _, r := range rows[1:] {
					if len(r) > col && r[col] == unit {
						k++
					}
				}
				return k
			}
			if k := count("最小子码", 4); k != 1 {
				t.Errorf("the 最小子码 sheet lists unit %s %d times for one query, want once", unit, k)
			}
			if k := count("码层级关系", 5); k != 2 {
				t.Errorf("the 码层级关系 sheet lists unit %s %d times, want both nodes as answered", unit, k)
			}
		})
	}
}
