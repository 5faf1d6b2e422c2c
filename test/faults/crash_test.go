package faults

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
)

// TestMessageThatCrashesThePlugin sends, among ordinary messages of the
// ledger plugin on other keys, an upload that kills the plugin process on
// every attempt, and uploads that kill it once, twice and three times. The
// first is answered failed with rule plugin-crash and goes to the DLQ
// instead of crash-looping the plugin for ever; the others, the message
// after it on its own key and every message of the other keys are answered
// ok; the committed offsets reach the end. The limit is configured
// (processing.pluginCrashLimit: 4).
func TestMessageThatCrashesThePlugin(t *testing.T) {
	t.Parallel()
	// Four crashes alone in the plugin (after a first one) fail a
	// message; one that crashes it itself three times is delivered.
	c := startCluster(t, clusterOpts{processing: map[string]any{"pluginCrashLimit": 4}})
	msg := func(key, id, typ string, payload map[string]any) kafka.Message {
		v, _ := json.Marshal(harness.Request{ID: id, Site: "s1", Type: typ, OccurredAt: time.Now().Format(time.RFC3339), Payload: payload})
		return kafka.Message{Key: []byte(key), Value: v}
	}
	var msgs []kafka.Message
	var ok []string
	record := func(from, n int) {
		for i := from; i < from+n; i++ {
			id := fmt.Sprintf("cr-rec-%d", i)
			msgs = append(msgs, msg(fmt.Sprintf("cr-k%d", i%5), id, "ledger.record", map[string]any{"seq": i}))
			ok = append(ok, id)
		}
	}
	record(0, 10)
	msgs = append(msgs,
		msg("cr-poison", "cr-poison", "ledger.crash", map[string]any{"seq": 1, "crashTimes": -1}),
		msg("cr-poison", "cr-poison-next", "ledger.record", map[string]any{"seq": 2}),
		msg("cr-once", "cr-once", "ledger.crash", map[string]any{"seq": 1, "crashTimes": 1}),
		msg("cr-twice", "cr-twice", "ledger.crash", map[string]any{"seq": 1, "crashTimes": 2}),
		msg("cr-thrice", "cr-thrice", "ledger.crash", map[string]any{"seq": 1, "crashTimes": 3}))
	ok = append(ok, "cr-poison-next", "cr-once", "cr-twice", "cr-thrice")
	record(10, 30)
	start := time.Now()
	c.p.SendRaw(msgs...)
	replies := c.p.Replies(append([]string{"cr-poison"}, ok...), 2*time.Minute)
	t.Logf("%d messages, one crashing the plugin on every attempt, answered in %s", len(ok)+1, time.Since(start).Round(time.Millisecond))
	p := replies["cr-poison"]
	if p.Status != "failed" || len(p.Errors) == 0 || p.Errors[0].Rule != "plugin-crash" || !strings.Contains(p.Errors[0].Message, "cannot be delivered") ||
		!strings.Contains(p.Errors[0].Message, "died during 5 calls handling this message, 4 of them with no other message") {
		t.Errorf("the message crashing the plugin: status %q, errors %+v; want failed, rule plugin-crash, after 5 crashes (4 alone: pluginCrashLimit), saying it cannot be delivered", p.Status, p.Errors)
	} else {
		t.Logf("its reply after %d attempts: %s", p.Attempts, p.Errors[0].Message)
	}
	for _, id := range ok {
		if r := replies[id]; r.Status != "ok" {
			t.Errorf("%s: status %q, errors %+v; want ok", id, r.Status, r.Errors)
		}
	}
	c.committedAll(30 * time.Second)
	// The whole DLQ topic: an offset is committed after its DLQ record.
	dlq, err := harness.ReadTopic(c.cfg.Brokers, c.cfg.Topics().DLQ, 0, 30*time.Second)
	if err != nil {
		t.Fatalf("read the DLQ: %v", err)
	}
	found := false
	for _, m := range dlq {
		var d struct {
			Reply struct {
				RequestID string `json:"requestId"`
			} `json:"reply"`
		}
		if json.Unmarshal(m.Value, &d) == nil {
			found = found || d.Reply.RequestID == "cr-poison"
			if d.Reply.RequestID != "cr-poison" {
				t.Errorf("DLQ record of %s; only cr-poison belongs there", d.Reply.RequestID)
			}
		}
	}
	if !found {
		t.Error("no DLQ record for the message crashing the plugin")
	}
}
