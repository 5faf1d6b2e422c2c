package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestExportMemoryBounded exports every sheet with 100,000 and then
// 400,000 trace-code rows (plus 10,000 hierarchy nodes and 9,900 smallest
// sub-codes: sheets small enough to stay in excelize's in-memory buffer)
// through the plugin's gRPC interface from a host that produces the
// stored records on the fly, and checks that memory does not grow with
// the rows: four times the rows may not raise the peak heap by more than
// 24 MB, and neither export may take the process's peak RSS (VmHWM, reset
// before each export) over 150 MB, the target for a million rows. (Before
// Save stopped calling SetActiveSheet, which parses such sheets, both
// peaked near 200 MB of heap and 270 MB RSS.) BenchmarkExport1M measures
// a million rows.
//
// It does not run in parallel, so the process's memory is the export's.
func TestExportMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("exports 500,000 rows (about 8 CPU seconds); run without -short")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory (several times the heap) is not the export's; run without -race")
	}
	var days []string
	for d := 17; d <= 26; d++ {
		days = append(days, fmt.Sprintf("202611%02d", d))
	}
	type peak struct{ heap, rss float64 }
	export := func(docsPerDay int) peak {
		host := newSynthHost(days, docsPerDay, 2, 2) // 2 hierarchy answers a day
		a := adapter.New(adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		p := sdktest.Connect(t, a, host)
		ctx := context.Background()
		d, _ := p.Describe(ctx, &sdk.DescribeRequest{})
		s := map[string]string{}
		for _, decl := range d.Settings {
			s[decl.Name] = decl.Default
		}
		for k, v := range baseSettings("http://127.0.0.1:1", t.TempDir()) {
			s[k] = v
		}
		s["miEnabled"] = "false"
		if r, err := p.Configure(ctx, &sdk.ConfigureRequest{Site: site, Settings: s}); err != nil || r.Diagnostics.HasError() {
			t.Fatalf("configure: %v %s", err, r.Diagnostics)
		}
		runtime.GC()
		resetHWM()
		stop := make(chan struct{})
		heap := make(chan float64)
		go func() { heap <- sampleHeap(stop) }()
		r, err := p.Handle(ctx, &sdk.HandleRequest{Site: site, Type: adapter.OpExport, MessageID: fmt.Sprintf("mem-%d", docsPerDay), Format: "json",
			Payload: []byte(`{"from":"2026-11-17","to":"2026-11-26"}`)})
		close(stop)
		got := peak{heap: <-heap, rss: vmHWM()}
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("export: %v %+v", err, r)
		}
		var rep struct {
			Path string
			Rows map[string]int64
		}
		_ = json.Unmarshal(r.Payload, &rep)
		defer os.Remove(rep.Path)
		if want := int64(len(days) * docsPerDay * 1000); rep.Rows["codes"] != want || rep.Rows["hierarchy"] != int64(len(days)*2*500) {
			t.Fatalf("exported %v, want %d codes and %d hierarchy rows", rep.Rows, want, len(days)*2*500)
		}
		t.Logf("%d rows: peak heap %.0f MB, peak RSS %.0f MB", rep.Rows["codes"]+rep.Rows["hierarchy"], got.heap, got.rss)
		return got
	}
	small, large := export(10), export(40)
	if large.heap > small.heap+24 {
		t.Errorf("peak heap grows with the rows: %.0f MB for 100,000, %.0f MB for 400,000", small.heap, large.heap)
	}
	for _, p := range []peak{small, large} {
		if p.rss > 150 {
			t.Errorf("peak RSS %.0f MB, over the 150 MB target", p.rss)
		}
	}
}
