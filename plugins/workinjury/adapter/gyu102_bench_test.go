package adapter

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkGYU102Stay uploads fee details as a long stay does: calls of
// 500 lines (the batch limit), 10 calls per stay, through the adapter
// (rules, lifecycle state, envelope) and the simulator (full SM2/SM4 on
// both sides) over HTTP, with the state in an in-memory host. It reports
// lines per second.
//
//	go test ./plugins/workinjury/adapter -run '^$' -bench GYU102Stay -benchmem
func BenchmarkGYU102Stay(b *testing.B) { benchStay(b, 10) }

// BenchmarkGYU102LongStay is BenchmarkGYU102Stay with 40 calls (20,000
// lines) per stay: the cost of a call should not grow with the stay.
func BenchmarkGYU102LongStay(b *testing.B) { benchStay(b, 40) }

func benchStay(b *testing.B, callsPerStay int) {
	const lines = 500
	c := newChain(b)
	var visit, akc190 string
	b.ReportAllocs()
	runtime.GC()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		if i%callsPerStay == 0 {
			b.StopTimer()
			akc190 = fmt.Sprintf("ZY%06d", i/callsPerStay)
			visit = c.admit(akc190)
			b.StartTimer()
		}
		ls := make([]map[string]any, lines)
		for j := range ls {
			ls[j] = line(fmt.Sprintf("D%04d%04d", i%callsPerStay, j), "10.00", "2", "5.00")
		}
		c.mustOK(c.send("GYU102", fees(visit, akc190, ls...)))
		i++
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
	// CPU time of the process (adapter, simulator and the benchmark's own
	// building of the requests, garbage collection included; the admission
	// of each stay too, one per callsPerStay calls) varies much less than
	// wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// cpuTime is the user + system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
