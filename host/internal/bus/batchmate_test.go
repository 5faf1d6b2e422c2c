package bus

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestRefusedRecordDoesNotFailItsBatch: a broker refuses a whole produce
// batch when one record in it is over the topic's max.message.bytes
// (lower than the producer's MaxRecordBytes). Only that record may fail
// with ErrRecordRefused: the records that happened to share its batch (a
// linger gathers the replies of several messages) are valid and must be
// written. Refusing them too made the pipeline replace valid replies with
// a "refused" one.
func TestRefusedRecordDoesNotFailItsBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const limit = 4096
		topic := uniqueName(t, "topic")
		sc, err := testConfig(brokers, "").saramaConfig()
		if err != nil {
			t.Fatal(err)
		}
		admin, err := sarama.NewClusterAdmin(brokers, sc)
		if err != nil {
			t.Fatalf("NewClusterAdmin: %v", err)
		}
		maxBytes := strconv.Itoa(limit)
		if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: map[string]*string{"max.message.bytes": &maxBytes}}, false); err != nil {
			t.Fatalf("CreateTopic: %v", err)
		}
		_ = admin.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := EnsureTopics(ctx, testConfig(brokers, ""), []string{topic}, 1, 1); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}

		cfg := testConfig(brokers, "")
		cfg.Linger = 200 * time.Millisecond // one batch for all of them
		p, err := NewProducer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		send(t, p, topic, "warm", "{}") // metadata and connection first

		const small = 5
		outcomes := make(chan [2]any, small+1)
		for i := range small {
			p.SendAsync(ctx, topic, []byte("k"+strconv.Itoa(i)), []byte(`{"n":`+strconv.Itoa(i)+`}`), nil, func(err error) {
				outcomes <- [2]any{"small " + strconv.Itoa(i), err}
			})
		}
		p.SendAsync(ctx, topic, []byte("big"), []byte(strings.Repeat("v", 2*limit)), nil, func(err error) {
			outcomes <- [2]any{"big", err}
		})
		for range small + 1 {
			var o [2]any
			select {
			case o = <-outcomes:
			case <-ctx.Done():
				t.Fatal("not every SendAsync reported its outcome within 30s")
			}
			name, err := o[0].(string), o[1]
			switch {
			case name == "big":
				if e, _ := err.(error); !errors.Is(e, ErrRecordRefused) {
					t.Errorf("record over the topic's max.message.bytes: %v, want ErrRecordRefused", err)
				}
			case err != nil:
				t.Errorf("%s, a valid record batched with the refused one: %v, want it written", name, err)
			}
		}
	})
}
