package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Reply is the reply envelope as the platform reads it.
type Reply struct {
	ID        string `json:"id"`
	RequestID string `json:"requestId"`
	Site      string `json:"site"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Errors    []struct {
		Field   string `json:"field"`
		Rule    string `json:"rule"`
		Message string `json:"message"`
	} `json:"errors"`
	External *struct {
		System, Code, Message, MsgID string
	} `json:"external"`
	Payload  json.RawMessage `json:"payload"`
	Attempts int             `json:"attempts"`
}

// Request is a request envelope.
type Request struct {
	ID         string `json:"id"`
	Site       string `json:"site"`
	Type       string `json:"type"`
	OccurredAt string `json:"occurredAt,omitempty"`
	Format     string `json:"format,omitempty"`
	Payload    any    `json:"payload"`
}

// Platform plays the integration platform with segmentio/kafka-go.
type Platform struct {
	t       testing.TB
	brokers []string
	topics  Topics
	w       *kafka.Writer
}

// NewPlatform returns a platform client for the config's topics.
func NewPlatform(t testing.TB, brokers []string, topics Topics) *Platform {
	t.Helper()
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topics.Requests,
		Balancer:     kafka.Murmur2Balancer{}, // the Java client's partitioner, as an integration platform on the JVM uses
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    200,
		// A transport of its own: kafka-go's shared default transport caches
		// topic metadata across writers, and would not see a new topic.
		Transport: &kafka.Transport{MetadataTTL: time.Second},
	}
	t.Cleanup(func() { _ = w.Close() })
	waitTopic(t, brokers, topics.Requests)
	return &Platform{t: t, brokers: brokers, topics: topics, w: w}
}

// waitTopic polls the broker until the topic medgate created has a leader
// for every partition, so the first write cannot fail half-way: a partly
// failed batch that is sent again would reorder messages.
func waitTopic(t testing.TB, brokers []string, topic string) {
	t.Helper()
	Eventually(t, 60*time.Second, "topic "+topic+" to have leaders", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
		if err != nil {
			return false
		}
		defer conn.Close()
		parts, err := conn.ReadPartitions(topic)
		if err != nil || len(parts) == 0 {
			return false
		}
		for _, p := range parts {
			if p.Leader.Host == "" || p.Error != nil {
				return false
			}
		}
		return true
	})
}

// Send writes requests with their keys, in order.
func (p *Platform) Send(key string, reqs ...Request) {
	p.t.Helper()
	msgs := make([]kafka.Message, len(reqs))
	for i, r := range reqs {
		v, err := json.Marshal(r)
		if err != nil {
			p.t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(key), Value: v}
	}
	p.SendRaw(msgs...)
}

// SendRaw writes raw messages.
func (p *Platform) SendRaw(msgs ...kafka.Message) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// No retry here: resending a partly written batch would reorder
	// messages (NewPlatform waited for the topic to be ready).
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		p.t.Fatalf("platform: write requests: %v", err)
	}
}

// Topic reads a whole topic from the beginning, from every partition,
// until it holds at least n records or the timeout passes.
func (p *Platform) Topic(topic string, n int, timeout time.Duration) []kafka.Message {
	p.t.Helper()
	got, err := ReadTopic(p.brokers, topic, n, timeout)
	if err != nil {
		p.t.Fatalf("platform: read %s: %v (got %d of %d)", topic, err, len(got), n)
	}
	return got
}

// Replies waits until every id has a reply and returns the latest reply
// per request id (there may be more than one after a redelivery).
func (p *Platform) Replies(ids []string, timeout time.Duration) map[string]Reply {
	p.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(timeout)
	for {
		msgs, _ := ReadTopic(p.brokers, p.topics.Replies, 0, 10*time.Second)
		out := map[string]Reply{}
		for _, m := range msgs {
			var r Reply
			if err := json.Unmarshal(m.Value, &r); err != nil {
				p.t.Fatalf("platform: reply is not JSON: %v: %s", err, m.Value)
			}
			out[r.RequestID] = r
		}
		missing := 0
		for id := range want {
			if _, ok := out[id]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return out
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("platform: %d of %d replies missing after %s", missing, len(want), timeout)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// ReadTopic reads every partition of topic from the first offset until at
// least n records were read (n 0: until the end at call time) or timeout.
func ReadTopic(brokers []string, topic string, n int, timeout time.Duration) ([]kafka.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var out []kafka.Message
	var wg sync.WaitGroup
	ends := map[int]int64{}
	for _, pt := range parts {
		leader := net.JoinHostPort(pt.Leader.Host, strconv.Itoa(pt.Leader.Port))
		c, err := kafka.DialLeader(ctx, "tcp", leader, topic, pt.ID)
		if err != nil {
			return nil, err
		}
		first, last, err := c.ReadOffsets()
		c.Close()
		if err != nil {
			return nil, err
		}
		ends[pt.ID] = last
		if n == 0 && first >= last {
			ends[pt.ID] = -1 // empty: nothing to read
		}
	}
	for _, pt := range parts {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: id, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 50 * time.Millisecond})
			defer r.Close()
			for {
				if n == 0 {
					if ends[id] < 0 || r.Offset() >= ends[id] {
						return
					}
				} else {
					mu.Lock()
					enough := len(out) >= n
					mu.Unlock()
					if enough {
						return
					}
				}
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				out = append(out, m)
				mu.Unlock()
			}
		}(pt.ID)
	}
	wg.Wait()
	if n > 0 && len(out) < n {
		return out, errors.New("timed out")
	}
	if ctx.Err() != nil && n == 0 {
		return out, fmt.Errorf("read to end: %w", ctx.Err())
	}
	return out, nil
}
