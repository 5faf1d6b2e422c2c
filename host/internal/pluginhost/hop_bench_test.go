package pluginhost

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// BenchmarkHandleHop is the host–plugin hop as medgate makes it: a Handle
// of the ledger test plugin's no-op operation in a real plugin process
// (gRPC over a Unix socket with go-plugin's AutoMTLS), with payloads of a
// pass-through message (100 B), a GYD051 (2 KB) and a 500-line GYU102
// (250 KB). host-cpu-ms/op is this process's CPU (user + system) per call,
// plugin-cpu-ms/op the plugin process's.
//
//	go test ./host/internal/pluginhost -run '^$' -bench HandleHop -benchmem
func BenchmarkHandleHop(b *testing.B) {
	in := hopLedger(b)
	for _, size := range []int{100, 2 << 10, 250 << 10} {
		payload := append(append([]byte(`{"seq":1,"pad":"`), bytes.Repeat([]byte("x"), size)...), `"}`...)
		b.Run(fmt.Sprintf("payload=%dB", size), func(b *testing.B) {
			req := &sdk.HandleRequest{Site: "s1", Type: "ledger.noop", MessageID: "m1", Key: "k", Payload: payload, Attempt: 1}
			pid := in.Pid()
			host0, plugin0 := selfCPU(b), procCPU(b, pid)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if r, err := in.Handle(b.Context(), req); err != nil || r.Status != sdk.StatusOK {
					b.Fatalf("handle: %v %+v", err, r)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(selfCPU(b)-host0)/1e6/float64(b.N), "host-cpu-ms/op")
			b.ReportMetric(float64(procCPU(b, pid)-plugin0)/1e6/float64(b.N), "plugin-cpu-ms/op")
		})
	}
}

// BenchmarkHandleHopParallel is BenchmarkHandleHop's 100-byte call with 50
// calls in flight, as the Kafka pass-through has them (50 keys): what the
// hop costs each process per call when calls share the connection.
//
//	go test ./host/internal/pluginhost -run '^$' -bench HandleHopParallel
func BenchmarkHandleHopParallel(b *testing.B) {
	in := hopLedger(b)
	payload := append(append([]byte(`{"seq":1,"pad":"`), bytes.Repeat([]byte("x"), 100)...), `"}`...)
	req := &sdk.HandleRequest{Site: "s1", Type: "ledger.noop", MessageID: "m1", Key: "k", Payload: payload, Attempt: 1}
	pid := in.Pid()
	host0, plugin0 := selfCPU(b), procCPU(b, pid)
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, err := in.Handle(b.Context(), req); err != nil || r.Status != sdk.StatusOK {
				b.Errorf("handle: %v %+v", err, r)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(selfCPU(b)-host0)/1e6/float64(b.N), "host-cpu-ms/op")
	b.ReportMetric(float64(procCPU(b, pid)-plugin0)/1e6/float64(b.N), "plugin-cpu-ms/op")
}

// hopLedger starts the ledger test plugin for the hop benchmarks,
// configured at site s1; it stops with b.
func hopLedger(b *testing.B) *Instance {
	path, sum := ledger(b)
	in, err := Start(b.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(in.Close)
	if diags, err := in.Configure(b.Context(), "s1", map[string]string{"ledgerDir": b.TempDir()}); err != nil || diags.HasError() {
		b.Fatalf("configure: %v %v", err, diags)
	}
	return in
}

// selfCPU is this process's user + system CPU time in ns.
func selfCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// procCPU is process pid's user + system CPU time in ns, from
// /proc/pid/stat (clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return (ut + st) * 1e7
}
