package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
)

// panicBackend is a backend whose Process panics with v (a bug of medgate).
type panicBackend struct {
	fakeBackend
	v any
}

func (b *panicBackend) Process(context.Context, pipeline.Input) (*message.Reply, error) { panic(b.v) }

// TestIngressTellsOutagesFromFaults checks the ingress's answer to each
// kind of processing error: a passing outage (Kafka unreachable, a leader
// moving, the store down, this instance shutting down) is 503 with
// Retry-After, naming what is down and saying to send the message again;
// anything else (a topic missing, a reply that cannot be encoded, a stored
// reply unreadable, a panic) is 500 without Retry-After, saying it is
// medgate's fault and to tell the administrator, with the message id.
// Neither shows the error's text (addresses, topics, SQLSTATEs, Go values).
func TestIngressTellsOutagesFromFaults(t *testing.T) {
	t.Parallel()
	const id = "m-42"
	queue := func(dep string, err error) error {
		return fmt.Errorf("queue message %q on medgate.requests: %w", id, &ingress.DependencyError{Dependency: dep, Err: err})
	}
	send := func(err error) error { return fmt.Errorf("send to topic medgate.requests: %w", err) }
	dial := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 9092}, Err: syscall.ECONNREFUSED}
	leaks := []string{"10.1.2.3", "9092", "medgate.requests", "SQLSTATE", "57P01", "NaN", "invalid character", "nil map", "goroutine", "kafka topic cannot be written"}

	cases := map[string]struct {
		err   error
		panic any
		// dependency: "" for a fault of medgate (500).
		dependency string
	}{
		"Kafka out of brokers":       {err: queue(ingress.Kafka, send(sarama.ErrOutOfBrokers)), dependency: "kafka"},
		"Kafka connection refused":   {err: queue(ingress.Kafka, send(dial)), dependency: "kafka"},
		"Kafka not enough replicas":  {err: queue(ingress.Kafka, send(sarama.ErrNotEnoughReplicas)), dependency: "kafka"},
		"Kafka request timed out":    {err: queue(ingress.Kafka, send(sarama.ErrRequestTimedOut)), dependency: "kafka"},
		"producer closed (shutdown)": {err: queue(ingress.Kafka, send(bus.ErrClosed)), dependency: "kafka"},
		"pipeline stopped":           {err: fmt.Errorf("answer message %q: %w", id, pipeline.ErrStopped), dependency: "medgate"},
		"store down":                 {err: queue(ingress.Store, fmt.Errorf("look up message %q: %w", id, &pgconn.PgError{Code: "57P01", Message: "terminating connection"})), dependency: "the store (PostgreSQL)"},
		"store unreachable":          {err: queue(ingress.Store, dial), dependency: "the store"},
		"store driver, unmarked":     {err: fmt.Errorf("pipeline: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection"}), dependency: "the store (PostgreSQL)"},

		"topic missing":        {err: queue(ingress.Kafka, send(fmt.Errorf("%w: %w", bus.ErrTopicUnusable, sarama.ErrUnknownTopicOrPartition)))},
		"record refused":       {err: queue(ingress.Kafka, send(fmt.Errorf("%w: %w", bus.ErrRecordRefused, sarama.ErrInvalidRecord)))},
		"Kafka unknown error":  {err: queue(ingress.Kafka, send(sarama.ErrSASLAuthenticationFailed))},
		"reply not encodable":  {err: errors.New("pipeline: encode reply: json: unsupported value: NaN")},
		"stored reply broken":  {err: fmt.Errorf(`stored reply of %q is unreadable: invalid character 'x'`, id)},
		"unmarked network":     {err: dial},
		"panic in processing":  {panic: "assignment to entry in nil map"},
		"store error, unknown": {err: queue(ingress.Store, errors.New("store: decrypt message: cipher: message authentication failed"))},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b Backend = &fakeBackend{down: tc.err}
			if tc.panic != nil {
				b = &panicBackend{v: tc.panic}
			}
			f := newFixture(t, b, Options{})
			code, h, body := f.do(t, req{"POST", "/v1/messages", `{"id":"` + id + `","site":"s1","type":"ledger.noop","payload":{}}`,
				map[string]string{"Content-Type": "application/json"}})
			var e struct{ Code, Message, Dependency string }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("HTTP %d %s: %v", code, body, err)
			}
			for _, l := range leaks {
				if strings.Contains(body, l) {
					t.Fatalf("the answer shows %q: %s", l, body)
				}
			}
			if tc.dependency == "" {
				if code != 500 || h.Get("Retry-After") != "" {
					t.Fatalf("HTTP %d, Retry-After %q: %s; want 500 without Retry-After", code, h.Get("Retry-After"), body)
				}
				if e.Code != "internal" || !strings.Contains(e.Message, `"`+id+`"`) || !strings.Contains(e.Message, "fault of medgate") ||
					!strings.Contains(e.Message, "administrator") || e.Dependency != "" {
					t.Fatalf("body %s; want code internal, saying it is a fault of medgate, to tell the administrator, with the id %s", body, id)
				}
				if !strings.Contains(f.logs.String(), id) {
					t.Fatalf("the fault was not logged with the id: %s", f.logs.String())
				}
				return
			}
			if code != 503 || h.Get("Retry-After") != "5" {
				t.Fatalf("HTTP %d, Retry-After %q: %s; want 503 with Retry-After 5", code, h.Get("Retry-After"), body)
			}
			if e.Code != "unavailable" || e.Dependency != tc.dependency || !strings.Contains(e.Message, "send it again with the same id") {
				t.Fatalf("body %s; want code unavailable, dependency %q and to send it again with the same id", body, tc.dependency)
			}
		})
	}
}

