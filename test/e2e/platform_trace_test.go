package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
)

// TestPlatformLongTraceHeader: a request whose medgate-trace-id header is
// far longer than a trace id (a platform that puts a whole document
// there) still gets its reply and, being invalid, its DLQ record: the
// trace id travels in both, and a record that cannot be published as it
// is must be cut, not lost (guarantee 6: whatever their headers).
func TestPlatformLongTraceHeader(t *testing.T) {
	t.Parallel()
	cfg, _, p := start(t, nil)
	for name, n := range map[string]int{"600 KB": 600 << 10, "300 KB": 300 << 10} {
		id := "trace-" + strings.ReplaceAll(name, " ", "")
		p.SendRaw(kafka.Message{Key: []byte("ZY-TRACE-1"), Value: []byte(`{"id":"` + id + `","site":"s1","type":"ledger.nope","payload":{"seq":1}}`),
			Headers: []kafka.Header{{Key: "medgate-trace-id", Value: []byte(strings.Repeat("t", n))}}})
	}
	replies := p.Replies([]string{"trace-600KB", "trace-300KB"}, 60*time.Second)
	for id, r := range replies {
		if strings.HasPrefix(id, "trace-") && r.Status != "invalid" {
			t.Errorf("%s: reply %+v, want invalid (unknown operation)", id, r)
		}
	}
	found := map[string]bool{}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !(found["trace-600KB"] && found["trace-300KB"]); <-tick.C {
		msgs, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().DLQ, 0, 10*time.Second)
		for _, m := range msgs {
			var dl struct {
				Reply struct {
					RequestID string `json:"requestId"`
				} `json:"reply"`
			}
			if json.Unmarshal(m.Value, &dl) == nil {
				found[dl.Reply.RequestID] = true
			}
		}
	}
	for _, id := range []string{"trace-600KB", "trace-300KB"} {
		if !found[id] {
			t.Errorf("no DLQ record for %s within 60s: lost", id)
		}
	}
}
