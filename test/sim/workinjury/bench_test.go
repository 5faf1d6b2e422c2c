package workinjury

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// BenchmarkGYU102 is the simulator's share of a fee-detail upload: one
// sealed request of 500 lines per call (sealed before the timer starts),
// through ServeHTTP (open, checks, ledger, sealed answer), 40 calls per
// stay. Its time per call is the simulator's CPU per call in the
// work-injury rows of test/bench and in the adapter's BenchmarkGYU102Stay.
//
//	go test ./test/sim/workinjury -run '^$' -bench GYU102 -benchmem
func BenchmarkGYU102(b *testing.B) {
	const lines, callsPerStay = 500, 40
	c := newChain(b, nil)
	bodies := make([][]byte, b.N)
	var visit string
	for i := range b.N {
		if i%callsPerStay == 0 {
			visit = c.admit(fmt.Sprintf("ZY%06d", i/callsPerStay))
		}
		ls := make([]any, lines)
		for j := range ls {
			ls[j] = SampleFeeLine(fmt.Sprintf("D%04d%04d", i%callsPerStay, j), "10.00", "2", "5.00", day0.Add(time.Hour))
		}
		plain, _ := json.Marshal(map[string]any{"ykc700": visit, "akc190": fmt.Sprintf("ZY%06d", i/callsPerStay), "fee": ls})
		env, err := smenvelope.Seal(c.opts, c.keys, map[string]string{"infno": "GYU102", "msgid": fmt.Sprintf("B%08d", i)}, plain)
		if err != nil {
			b.Fatal(err)
		}
		bodies[i], _ = json.Marshal(env)
	}
	answers := make([]*httptest.ResponseRecorder, b.N)
	b.ReportAllocs()
	runtime.GC()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		answers[i] = httptest.NewRecorder()
		c.srv.ServeHTTP(answers[i], httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(bodies[i])))
	}
	b.StopTimer()
	// CPU time (user + sys of the process, the garbage collector's
	// included) varies much less than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	for i, rec := range answers {
		if rec.Code != http.StatusOK {
			b.Fatalf("call %d: HTTP %d %s", i, rec.Code, rec.Body)
		}
		if _, _, err := smenvelope.Open(c.opts, c.keys, rec.Body.Bytes()); err != nil {
			b.Fatalf("call %d: %v", i, err)
		}
	}
}

// cpuTime is the user + system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
