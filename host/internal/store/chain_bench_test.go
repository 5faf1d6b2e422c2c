package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// BenchmarkKeyChains has the store writes of the Kafka pass-through:
// 50 keys side by side (8 in "keys8": smaller groups), and on each key every message's outcome stored
// with the key's next message recorded (FinishAndBegin), as the pipeline
// does when the next message is already read. Requests and replies have
// the sizes of the bench's ledger.noop messages and are sealed at rest.
// Besides time it reports the CPU time per message of this process
// (cpu-us/msg: the store's client side, with the 50 callers) and, on
// PostgreSQL, of the server this process started (pg-cpu-us/msg, from
// /proc), which time alone leaves out.
//
//	go test ./host/internal/store -run '^$' -bench KeyChains -benchtime 20000x
func BenchmarkKeyChains(b *testing.B) {
	key := store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}
	request := bytes.Repeat([]byte(`{"id":"m","site":"s1","type":"ledger.noop","payload":{"n":1}}`), 3)
	reply := []byte(`{"id":"r","requestId":"m","site":"s1","type":"ledger.noop","status":"ok","payload":{},"attempts":1,"completedAt":"2026-12-03T10:00:00+08:00"}`)
	open := map[string]func(b *testing.B) (store.Store, error){
		"sqlite": func(b *testing.B) (store.Store, error) {
			return store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "medgate.db"), store.WithKeys(key))
		},
		"postgres": func(b *testing.B) (store.Store, error) {
			return store.OpenPostgres(b.Context(), testenv.Postgres(b), store.WithKeys(key))
		},
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, keys := range []int{50, 8} {
			benchKeyChains(b, engine, keys, open[engine], request, reply)
		}
	}
}

// benchKeyChains runs BenchmarkKeyChains on one engine with keys keys.
func benchKeyChains(b *testing.B, engine string, keys int, open func(b *testing.B) (store.Store, error), request, reply []byte) {
	b.Run(fmt.Sprintf("%s/keys%d", engine, keys), func(b *testing.B) {
		s, err := open(b)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		ctx := context.Background()
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		msg := func(k, i int) store.Message {
			now := time.Now()
			return store.Message{ID: fmt.Sprintf("%s-%d-%d", run, k, i), Site: "s1", Type: "ledger.noop",
				Key: fmt.Sprintf("key-%d", k), OccurredAt: now, ReceivedAt: now, Request: request, Attempts: 1}
		}
		for k := range keys {
			if _, _, err := s.BeginMessage(ctx, msg(k, 0)); err != nil {
				b.Fatal(err)
			}
		}
		pg0, _ := pgServerSeconds()
		self0 := cpuSecondsOf(os.Getpid())
		b.ResetTimer()
		var wg sync.WaitGroup
		for k := range keys {
			n := b.N / keys
			if k < b.N%keys {
				n++
			}
			wg.Go(func() {
				for i := range n {
					if _, created, err := s.FinishAndBegin(ctx, msg(k, i).ID, "ok", reply, 1, msg(k, i+1)); err != nil || !created {
						b.Errorf("FinishAndBegin: created %v, %v", created, err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric((cpuSecondsOf(os.Getpid())-self0)*1e6/float64(b.N), "cpu-us/msg")
		if pg1, ok := pgServerSeconds(); ok && engine == "postgres" {
			b.ReportMetric((pg1-pg0)*1e6/float64(b.N), "pg-cpu-us/msg")
		}
	})
}

// cpuSecondsOf returns the user and system CPU time of pid (/proc), 0 if
// it cannot be read.
func cpuSecondsOf(pid int) float64 {
	f := procStat(pid)
	if len(f) < 13 {
		return 0
	}
	return ticks(f[11]) + ticks(f[12])
}

// procStat returns the fields of /proc/PID/stat after the command name.
func procStat(pid int) []string {
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(st[i+1:]))
}

func ticks(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v / 100 // USER_HZ is 100 on Linux
}

// pgServerSeconds returns the CPU time of the PostgreSQL server this
// process started (testenv): its processes named "postgres" and the
// children its postmaster has reaped. ok is false without one.
func pgServerSeconds() (secs float64, ok bool) {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	var pgs []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		f := procStat(pid)
		if len(f) < 15 {
			continue
		}
		parent[pid], _ = strconv.Atoi(f[1])
		if comm, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "comm")); strings.TrimSpace(string(comm)) == "postgres" {
			pgs = append(pgs, pid)
		}
	}
	self := os.Getpid()
	isPG := map[int]bool{}
	for _, pid := range pgs {
		isPG[pid] = true
	}
	for _, pid := range pgs {
		below := false
		for q, n := parent[pid], 0; q > 1 && n < 16; q, n = parent[q], n+1 {
			if q == self {
				below = true
				break
			}
		}
		if !below {
			continue
		}
		f := procStat(pid)
		if len(f) < 15 {
			continue
		}
		ok = true
		secs += ticks(f[11]) + ticks(f[12])
		if !isPG[parent[pid]] {
			secs += ticks(f[13]) + ticks(f[14])
		}
	}
	return secs, ok
}
