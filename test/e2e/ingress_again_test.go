package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
)

// TestHTTPAskedAgainGetsStoredReply: a client that sends a finished
// message again over HTTP (same id, after a timeout on its side) gets the
// stored reply, quickly, and the plugin is not called again; the second
// request is queued on Kafka like the first (the ingress does not read
// the store before queueing), so the reply appears twice on the replies
// topic, the same both times, as for a Kafka redelivery.
func TestHTTPAskedAgainGetsStoredReply(t *testing.T) {
	t.Parallel()
	cfg, mg, _ := start(t, nil)
	post := func() (harness.Reply, time.Duration) {
		t.Helper()
		body, _ := json.Marshal(record("http-again-1", 1))
		t0 := time.Now()
		resp, err := http.Post("http://"+mg.HTTPAddr+"/v1/messages", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r harness.Reply
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d, %v", resp.StatusCode, err)
		}
		return r, time.Since(t0)
	}
	first, _ := post()
	again, took := post()
	if again.ID != first.ID || again.Status != "ok" {
		t.Fatalf("asked again: %+v; want the stored reply %+v", again, first)
	}
	// The consumer of this instance hands the stored reply over: no wait
	// for the ingress's store poll (25 ms, then doubling).
	if took > 10*time.Second {
		t.Errorf("asking again took %s", took)
	}
	if calls := readLedger(t, cfg.LedgerDir(), "calls.log"); len(calls) != 1 {
		t.Fatalf("plugin called %d times, want 1", len(calls))
	}
	replies := repliesOf(t, cfg, "http-again-1", 2)
	if replies[1].ID != first.ID {
		t.Errorf("replies on Kafka %+v and %+v differ", replies[0], replies[1])
	}
}
