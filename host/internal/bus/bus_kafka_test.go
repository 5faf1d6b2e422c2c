package bus

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopKafka()
	os.Exit(code)
}

func murmur2Partition(key []byte, partitions int32) int32 {
	p, err := sarama.NewMurmur2Partitioner("").Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, partitions)
	if err != nil {
		panic(err)
	}
	return p
}

// TestInteropWithKafkaGo plays the integration platform with a second,
// independent client: segmentio/kafka-go writes requests (partitioned with
// its murmur2 balancer, as the Java client does), our Consumer reads them and
// our Producer writes a reply per request with the same key and headers, and
// kafka-go reads the replies back. Each reply must land in the partition of
// its request.
func TestInteropWithKafkaGo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, partitions = 30, 6
		requests := newTopic(t, brokers, partitions)
		replies := newTopic(t, brokers, partitions)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()

		// A transport of its own: kafka-go's shared DefaultTransport
		// caches metadata and would not know the new topic yet.
		tr := &kafka.Transport{MetadataTTL: time.Second}
		defer tr.CloseIdleConnections()
		w := &kafka.Writer{
			Addr:         kafka.TCP(brokers...),
			Transport:    tr,
			Topic:        requests,
			Balancer:     &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: time.Millisecond,
		}
		defer w.Close()
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			msgs[i] = kafka.Message{
				Key:     []byte("patient-" + strconv.Itoa(i)),
				Value:   []byte(`{"id":"req-` + strconv.Itoa(i) + `"}`),
				Headers: []kafka.Header{{Key: "type", Value: []byte("ecard.register")}},
			}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("kafka-go WriteMessages: %v", err)
		}

		p := newProducer(t, brokers)
		var mu sync.Mutex
		reqPartition := map[string]int{}
		startConsumer(t, testConfig(brokers, uniqueName(t, "group")), []string{requests}, func(ctx context.Context, m *Message) error {
			mu.Lock()
			reqPartition[string(m.Key)] = int(m.Partition)
			mu.Unlock()
			reply := []byte(`{"requestId":"` + string(m.Key) + `","status":"ok"}`)
			headers := map[string]string{"type": m.Headers["type"], "requestPartition": strconv.Itoa(int(m.Partition))}
			if err := p.Send(ctx, replies, m.Key, reply, headers); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Send reply: %v", err)
			}
			return nil
		})

		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:     brokers,
			GroupID:     uniqueName(t, "platform"),
			Topic:       replies,
			StartOffset: kafka.FirstOffset,
			MaxWait:     100 * time.Millisecond,
			// The first join can race the group's creation; retry
			// soon instead of after the default 5s.
			JoinGroupBackoff: 100 * time.Millisecond,
		})
		defer r.Close()
		for read := 0; read < n; {
			// FetchMessage: the platform side only reads here. A fresh
			// broker may answer the group's first requests with a
			// temporary error (coordinator not yet available): ask again.
			m, err := r.FetchMessage(ctx)
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.Temporary() && ctx.Err() == nil {
				continue
			}
			if err != nil {
				t.Fatalf("kafka-go FetchMessage of replies: %v", err)
			}
			read++
			key := string(m.Key)
			if want := `{"requestId":"` + key + `","status":"ok"}`; string(m.Value) != want {
				t.Errorf("reply for %s is %s, want %s", key, m.Value, want)
			}
			headers := map[string]string{}
			for _, h := range m.Headers {
				headers[h.Key] = string(h.Value)
			}
			mu.Lock()
			wantPart := reqPartition[key]
			mu.Unlock()
			if m.Partition != wantPart || headers["requestPartition"] != strconv.Itoa(wantPart) {
				t.Errorf("reply for %s in partition %d (headers %v), request was in partition %d", key, m.Partition, headers, wantPart)
			}
			if headers["type"] != "ecard.register" {
				t.Errorf("reply for %s has headers %v, want type=ecard.register", key, headers)
			}
			if want := murmur2Partition(m.Key, partitions); int32(m.Partition) != want {
				t.Errorf("reply for %s in partition %d, murmur2 says %d", key, m.Partition, want)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(reqPartition) != n {
			t.Errorf("consumer saw %d distinct requests, want %d", len(reqPartition), n)
		}
	})
}
