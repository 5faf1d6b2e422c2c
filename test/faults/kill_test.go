package faults

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestHostKilledAtRandomPoints SIGKILLs medgate again and again while a
// stream of numbered uploads flows (at least 10 times in the short form,
// 50 in the long one), each time after a random amount of progress, and
// restarts it: every upload gets exactly one reply and the simulator's
// ledger holds every record exactly once, in order per key.
//
// Filing verifications (GYD051, declared pure queries: no pending record
// before the call) flow on the same keys between the uploads: each gets
// exactly one outcome (a redelivery publishes the stored reply, or, when
// the kill came before the outcome was stored, asks again), and none is
// ever reconciled with GYD053.
func TestHostKilledAtRandomPoints(t *testing.T) {
	t.Parallel()
	kills := scale(10, 50)
	c := startCluster(t, clusterOpts{})
	s := newStream("hk", kills*8, 6)
	var (
		all  []kafka.Message
		qids []string
	)
	for i, m := range s.msgs {
		all = append(all, m)
		if i%2 == 1 {
			q, id := verification("hk", i, s.keys)
			all = append(all, q)
			qids = append(qids, id)
		}
	}
	c.p.SendRaw(all...)
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
	asked := c.verifyQueries(qids, 3*time.Minute)
	c.committedAll(30 * time.Second)
	t.Logf("host SIGKILLed %d times (%d with uploads still to do): %s; %d queries, %d asked again after a kill", kills, inFlight, res, len(qids), asked)
	if inFlight < kills/2 {
		t.Errorf("only %d of %d kills hit a stream with work left; the test proves too little", inFlight, kills)
	}
}

// verification is filing verification i (GYD051, a pure query) on the
// Kafka key of upload i.
func verification(prefix string, i, keys int) (kafka.Message, string) {
	req := harness.Request{ID: fmt.Sprintf("%s-q%d", prefix, i), Site: "s1", Type: "workinjury.GYD051", OccurredAt: time.Now().Format(time.RFC3339),
		Payload: map[string]any{"aac002": fmt.Sprintf("4403011985071%05d", i), "aac003": "故障测试", "akb020": "H35020300123", "visit_date": time.Now().Format("2006-01-02")}}
	v, _ := json.Marshal(req)
	return kafka.Message{Key: []byte(fmt.Sprintf("%s-k%d", prefix, i%keys)), Value: v}, req.ID
}

// verifyQueries waits for a reply to every query of ids and checks: one
// outcome each (every reply record of a query has the same reply id),
// status ok, and no GYD053 about a GYD051: a query is asked again, never
// reconciled. It returns how many GYD051 the simulator got beyond one per
// query (asked again after a kill).
func (c *cluster) verifyQueries(ids []string, timeout time.Duration) int {
	c.t.Helper()
	c.p.Replies(ids, timeout)
	msgs, err := harness.ReadTopic(c.cfg.Brokers, c.cfg.Topics().Replies, 0, 30*time.Second)
	if err != nil {
		c.t.Fatalf("read replies: %v", err)
	}
	replyIDs := map[string]map[string]bool{}
	for _, id := range ids {
		replyIDs[id] = map[string]bool{}
	}
	for _, m := range msgs {
		var r harness.Reply
		if err := json.Unmarshal(m.Value, &r); err != nil {
			c.t.Fatalf("reply is not JSON: %v: %s", err, m.Value)
		}
		seen, mine := replyIDs[r.RequestID]
		if !mine {
			continue
		}
		seen[r.ID] = true
		if r.Status != "ok" {
			c.t.Errorf("reply to query %s: status %s, errors %+v", r.RequestID, r.Status, r.Errors)
		}
	}
	for id, seen := range replyIDs {
		if len(seen) != 1 {
			c.t.Errorf("query %s has %d outcomes, want exactly 1", id, len(seen))
		}
	}
	if c.sim.Seen(func(r wisim.Request) bool { return r.Code == "GYD053" && r.Input["orig_code"] == "GYD051" }) {
		c.t.Error("a GYD051 was reconciled with GYD053; a query has nothing to reconcile")
	}
	return len(c.sim.Received("GYD051")) - len(ids)
}

// TestPluginKilledAtRandomPoints runs alone (not in parallel): it kills
// every workinjury plugin process of this test binary.
//
// It SIGKILLs the workinjury plugin at random
// points of the stream; the host relaunches it and redelivers the message
// it was handling, reconciling with the simulator before any resend.
//
// The kills come from outside, right after a record reaches the
// simulator's ledger: the message whose retry runs alone in the plugin
// just then (after an earlier kill) can be hit again and again, and
// processing.pluginCrashLimit would dead-letter it as a message that
// crashes the adapter (TestMessageThatCrashesThePlugin tests that). The
// limit is set above the number of kills, so every message must come
// through.
func TestPluginKilledAtRandomPoints(t *testing.T) {
	kills := scale(5, 30)
	c := startCluster(t, clusterOpts{processing: map[string]any{"pluginCrashLimit": kills + 1}})
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
