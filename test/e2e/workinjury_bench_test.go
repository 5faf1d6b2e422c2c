package e2e

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkWorkInjuryGYU102HTTP measures the fee-detail upload as a HIS
// client that cannot speak Kafka sees it: one DFT^P03 of 500 charges posted
// to the HTTP ingress (POST /v1/messages), mapped by the demo mapping to a
// 500-line GYU102, checked by the adapter's rules, sealed (SM4 + SM2),
// sent to the simulated national system, which checks every line and keeps
// it in its ledger, and answered once the outcome is stored and the reply
// published to Kafka. Every iteration uploads 500 new lines of one stay.
// It reports fee lines per second:
//
//	go test ./test/e2e -run '^$' -bench BenchmarkWorkInjuryGYU102HTTP -benchtime 20x
func BenchmarkWorkInjuryGYU102HTTP(b *testing.B) {
	const per = 500
	e := startHIS(b)
	p := e.newPatient(hisSite, "BENCH", 8, "H35020300123", "1", "1")
	// Admitted a day ago: the charges are a second apart, so 80,000 of
	// them (160 iterations) still lie between admission and now.
	admitted := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	ykc700 := e.admit(p, admitted)
	n := 0
	for b.Loop() {
		b.StopTimer()
		req := e.hl7(e.id("bench"), "GYU102", chargesHL7(p, ykc700, time.Now(), feeLines(p, admitted, n*per+1, per)))
		b.StartTimer()
		code, r := e.post(req)
		if code != http.StatusOK || r.Status != "ok" {
			b.Fatalf("iteration %d: HTTP %d, reply %s %+v %+v", n, code, r.Status, r.Errors, r.External)
		}
		n++
	}
	if got := len(e.sim.Details(ykc700)); got != n*per {
		b.Fatalf("the national ledger holds %d lines, want %d", got, n*per)
	}
	b.ReportMetric(float64(n*per)/b.Elapsed().Seconds(), "lines/s")
}
