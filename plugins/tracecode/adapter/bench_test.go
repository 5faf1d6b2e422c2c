package adapter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// synthHost plays the host's state store holding a large export's data
// without keeping it in memory: documents and code chunks are produced
// from their keys, in the stored layout, when the plugin reads them. So
// the benchmark measures the plugin's export (gRPC reads, decoding, the
// workbook), not an in-memory copy of a million rows.
type synthHost struct {
	days       []string
	docsPerDay int
	chunks     int // code chunks per document (500 rows each)
	chunk      []byte
	// queriesPerDay hierarchy answers of 500 nodes a day: a case, 4 of
	// its 5 packs, and 99 units in each of those 4 packs but the last
	// (the fifth pack missing, one unit short: realistic mismatches).
	queriesPerDay int
	nodes         []byte
	published     atomic.Int64
}

func newSynthHost(days []string, docsPerDay, chunks, queriesPerDay int) *synthHost {
	rows := make([]map[string]any, 500)
	for i := range rows {
		rows[i] = map[string]any{"l": 1 + i%2, "c": drugCode("8100001", 100000+i), "k": "drug", "v": 3, "p": drugCode("8100001", 90000+i/10)}
	}
	b, _ := json.Marshal(rows)
	nodes := []map[string]any{{"c": drugCode("8100001", 1), "t": drugCode("8100001", 1), "l": 1, "v": 1, "k": 3, "r": "1:5:500", "b": "2", "q": "1 pack short"}}
	for p := 0; p < 4; p++ {
		pack := drugCode("8100001", 10+p)
		nodes = append(nodes, map[string]any{"c": pack, "p": drugCode("8100001", 1), "t": drugCode("8100001", 1), "l": 1, "v": 2, "k": 2, "r": "1:5:500"})
		for u := 0; u < 124 && len(nodes) < 500; u++ {
			nodes = append(nodes, map[string]any{"c": drugCode("8100001", 1000+p*200+u), "p": pack, "t": drugCode("8100001", 1), "l": 1, "v": 3, "k": 1, "s": true, "r": "1:5:500"})
		}
	}
	nb, _ := json.Marshal(nodes)
	return &synthHost{days: days, docsPerDay: docsPerDay, chunks: chunks, chunk: b, queriesPerDay: queriesPerDay, nodes: nb}
}

func (s *synthHost) query(day string, n int) []byte {
	d, _ := time.Parse("20060102", day)
	b, _ := json.Marshal(map[string]any{"at": d.Add(10 * time.Hour), "op": adapter.OpCodesSmallest, "billNo": fmt.Sprintf("RK%s%05d", day, n),
		"nodes": 500, "tops": 1, "smallest": 496, "mismatches": 1, "chunks": 1, "trigger": adapter.OpStockInFetch, "messageId": "m-" + day})
	return b
}

func (s *synthHost) doc(day string, n int) []byte {
	d, _ := time.Parse("20060102", day)
	rec := map[string]any{"docNo": fmt.Sprintf("RK%s%05d", day, n), "source": "up", "direction": "in", "billType": "102",
		"billTime": d.Format("2006-01-02") + " 09:30:00", "fromOrgCode": "91350200MA31A0001X", "fromOrgName": "厦门示例医药有限公司",
		"operator": "王药师", "codeCount": s.chunks * 500, "chunks": s.chunks, "status": "uploaded", "lines": []any{
			map[string]any{"lineNo": 1, "itemCode": "YP0001", "itemName": "阿莫西林胶囊", "batchNo": "B2609", "expiryDate": "2028-09-14", "qty": "500", "codeCount": s.chunks * 250},
			map[string]any{"lineNo": 2, "itemCode": "YP0002", "itemName": "布洛芬缓释胶囊", "batchNo": "B2610", "expiryDate": "2028-10-14", "qty": "500", "codeCount": s.chunks * 250},
		}}
	b, _ := json.Marshal(rec)
	return b
}

