package store_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// BenchmarkQueryOutcome: the one store write of a GYD051 (a query: the
// message recorded with its outcome and the journal entry of its call, in
// one transaction; store.RecordFinished), one after the other, on SQLite
// encrypted at rest. cpu-µs/op is the process's CPU time (user + system)
// per write, less sensitive to the machine's load than ns/op.
//
//	go test ./host/internal/store -run '^$' -bench QueryOutcome -benchmem
func BenchmarkQueryOutcome(b *testing.B) {
	s, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "medgate.db"), store.WithKeys(store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	request := []byte(`{"id":"m","site":"wi","type":"workinjury.GYD051","occurredAt":"2026-12-05T10:00:00+08:00","payload":{"aac002":"350203199001011234","aac003":"张三","akb020":"H35020000001","visit_date":"2026-12-05"}}`)
	reply := []byte(`{"id":"r","requestId":"m","site":"wi","type":"workinjury.GYD051","status":"ok","external":{"system":"workinjury","code":"0","msgId":"H35020000120261205100000000123"},"payload":{"filing_valid":"1"},"attempts":1,"completedAt":"2026-12-05T10:00:00+08:00"}`)
	envReq, envResp := bytes.Repeat([]byte("e"), 600), bytes.Repeat([]byte("r"), 800)
	run := time.Now().UnixNano()
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		n++
		id := fmt.Sprintf("q-%d-%d", run, n)
		now := time.Now()
		if _, err := s.RecordFinished(ctx, store.Message{ID: id, Site: "wi", Type: "workinjury.GYD051", Key: id, OccurredAt: now, ReceivedAt: now,
			Request: request, Outcome: "ok", Reply: reply, Attempts: 1},
			store.Exchange{MessageID: id, Plugin: "workinjury", Site: "wi", System: "workinjury", Code: "GYD051", Serial: fmt.Sprintf("H%d", n),
				Request: envReq, Response: envResp, Status: "ok", DurationMS: 3}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(n), "cpu-µs/op")
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
