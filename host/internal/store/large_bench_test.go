package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
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
// request, FinishMessage with its reply and the call's journal entry (see
// gyu102Values), encrypted at rest as the daemon configures it
// ("encrypted") and without keys, as the end-to-end benchmark runs
// ("plain"). written-KiB/op is what the process wrote to
// the database files (/proc/self/io wchar: the WAL and the checkpoints
// into the database), the work that grows with the size of each write;
// cpu-ms/op is the process's CPU time (user and system: the copies and
// the fsyncs are mostly system time), which a shared machine disturbs less
// than wall time.
//
//	go test ./host/internal/store -run '^$' -bench LargeMessage -benchmem
func BenchmarkLargeMessage(b *testing.B) {
	key := store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}
	b.Run("encrypted", func(b *testing.B) { benchLargeMessage(b, store.WithKeys(key)) })
	b.Run("plain", func(b *testing.B) { benchLargeMessage(b) }) // as the end-to-end benchmark runs
}

func benchLargeMessage(b *testing.B, opts ...store.Option) {
	s, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "medgate.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	request, reply, sent, answer := gyu102Values()
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

// gyu102Values returns what the store keeps of a 500-line GYU102 as the
// benchmark of test/bench sends it: the request (about 250 KiB of JSON),
// the reply (about 22 KiB), and the journal entry's request and answer
// (SM4 ciphertext in base64, which does not compress: 214 and 30 KiB).
func gyu102Values() (request, reply, sent, answer []byte) {
	request = []byte(`{"id":"bench-1","site":"wi","type":"workinjury.GYU102","payload":{"akc190":"ZY0001","ykc700":"V0001","fee":[`)
	reply = []byte(`{"id":"r","requestId":"bench-1","status":"ok","payload":{"fee":[`)
	for i := range 500 {
		if i > 0 {
			request, reply = append(request, ','), append(reply, ',')
		}
		request = fmt.Appendf(request, `{"akf001":"0301","amount":20,"ake001":"YP0001","ake005":"H0001","ake006":"头孢呋辛钠注射剂","ake022":"陈医生",`+
			`"catalog_type":"1","detail_no":"D%s%07d","fee_category":"01","fee_time":"2026-12-02 10:%02d:00","fund_pay":15,"price":10.00,"qty":2,"self_pay":5.00}`,
			strconv.FormatInt(time.Now().UnixNano()%1e6, 36), i, i%60)
		reply = fmt.Appendf(reply, `{"detail_no":"D%07d","result":"1","fund_pay":15.00,"self_pay":5.00}`, i)
	}
	request, reply = append(request, "]}}"...), append(reply, "]}}"...)
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return []byte(`{"data":"` + base64.StdEncoding.EncodeToString(b) + `"}`)
	}
	return request, reply, random(160 << 10), random(22 << 10)
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
