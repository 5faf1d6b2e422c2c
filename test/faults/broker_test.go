package faults

import (
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestBrokerRestartedMidStream runs on a Kafka broker of its own, which it
// kills (SIGKILL) and starts again on the same ports and data while
// numbered uploads are in flight (once in the short form, three times in
// the long one); part of the stream is sent only after each restart. Every
// upload gets exactly one reply, the simulator's ledger holds every record
// exactly once, and the committed offsets reach the end of the topic.
func TestBrokerRestartedMidStream(t *testing.T) {
	t.Parallel()
	b := testenv.NewKafkaBroker(t)
	c := startCluster(t, clusterOpts{brokers: b.Addrs()})
	restarts := scale(1, 3)
	s := newStream("brr", scale(40, 200), 6)
	chunk := (s.n + restarts) / (restarts + 1)
	sent := 0
	send := func() {
		end := min(sent+chunk, s.n)
		c.p.SendRaw(s.msgs[sent:end]...)
		sent = end
	}
	send()
	inFlight := 0
	for r := range restarts {
		// A random point: after 2 to 9 more records of the part sent.
		target := min(c.done(s)+2+c.rng.IntN(8), sent)
		harness.Eventually(t, 2*time.Minute, "progress before the broker stops", func() bool { return c.done(s) >= target })
		at := c.done(s)
		if at < sent {
			inFlight++
		}
		stopped := time.Now()
		b.Stop()
		took := b.Start()
		t.Logf("restart %d: broker killed at %d of %d records (%d sent), down %s (start %s)",
			r+1, at, s.n, sent, time.Since(stopped).Round(time.Millisecond), took.Round(time.Millisecond))
		send()
	}
	for sent < s.n {
		send()
	}
	res := c.verify(s, 3*time.Minute)
	c.committedAll(60 * time.Second)
	t.Logf("broker killed and restarted %d times (%d with uploads still to do): %s", restarts, inFlight, res)
	if inFlight < restarts {
		t.Errorf("only %d of %d restarts hit a stream with work left; the test proves too little", inFlight, restarts)
	}
}