// replayBackend is a backend whose Replay fails with err.
type replayBackend struct {
	fakeBackend
	err error
}

func (b *replayBackend) Replay(context.Context, string) error { return b.err }

// TestReplayKafkaOutage checks that a replay Kafka did not take because it
// is passing unavailable (as the ingress marks a write to Kafka's) is
// answered 503 kafka_unavailable with Retry-After, dependency "kafka" and
// the body of the store's outages, without the error's text; and that a
// replay Kafka cannot take until an administrator acts (the topic
// missing) stays a 500.
func TestReplayKafkaOutage(t *testing.T) {
	t.Parallel()
	replay := func(err error) error {
		return fmt.Errorf("replay %q: put the request back on medgate.requests: %w; the message stays failed, replay it again once Kafka is back", "m1",
			&ingress.DependencyError{Dependency: ingress.Kafka, Err: fmt.Errorf("send to topic medgate.requests: %w", err)})
	}
	dial := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 9092}, Err: syscall.ECONNREFUSED}
	cases := map[string]struct {
		err  error
		code int
	}{
		"out of brokers":     {err: replay(sarama.ErrOutOfBrokers), code: 503},
		"connection refused": {err: replay(dial), code: 503},
		"leader moving":      {err: replay(sarama.ErrNotLeaderForPartition), code: 503},
		"topic missing":      {err: replay(fmt.Errorf("%w: %w", bus.ErrTopicUnusable, sarama.ErrUnknownTopicOrPartition)), code: 500},
		"unmarked network":   {err: fmt.Errorf("replay %q: %w", "m1", dial), code: 500},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, &replayBackend{fakeBackend: *okBackend(), err: tc.err}, Options{AdminToken: "tok"})
			code, h, body := f.do(t, req{"POST", "/admin/messages/m1/replay", "", map[string]string{"Authorization": "Bearer tok"}})
			for _, l := range []string{"10.1.2.3", "9092", "medgate.requests", "kafka topic cannot be written"} {
				if strings.Contains(body, l) {
					t.Fatalf("the answer shows %q: %s", l, body)
				}
			}
			if tc.code != 503 {
				if code != tc.code || h.Get("Retry-After") != "" {
					t.Fatalf("HTTP %d, Retry-After %q: %s; want %d without Retry-After", code, h.Get("Retry-After"), body, tc.code)
				}
				return
			}
			if code != 503 || h.Get("Retry-After") != "5" {
				t.Fatalf("HTTP %d, Retry-After %q: %s; want 503 with Retry-After 5", code, h.Get("Retry-After"), body)
			}
			var e struct{ Code, Message, Dependency string }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if e.Code != "kafka_unavailable" || e.Dependency != "kafka" || !strings.HasPrefix(e.Message, "kafka is unavailable") ||
				!strings.Contains(e.Message, "send the same request again") {
				t.Fatalf("body %s; want code kafka_unavailable, dependency kafka and a message saying it is down and to send the request again", body)
			}
			if !strings.Contains(f.logs.String(), "kafka unavailable") {
				t.Fatalf("the outage was not logged: %s", f.logs.String())
			}
		})
	}
}
