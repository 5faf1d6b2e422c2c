package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// BenchmarkGYD051Parallel: filing verifications (GYD051) through the
// plugin protocol (gRPC, with the journal call back into an in-memory
// host) against the simulator over HTTP, full SM2/SM4 on both sides,
// from 16 goroutines like the bench's HTTP clients. cpu-µs/op is the CPU
// time (user + system) of this process per call: adapter, simulator and
// both ends of the gRPC connection. The in-memory host hands out one
// serial per call (no blocks of 100 as medgate's host does), so each call
// here makes one more round trip into the host than in production.
func BenchmarkGYD051Parallel(b *testing.B) {
	filing := wisim.SampleFiling("QB", 1, "350200")
	e := newEnv(b, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"))
		s.AddFiling(filing)
	}))
	payload, err := json.Marshal(map[string]any{"aac002": filing["aac002"], "aac003": filing["aac003"], "akb020": hospital, "visit_date": time.Now().Format("2006-01-02")})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	call := func() error {
		id := fmt.Sprintf("qb-%d", n.Add(1))
		r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYD051", MessageID: id, Key: id,
			Format: "json", Payload: payload, Attempt: 1, Deadline: time.Now().Add(time.Minute)})
		if err != nil {
			return err
		}
		if r.Status != sdk.StatusOK {
			return fmt.Errorf("%s: %s %s", id, r.Status, r.Diagnostics)
		}
		return nil
	}
	if err := call(); err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}
