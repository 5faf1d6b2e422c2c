package faults

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
)

// TestThreeInstances runs three medgate instances in one consumer group on
// one PostgreSQL store, with Kafka and HTTP traffic: one instance is
// SIGKILLed mid-stream and a fourth joins later, so partitions move twice;
// every upload is recorded exactly once and in order per key across the
// handovers, HTTP messages sent to any instance are completed, and a
// scheduled job runs on exactly one instance.
func TestThreeInstances(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{instances: 3, postgres: true})
	s := newStream("so", scale(54, 300), 9)
	c.p.SendRaw(s.msgs[:len(s.msgs)/2]...)

	// HTTP traffic to every instance, one key, in order.
	var httpIDs []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 9 {
			id := fmt.Sprintf("so-http-%d", i)
			body := fmt.Sprintf(`{"id":%q,"site":"s1","type":"ledger.record","payload":{"seq":%d}}`, id, i)
			node := c.nodes[1+i%2] // the instances that stay up
			if code, err := post(node.HTTPAddr, body, 2*time.Minute); err != nil || code != http.StatusOK {
				t.Errorf("HTTP %s to instance %d: %d %v", id, 1+i%2, code, err)
			}
			httpIDs = append(httpIDs, id)
		}
	}()

	target := min(c.done(s)+5+c.rng.IntN(20), s.n/2)
	harness.Eventually(t, 2*time.Minute, "progress before the kill", func() bool { return c.done(s) >= target })
	c.nodes[0].Kill()
	t.Logf("instance 0 killed at %d of %d records", c.done(s), s.n)
	c.p.SendRaw(s.msgs[len(s.msgs)/2:]...)
	target = min(c.done(s)+5+c.rng.IntN(20), s.n)
	harness.Eventually(t, 2*time.Minute, "progress after the kill", func() bool { return c.done(s) >= target })
	c.paths = append(c.paths, c.writeNode(3))
	c.nodes = append(c.nodes, harness.Start(t, c.bins, c.paths[3]))
	t.Logf("instance 3 joined at %d of %d records", c.done(s), s.n)

	res := c.verify(s, 3*time.Minute)
	wg.Wait()
	c.committedAll(30 * time.Second)
	if n := ledgerOrder(t, c.cfg.LedgerDir(), httpIDs); n != len(httpIDs) {
		t.Errorf("%d of %d HTTP messages recorded once and in order", n, len(httpIDs))
	}

	// One job, three live instances asking to run it at once: one runs it,
	// the others are told who owns it.
	codes := make([]int, 0, 3)
	var mu sync.Mutex
	var jobs sync.WaitGroup
	for _, n := range c.nodes[1:] {
		jobs.Add(1)
		go func() {
			defer jobs.Done()
			resp, err := http.Post("http://"+n.HTTPAddr+"/admin/jobs/ledger/s1/tick/run", "application/json", nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes = append(codes, resp.StatusCode)
			mu.Unlock()
		}()
	}
	jobs.Wait()
	ran := 0
	for _, code := range codes {
		switch code {
		case http.StatusOK:
			ran++
		case http.StatusConflict:
		default:
			t.Errorf("job trigger answered %d", code)
		}
	}
	if ran != 1 {
		t.Errorf("the job ran on %d instances (answers %v), want exactly 1", ran, codes)
	}
	t.Logf("three instances, one killed, one joined: %s; %d HTTP messages; job ran once (answers %v)", res, len(httpIDs), codes)
}

// ledgerOrder counts the ids recorded exactly once in the ledger plugin's
// effects and in the given order.
func ledgerOrder(t *testing.T, dir string, ids []string) int {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	data, err := os.ReadFile(filepath.Join(dir, "effects.log"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(data), "\n") {
		if id := strings.SplitN(line, "\t", 2)[0]; want[id] {
			got = append(got, id)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("HTTP messages recorded as %v, want %v", got, ids)
	}
	ok := 0
	for _, id := range ids {
		if ledgerLines(t, dir, "effects.log", id) == 1 {
			ok++
		}
	}
	return ok
}

// TestThreeInstancesKilledAtRandomPoints is the host-kill fault test on the
// scale-out shape: three instances in one consumer group on one PostgreSQL
// store, and a random instance SIGKILLed and restarted at random points of
// the stream (3 times in the short form, 20 in the long one), each after
// a new part of the stream was sent. Partitions
// move on every kill and every return; every upload still gets exactly one
// distinct reply and the simulator's ledger holds it exactly once, in order
// per key. Filing verifications (GYD051, pure queries without a pending
// record) between the uploads on the same keys each get exactly one
// outcome too, though two instances may run one at once while its
// partition moves, and none is reconciled.
func TestThreeInstancesKilledAtRandomPoints(t *testing.T) {
	t.Parallel()
	kills := scale(3, 20)
	c := startCluster(t, clusterOpts{instances: 3, postgres: true})
	const part = 40 // uploads sent before each kill, so every kill finds work
	s := newStream("sk", kills*part, 6)
	var qids []string
	inFlight := 0
	for k := range kills {
		var msgs []kafka.Message
		for i := k * part; i < (k+1)*part; i++ {
			msgs = append(msgs, s.msgs[i])
			if i%2 == 1 {
				q, id := verification("sk", i, s.keys)
				msgs = append(msgs, q)
				qids = append(qids, id)
			}
		}
		c.p.SendRaw(msgs...)
		target := min(c.done(s)+1+c.rng.IntN(4), s.n)
		harness.Eventually(t, 2*time.Minute, fmt.Sprintf("kill %d: %d records in the ledger", k+1, target), func() bool { return c.done(s) >= target })
		if c.done(s) < s.n {
			inFlight++
		}
		i := c.rng.IntN(len(c.nodes))
		at := time.Now()
		c.nodes[i].Kill()
		c.nodes[i].Restart()
		t.Logf("kill %d: instance %d at %d of %d records; ready again after %s", k+1, i, c.done(s), s.n, time.Since(at).Round(time.Millisecond))
	}
	res := c.verify(s, 3*time.Minute)
	asked := c.verifyQueries(qids, 3*time.Minute)
	c.committedAll(30 * time.Second)
	t.Logf("three instances, a random one SIGKILLed %d times (%d with uploads still to do): %s; %d queries, %d asked again", kills, inFlight, res, len(qids), asked)
	if inFlight < (kills+1)/2 {
		t.Errorf("only %d of %d kills hit a stream with work left; the test proves too little", inFlight, kills)
	}
}
