package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
)

// TestHostKilledAtRandomPoints SIGKILLs medgate again and again while a
// stream of numbered uploads flows (at least 10 times in the short form,
// 50 in the long one), each time after a random amount of progress, and
// restarts it: every upload gets exactly one reply and the simulator's
// ledger holds every record exactly once, in order per key.
func TestHostKilledAtRandomPoints(t *testing.T) {
	t.Parallel()
	kills := scale(10, 50)
	c := startCluster(t, clusterOpts{})
	s := newStream("hk", kills*8, 6)
	c.p.SendRaw(s.msgs...)
	inFlight := 0
	for k := range kills {
		// A random point: after 1 to 6 more records reached the ledger.
		target := min(c.done(s)+1+c.rng.IntN(6), s.n)
		harness.Eventually(t, 2*time.Minute, fmt.Sprintf("kill %d: %d records in the ledger", k+1, target), func() bool { return c.done(s) >= target })
		if c.done(s) < s.n {
			inFlight++
		}
		at := time.Now()
		c.nodes[0].Kill()
		c.nodes[0].Restart()
		t.Logf("kill %d at %d of %d records; ready again after %s", k+1, c.done(s), s.n, time.Since(at).Round(time.Millisecond))
	}
	res := c.verify(s, 3*time.Minute)
	c.committedAll(30 * time.Second)
	t.Logf("host SIGKILLed %d times (%d with uploads still to do): %s", kills, inFlight, res)
	if inFlight < kills/2 {
		t.Errorf("only %d of %d kills hit a stream with work left; the test proves too little", inFlight, kills)
	}
}

// TestPluginKilledAtRandomPoints runs alone (not in parallel): it kills
// every workinjury plugin process of this test binary.
//
// It SIGKILLs the workinjury plugin at random
// points of the stream; the host relaunches it and redelivers the message
// it was handling, reconciling with the simulator before any resend.
func TestPluginKilledAtRandomPoints(t *testing.T) {
	kills := scale(5, 30)
	c := startCluster(t, clusterOpts{})
	s := newStream("pk", kills*8, 6)
	c.p.SendRaw(s.msgs...)
	killed := 0
	for k := range kills {
		target := min(c.done(s)+1+c.rng.IntN(6), s.n)
		harness.Eventually(t, 2*time.Minute, fmt.Sprintf("plugin kill %d: %d records in the ledger", k+1, target), func() bool { return c.done(s) >= target })
		if c.killPlugins("workinjury") > 0 {
			killed++
		}
	}
	res := c.verify(s, 3*time.Minute)
	c.committedAll(30 * time.Second)
	t.Logf("plugin SIGKILLed %d times: %s", killed, res)
	if killed < kills/2 {
		t.Errorf("only %d of %d plugin kills found a running plugin", killed, kills)
	}
}
