package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/medgate/medgate/host/internal/store"
)

// TestReplyOverTheTopicLimitFinishes: a reply larger than the replies
// topic's max.message.bytes (lower than the producer's own limit, so the
// broker refuses it) must not hold its partition: the platform gets the
// reply truncated (its status, the errors, a note where the whole reply
// is), the store keeps the whole outcome, and the request's offset is
// committed. Through the real producer and the embedded broker.
func TestReplyOverTheTopicLimitFinishes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	yaml := "node: replysize-1\n" +
		"kafka:\n  partitions: 1\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, "kafka") + "\n" +
		"store:\n  driver: sqlite\n  path: " + filepath.Join(dir, "medgate.db") + "\n" +
		"http:\n  listen: 127.0.0.1:0\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	d, err := Start(t.Context(), cfg, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	topics := d.Config().Kafka.Topics
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	admin, err := sarama.NewClusterAdmin(d.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const limit = 4096
	v := "4096"
	if err := admin.AlterConfig(sarama.TopicResource, topics.Replies, map[string]*string{"max.message.bytes": &v}, false); err != nil {
		t.Fatalf("set the replies topic's max.message.bytes: %v", err)
	}
	p, err := sarama.NewSyncProducer(d.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// An unknown type of 6000 characters: the invalid reply repeats it,
	// over the limit; truncated, it is cut to 256.
	const id = "replysize-1"
	typ := "nosuch." + strings.Repeat("x", 6000)
	req, _ := json.Marshal(map[string]any{"id": id, "site": "s1", "type": typ, "payload": map[string]any{}})
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topics.Requests, Key: sarama.StringEncoder("K1"), Value: sarama.ByteEncoder(req)}); err != nil {
		t.Fatal(err)
	}

	var m *store.Message
	pollFor(t, 30*time.Second, "the outcome stored", func() bool {
		m, err = d.store.GetMessage(t.Context(), id)
		return err == nil && m.Status == store.StatusDone
	})
	if len(m.Reply) <= limit || m.Outcome != "invalid" {
		t.Fatalf("stored outcome %q with a reply of %d bytes; want invalid, over %d bytes", m.Outcome, len(m.Reply), limit)
	}
	pollFor(t, 30*time.Second, "the request's offset committed", func() bool {
		resp, err := admin.ListConsumerGroupOffsets(d.Config().Kafka.GroupID, map[string][]int32{topics.Requests: {0}})
		if err != nil {
			return false
		}
		b := resp.GetBlock(topics.Requests, 0)
		return b != nil && errors.Is(b.Err, sarama.ErrNoError) && b.Offset == 1
	})

	// The platform got the reply, truncated.
	c, err := sarama.NewConsumer(d.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topics.Replies, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case r := <-pc.Messages():
		var reply struct {
			RequestID string `json:"requestId"`
			Status    string `json:"status"`
			Errors    []struct{ Rule, Message string }
		}
		if err := json.Unmarshal(r.Value, &reply); err != nil {
			t.Fatalf("reply %q: %v", r.Value, err)
		}
		if reply.RequestID != id || reply.Status != "invalid" || len(r.Value) > limit {
			t.Errorf("reply of %d bytes, request %q, status %q; want the invalid reply to %s within %d bytes", len(r.Value), reply.RequestID, reply.Status, id, limit)
		}
		last := reply.Errors[len(reply.Errors)-1]
		if last.Rule != "truncated" || !strings.Contains(last.Message, "GET /admin/messages/"+id) {
			t.Errorf("the reply's last error %+v; want the truncation and where the whole reply is", last)
		}
		if log := out.String(); !strings.Contains(log, "reply published truncated") || !strings.Contains(log, "Kafka refused the reply") {
			t.Errorf("the log does not say the broker refused the reply and it was published truncated:\n%s", log)
		}
	case <-ctx.Done():
		t.Fatalf("no reply on %s within 30s; log:\n%s", topics.Replies, out.String())
	}
}
