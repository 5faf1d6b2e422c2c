package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// BenchmarkLargeMessage measures the store writes of one 500-line fee
// upload (GYU102) as the pipeline makes them: BeginMessage with its
// 250 KiB request, FinishMessage with a 22 KiB reply and the call's journal
// entry (a 214 KiB sealed request, a 30 KiB answer), encrypted at rest as
// the daemon configures it. written-KiB/op is what the process wrote to
// the database files (/proc/self/io wchar: the WAL and the checkpoints
// into the database), the work that grows with the size of each write;
// cpu-ms/op is the process's CPU time (user and system: the copies and
// the fsyncs are mostly system time), which a shared machine disturbs less
// than wall time.
//
//	go test ./host/internal/store -run '^$' -bench LargeMessage -benchmem
func BenchmarkLargeMessage(b *testing.B) {
	key := store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}
	s, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "medgate.db"), store.WithKeys(key))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	request := []byte(`{"fee":"` + strings.Repeat("x", 250<<10) + `"}`)
	reply := []byte(`{"status":"ok","payload":"` + strings.Repeat("y", 22<<10) + `"}`)
	sent, answer := bytes.Repeat([]byte("s"), 214<<10), bytes.Repeat([]byte("a"), 30<<10)
	ctx := context.Background()
	run := time.Now().UnixNano()
	b.ReportAllocs()
	w0, c0 := written(b), cpu(b)
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("bench-%d-%d", run, i)
		if _, created, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "wi", Type: "workinjury.GYU102", Key: "ZY1", Request: request}); err != nil || !created {
			b.Fatalf("BeginMessage: created %v, %v", created, err)
		}
		if err := s.FinishMessage(ctx, id, "ok", reply, 1, store.Exchange{MessageID: id, Plugin: "workinjury", Site: "wi", System: "workinjury",
			Code: "GYU102", Serial: id, Request: sent, Response: answer, Status: "ok"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(written(b)-w0)/1024/float64(b.N), "written-KiB/op")
	b.ReportMetric((cpu(b)-c0).Seconds()*1000/float64(b.N), "cpu-ms/op")
}

// cpu returns the CPU time (user and system) of this process so far.
func cpu(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// written returns the bytes this process has written so far.
func written(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Skip("no wchar in /proc/self/io")
	return 0
}
