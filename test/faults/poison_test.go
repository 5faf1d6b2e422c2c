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

// TestPoisonMessagesDoNotBlock sends poison messages among ordinary ones:
// a request the broker takes but whose DLQ record is too large for Kafka,
// a key the store cannot hold, a replyTo naming a topic medgate must not
// write to, and an envelope with control characters. Each poison gets an
// invalid reply, later messages of other keys and of the poison's own key
// get theirs, and the committed offsets reach the end of every partition:
// nothing waits for ever.
func TestPoisonMessagesDoNotBlock(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{})
	rec := func(id string, seq int) []byte {
		v, _ := json.Marshal(harness.Request{ID: id, Site: "s1", Type: "ledger.record", OccurredAt: time.Now().Format(time.RFC3339), Payload: map[string]any{"seq": seq}})
		return v
	}
	// About 999,000 bytes: the broker takes it, but its DLQ record (the
	// request and the reply) is more than a Kafka record may hold.
	big, _ := json.Marshal(map[string]any{"id": "poison-big", "site": "s1", "type": "ledger.nosuch", "payload": map[string]any{"blob": strings.Repeat("x", 998_000)}})
	poisons := map[string]kafka.Message{
		"poison-big":      {Key: []byte("pk-big"), Value: big},
		"poison-nul-key":  {Key: []byte("pk\x00nul"), Value: rec("poison-nul-key", 1)},
		"poison-reply-to": {Key: []byte("pk-replyto"), Value: []byte(`{"id":"poison-reply-to","site":"s1","type":"ledger.record","replyTo":"payments.commands","payload":{"seq":1}}`)},
		"poison-control":  {Key: []byte("pk-ctl"), Value: []byte(`{"id":"poison-control","site":"s1\u0000\u0007","type":"ledger.record","payload":{"seq":1}}`)},
	}
	var msgs []kafka.Message
	var ids, later []string
	for i := range 10 {
		id := fmt.Sprintf("before-%d", i)
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("ok-%d", i%5)), Value: rec(id, i)})
		ids = append(ids, id)
	}
	for id, m := range poisons {
		msgs = append(msgs, m)
		ids = append(ids, id)
		// The poison's own key goes on with a good message.
		if string(m.Key) != "pk\x00nul" {
			after := id + "-next"
			msgs = append(msgs, kafka.Message{Key: m.Key, Value: rec(after, 2)})
			ids = append(ids, after)
			later = append(later, after)
		}
	}
	for i := range 30 {
		id := fmt.Sprintf("after-%d", i)
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("ok-%d", i%5)), Value: rec(id, 100+i)})
		ids = append(ids, id)
		later = append(later, id)
	}
	start := time.Now()
	c.p.SendRaw(msgs...)
	replies := c.p.Replies(ids, 90*time.Second)
	t.Logf("%d messages with %d poisons answered in %s", len(ids), len(poisons), time.Since(start).Round(time.Millisecond))
	for id := range poisons {
		if r := replies[id]; r.Status != "invalid" {
			t.Errorf("poison %s: status %q, want invalid; errors %+v", id, r.Status, r.Errors)
		}
	}
	for _, id := range later {
		if r := replies[id]; r.Status != "ok" {
			t.Errorf("%s after the poisons: status %q, errors %+v", id, r.Status, r.Errors)
		}
	}
	c.committedAll(30 * time.Second)

	// The oversized poison's DLQ record is there, truncated.
	dlq := c.p.Topic(c.cfg.Topics().DLQ, len(poisons), 30*time.Second)
	found := false
	for _, m := range dlq {
		var d struct {
			Truncated bool `json:"truncated"`
			Reply     struct {
				RequestID string `json:"requestId"`
			} `json:"reply"`
		}
		if json.Unmarshal(m.Value, &d) == nil && d.Reply.RequestID == "poison-big" {
			found = true
			if !d.Truncated || len(m.Value) > 200_000 {
				t.Errorf("DLQ record of poison-big: truncated=%v, %d bytes; want a truncated record", d.Truncated, len(m.Value))
			}
		}
	}
	if !found {
		t.Error("no DLQ record for poison-big")
	}
	// The foreign topic was never written.
	if got, err := harness.ReadTopic(c.cfg.Brokers, "payments.commands", 0, 5*time.Second); err == nil && len(got) > 0 {
		t.Errorf("medgate wrote %d record(s) to payments.commands, named by a client's replyTo", len(got))
	}
}