func (s *synthHost) Get(_ context.Context, _, key string) (sdk.Entry, error) {
	switch {
	case strings.HasPrefix(key, "count/doc/"):
		for _, d := range s.days {
			if strings.HasSuffix(key, d) {
				return sdk.Entry{Key: key, Value: []byte(strconv.Itoa(s.docsPerDay)), Version: 1}, nil
			}
		}
	case strings.HasPrefix(key, "count/query/") && s.queriesPerDay > 0:
		for _, d := range s.days {
			if strings.HasSuffix(key, d) {
				return sdk.Entry{Key: key, Value: []byte(strconv.Itoa(s.queriesPerDay)), Version: 1}, nil
			}
		}
	case strings.HasPrefix(key, "docidx/up/RK") && len(key) == len("docidx/up/RK")+8+5:
		// docidx/up/RK<day><n>: the document the log record at log/doc/<day>/<n> holds.
		no := key[len("docidx/up/RK"):]
		n, _ := strconv.Atoi(no[8:])
		b, _ := json.Marshal(map[string]string{"key": fmt.Sprintf("log/doc/%s/%08d", no[:8], n)})
		return sdk.Entry{Key: key, Value: b, Version: 1}, nil
	case strings.HasPrefix(key, "codes/up/"):
		return sdk.Entry{Key: key, Value: s.chunk, Version: 1}, nil
	case strings.HasPrefix(key, "qnodes/"):
		return sdk.Entry{Key: key, Value: s.nodes, Version: 1}, nil
	}
	return sdk.Entry{}, sdk.ErrNotFound
}

func (s *synthHost) Scan(_ context.Context, _, prefix string, limit int) ([]sdk.Entry, error) {
	// prefix: log/<doc|query>/<day>/<7-digit group>
	parts := strings.Split(prefix, "/")
	if len(parts) != 4 || parts[1] != "doc" && parts[1] != "query" {
		return nil, nil
	}
	g, _ := strconv.Atoi(parts[3])
	count, record := s.docsPerDay, s.doc
	if parts[1] == "query" {
		count, record = s.queriesPerDay, s.query
	}
	var out []sdk.Entry
	for n := g * 10; n < g*10+10 && n <= count && len(out) < limit; n++ {
		if n == 0 {
			continue
		}
		out = append(out, sdk.Entry{Key: fmt.Sprintf("log/%s/%s/%08d", parts[1], parts[2], n), Value: record(parts[2], n), Version: 1})
	}
	return out, nil
}

func (s *synthHost) Put(context.Context, string, string, []byte) (int64, error) { return 1, nil }
func (s *synthHost) CompareAndSet(context.Context, string, string, int64, []byte) (int64, error) {
	return 1, nil
}
func (s *synthHost) Delete(context.Context, string, string) error                { return nil }
func (s *synthHost) NextSequence(context.Context, string, string) (int64, error) { return 1, nil }
func (s *synthHost) Publish(context.Context, string, sdk.Event) error {
	s.published.Add(1)
	return nil
}
func (s *synthHost) Journal(context.Context, string, sdk.Exchange) (int64, error) { return 1, nil }

// vmHWM returns the process's peak resident set size in MB, and resetHWM
// resets it (Linux; 0 elsewhere).
func vmHWM() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func resetHWM() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkExport1M exports a million rows through the plugin's gRPC
// interface, as tracecode.export does in production:
//
//   - codes: 1,000,000 trace-code rows (10 days × 100 documents × 1,000
//     codes) plus their 2,000 document lines;
//   - mixed: 500,000 trace-code rows (10 days × 100 documents × 500), 300,000
//     code-hierarchy rows and 297,000 smallest sub-codes (10 days × 60
//     hierarchy answers of 500 nodes), plus 2,000 document lines.
//
// Run it alone to read the peak RSS:
//
//	go test -run '^$' -bench Export1M -benchtime 1x ./plugins/tracecode/adapter/
//
// It reports rows/s, the process's peak RSS (VmHWM, reset before each
// export) and the peak Go heap (sampled every 50 ms) in MB. With
// TRACECODE_BENCH_CHECK=1 it also reads the rows back with excelize (slow)
// and checks the last one of the codes sheet.
func BenchmarkExport1M(b *testing.B) {
	var days []string
	for d := 17; d <= 26; d++ {
		days = append(days, fmt.Sprintf("202611%02d", d))
	}
	cases := []struct {
		name string
		host *synthHost
		want map[string]int64
	}{
		{"codes", newSynthHost(days, 100, 2, 0), map[string]int64{"codes": 1_000_000, "bills": 2000}},
		{"mixed", newSynthHost(days, 100, 1, 60), map[string]int64{"codes": 500_000, "hierarchy": 300_000, "smallest": 297_000, "bills": 2000}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) { benchExport(b, tc.host, tc.want, tc.name == "codes") })
	}
}

