package adapter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
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
	published  atomic.Int64
}

func newSynthHost(days []string, docsPerDay, chunks int) *synthHost {
	rows := make([]map[string]any, 500)
	for i := range rows {
		rows[i] = map[string]any{"l": 1 + i%2, "c": drugCode("8100001", 100000+i), "k": "drug", "v": 3, "p": drugCode("8100001", 90000+i/10)}
	}
	b, _ := json.Marshal(rows)
	return &synthHost{days: days, docsPerDay: docsPerDay, chunks: chunks, chunk: b}
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
	case strings.HasPrefix(key, "codes/up/"):
		return sdk.Entry{Key: key, Value: s.chunk, Version: 1}, nil
	}
	return sdk.Entry{}, sdk.ErrNotFound
}

func (s *synthHost) Scan(_ context.Context, _, prefix string, limit int) ([]sdk.Entry, error) {
	// prefix: log/doc/<day>/<7-digit group>
	parts := strings.Split(prefix, "/")
	if len(parts) != 4 || parts[1] != "doc" {
		return nil, nil
	}
	g, _ := strconv.Atoi(parts[3])
	var out []sdk.Entry
	for n := g * 10; n < g*10+10 && n <= s.docsPerDay && len(out) < limit; n++ {
		if n == 0 {
			continue
		}
		out = append(out, sdk.Entry{Key: fmt.Sprintf("log/doc/%s/%08d", parts[2], n), Value: s.doc(parts[2], n), Version: 1})
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

// BenchmarkExport1M exports 1,000,000 trace-code rows (10 days × 100
// documents × 1,000 codes, plus their 2,000 document lines) through the
// plugin's gRPC interface, as tracecode.export does in production. Run it
// alone to read the peak RSS:
//
//	go test -run '^$' -bench Export1M -benchtime 1x ./plugins/tracecode/adapter/
//
// It reports rows/s and the process's peak RSS (VmHWM, reset before each
// export) in MB. With TRACECODE_BENCH_CHECK=1 it also reads the million rows
// back with excelize (slow) and checks the last one.
func BenchmarkExport1M(b *testing.B) {
	var days []string
	for d := 17; d <= 26; d++ {
		days = append(days, fmt.Sprintf("202611%02d", d))
	}
	host := newSynthHost(days, 100, 2)
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
	var peak float64
	b.ResetTimer()
	for i := range b.N {
		resetHWM()
		r, err := p.Handle(ctx, &sdk.HandleRequest{Site: site, Type: adapter.OpExport, MessageID: fmt.Sprintf("bench-%d", i), Format: "json", Payload: payload})
		if err != nil || r.Status != sdk.StatusOK {
			b.Fatalf("export: %v %+v", err, r)
		}
		peak = max(peak, vmHWM())
		var rep exportReply
		_ = json.Unmarshal(r.Payload, &rep)
		if rep.Rows["codes"] != 1_000_000 {
			b.Fatalf("exported %d code rows, want 1,000,000", rep.Rows["codes"])
		}
		if i == 0 {
			b.StopTimer()
			b.Logf("workbook %s: %d bytes, rows %v, %d progress events, export took %d ms", rep.FileName, rep.Size, rep.Rows, host.published.Load(), rep.DurationMS)
			if os.Getenv("TRACECODE_BENCH_CHECK") != "" {
				checkBig(b, rep.Path) // slow: reads the million rows back
			}
			b.StartTimer()
		}
		os.Remove(rep.Path)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*1_000_000/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(peak, "MB-peak-RSS")
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
	if n != 1_000_001 || len(last) < 8 || last[1] != "RK2026112600100" || len(last[7]) != 20 {
		b.Fatalf("the codes sheet has %d rows, last %v", n, last)
	}
}
