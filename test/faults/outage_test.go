package faults

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestExternalSystemDown takes the national system down while uploads flow,
// on a compressed clock: the 30-minute upload deadline is 2 seconds, so
// every upload of the stream is late before the system is back. First it
// answers 503 to everything, then it takes uploads but times out or drops
// the answer (the outcome is unknown, medgate must reconcile with GYD053
// before any resend). Every upload is still delivered, late, exactly once:
// medgate retries with backoff behind a circuit breaker and never gives up
// on an upload.
func TestExternalSystemDown(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{processing: map[string]any{
		"uploadDeadline": "2s", "breakerThreshold": 3, "breakerCooldown": "1s", "maxAttempts": 3,
	}})
	down := c.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.Fault5xx, Times: -1})
	s := newStream("down", scale(30, 120), 6)
	sent := time.Now()
	c.p.SendRaw(s.msgs...)
	// Down until every upload of the stream is past its deadline.
	harness.Eventually(t, time.Minute, "every upload to be late and refused a few times", func() bool {
		return time.Since(sent) > 4*time.Second && down.Hits() >= 6
	})
	c.sim.ClearFaults()
	hits := down.Hits()
	window := time.Since(sent)
	// Back, but it times out or drops the answer after processing.
	timeout := c.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.FaultTimeout, After: true, Times: 3})
	lost := c.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.FaultLostReply, Times: 3})
	harness.Eventually(t, 2*time.Minute, "the unknown outcomes", func() bool { return timeout.Hits() == 3 && lost.Hits() == 3 })
	res := c.verify(s, 3*time.Minute)
	c.committedAll(30 * time.Second)
	reconciled := 0
	for _, q := range c.sim.Received("GYD053") {
		if q.Input["orig_code"] == "GYU009" {
			reconciled++
		}
	}
	t.Logf("down %s: %d refused calls (%.1f/s over 6 keys, breaker threshold 3, cooldown 1s), 6 unknown outcomes, %d reconciliation queries: %s",
		window.Round(time.Millisecond), hits, float64(hits)/window.Seconds(), reconciled, res)
	if reconciled < 6 {
		t.Errorf("%d GYD053 reconciliations of GYU009, want at least 6 (one per unknown outcome)", reconciled)
	}
	// Without backoff and breaker, 6 keys retrying at once would call far
	// more often than this.
	if rate := float64(hits) / window.Seconds(); rate > 30 {
		t.Errorf("%.1f calls/s to a system that is down: retries spin", rate)
	}
}

// brokerPID finds the Kafka broker JVM this test process started.
func brokerPID(t *testing.T) int {
	t.Helper()
	me := os.Getpid()
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "kafka.Kafka") || strings.Contains(string(cmd), "/bin/sh") {
			continue
		}
		for p, hops := pid, 0; p > 1 && hops < 5; hops++ {
			if p = parentPID(p); p == me {
				return pid
			}
		}
	}
	t.Fatal("the Kafka broker process of this test process was not found")
	return 0
}

// brokerAnswers reports whether the broker answers a metadata request
// within half a second, on a new connection (no cached metadata).
func brokerAnswers(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = conn.Brokers()
	return err == nil
}

func parentPID(pid int) int {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// TestBrokerFrozenMidStream runs alone (not in parallel): it freezes the
// broker every test of this process shares.
//
// It stops the Kafka broker (SIGSTOP) for a few
// seconds while uploads are in flight, at random points, and resumes it
// (SIGCONT): replies and commits wait for it, and every upload gets
// exactly one outcome and one ledger record.
func TestBrokerFrozenMidStream(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	pid := brokerPID(t)
	s := newStream("frz", scale(30, 200), 6)
	c.p.SendRaw(s.msgs...)
	for round := range scale(2, 6) {
		target := min(c.done(s)+3+c.rng.IntN(8), s.n)
		harness.Eventually(t, 2*time.Minute, "progress before the freeze", func() bool { return c.done(s) >= target })
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("freeze the broker: %v", err)
		}
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
		frozen := time.Now()
		// Frozen for a few seconds, as a client sees it: metadata requests
		// time out.
		harness.Eventually(t, time.Minute, "the broker to be unreachable for 3s", func() bool {
			return !brokerAnswers(c.cfg.Brokers[0]) && time.Since(frozen) > 3*time.Second
		})
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatalf("resume the broker: %v", err)
		}
		t.Logf("freeze %d: broker stopped for %s at %d of %d records", round+1, time.Since(frozen).Round(time.Millisecond), c.done(s), s.n)
	}
	res := c.verify(s, 3*time.Minute)
	c.committedAll(30 * time.Second)
	t.Logf("broker frozen mid-stream: %s", res)
}