func benchExport(b *testing.B, host *synthHost, want map[string]int64, check bool) {
	a := adapter.New(adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	p := sdktest.Connect(b, a, host)
	dir := b.TempDir()
	ctx := context.Background()
	d, _ := p.Describe(ctx, &sdk.DescribeRequest{})
	s := map[string]string{}
	for _, decl := range d.Settings {
		s[decl.Name] = decl.Default
	}
	for k, v := range baseSettings("http://127.0.0.1:1", dir) {
		s[k] = v
	}
	s["miEnabled"], s["exportProgressEvery"] = "false", "100000"
	if r, err := p.Configure(ctx, &sdk.ConfigureRequest{Site: site, Settings: s}); err != nil || r.Diagnostics.HasError() {
		b.Fatalf("configure: %v %s", err, r.Diagnostics)
	}
	payload := []byte(`{"from":"2026-11-17","to":"2026-11-26"}`)
	var peak, peakHeap, cpu float64
	var rows int64
	b.ResetTimer()
	for i := range b.N {
		runtime.GC()
		resetHWM()
		cpu0 := cpuSeconds()
		stop := make(chan struct{})
		heap := make(chan float64)
		go func() { heap <- sampleHeap(stop) }()
		r, err := p.Handle(ctx, &sdk.HandleRequest{Site: site, Type: adapter.OpExport, MessageID: fmt.Sprintf("bench-%d", i), Format: "json", Payload: payload})
		close(stop)
		cpu += cpuSeconds() - cpu0
		peakHeap = max(peakHeap, <-heap)
		if err != nil || r.Status != sdk.StatusOK {
			b.Fatalf("export: %v %+v", err, r)
		}
		peak = max(peak, vmHWM())
		var rep exportReply
		_ = json.Unmarshal(r.Payload, &rep)
		rows = 0
		for sheet, n := range rep.Rows {
			rows += n
			if n != want[sheet] {
				b.Errorf("exported %d %s rows, want %d", n, sheet, want[sheet])
			}
		}
		if i == 0 {
			b.StopTimer()
			b.Logf("workbook %s: %d bytes, rows %v, %d progress events, export took %d ms", rep.FileName, rep.Size, rep.Rows, host.published.Load(), rep.DurationMS)
			if check && os.Getenv("TRACECODE_BENCH_CHECK") != "" {
				checkBig(b, rep.Path) // slow: reads the million rows back
			}
			b.StartTimer()
		}
		os.Remove(rep.Path)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(peak, "MB-peak-RSS")
	b.ReportMetric(peakHeap, "MB-peak-heap")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	if sec := b.Elapsed().Seconds() / float64(b.N); sec > 20 || peak > 150 {
		b.Logf("over the target (20 s, 150 MB): %.1f s, %.0f MB peak RSS; on a loaded machine check the load average", sec, peak)
	}
}

// cpuSeconds returns the user and system CPU time the process used so far:
// with other work on the machine, wall time depends on the load, CPU time
// much less.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// sampleHeap returns the largest live heap (runtime/metrics, MB) seen
// every 50 ms until stop is closed.
func sampleHeap(stop <-chan struct{}) float64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	peak := 0.0
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(sample)
		peak = max(peak, float64(sample[0].Value.Uint64())/(1<<20))
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}

// checkBig spot-checks the large workbook: sheet sizes and the last row.
func checkBig(b *testing.B, path string) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rows, err := f.Rows("追溯码明细")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	var last []string
	for rows.Next() {
		n++
		if n == 1_000_001 {
			last, _ = rows.Columns()
		}
	}
	rows.Close()
	if n != 1_000_001 || len(last) < 10 || last[1] != "RK2026112600100" || len(last[9]) != 20 {
		b.Fatalf("the codes sheet has %d rows, last %v", n, last)
	}
}
