package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// plugin echoes the payload of the request it is handed.
type plugin struct{}

func (plugin) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: req.Payload}, nil
}

// requestTopic is the request topic as the ingress sees it: each record
// queued goes to queued, for the test to deliver.
type requestTopic struct{ queued chan *bus.Message }

func (q *requestTopic) Send(_ context.Context, topic string, key, value []byte, h map[string]string) error {
	q.queued <- &bus.Message{Topic: topic, Key: key, Value: value, Headers: h}
	return nil
}

// discard takes the replies and DLQ records.
type discard struct{}

func (discard) Send(context.Context, string, []byte, []byte, map[string]string) error { return nil }

// handOverDaemon is a daemon with its ingress, its pipeline (plugin x for
// site s1, x.do) and the hand-over between them as Start wires them; its
// request topic is returned for the test to deliver from, calling
// handleKafka as the consumer does.
func handOverDaemon(t *testing.T) (*Daemon, *requestTopic) {
	t.Helper()
	st, err := store.Open(t.Context(), store.DriverSQLite, filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := slog.New(slog.DiscardHandler)
	q := &requestTopic{queued: make(chan *bus.Message, 4)}
	d := &Daemon{log: log, store: st}
	d.ingress = ingress.New(ingress.Options{Store: st, Publisher: q, Topic: "requests", MaxPayloadBytes: 1 << 20, Logger: log})
	if d.proc, err = pipeline.New(pipeline.Options{Store: st, Publisher: discard{}, Topics: pipeline.Topics{Replies: "replies", DLQ: "dlq"}, Logger: log,
		MaxPayloadBytes: 1 << 20, MaxAttempts: 1, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		CallTimeout: time.Minute, UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute,
		Stored: d.handOver}); err != nil {
		t.Fatal(err)
	}
	d.proc.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"x": {Plugin: "x", Handler: plugin{}, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
	return d, q
}

// TestOutcomeOfAnotherPayloadNotHandedOver: an HTTP request waits on this
// instance while another message under its id, site and type but with
// another payload (from Kafka) is processed here first and recorded.
// That message's outcome is not the request's: its client would be told
// its message was processed (with the other payload's answer) when it
// was not. It gets the refusal of its own delivery, rule id-reused, as
// the pipeline and the store say, whichever reaches it first.
func TestOutcomeOfAnotherPayloadNotHandedOver(t *testing.T) {
	t.Parallel()
	d, q := handOverDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	mine := []byte(`{"id":"m1","site":"s1","type":"x.do","payload":{"patient":"mine"}}`)
	other := []byte(`{"id":"m1","site":"s1","type":"x.do","payload":{"patient":"another"}}`)
	type result struct {
		r   *message.Reply
		err error
	}
	got := make(chan result, 1)
	go func() {
		r, err := d.Process(ctx, pipeline.Input{Value: mine, Key: "k"})
		got <- result{r, err}
	}()
	var queued *bus.Message
	select {
	case queued = <-q.queued:
	case <-ctx.Done():
		t.Fatal("the HTTP request was not queued")
	}
	// The other message, ahead of it on the topic, is processed first.
	if err := d.handleKafka(ctx, &bus.Message{Topic: "requests", Key: []byte("k"), Value: other, Headers: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	// Then the request's own delivery.
	if err := d.handleKafka(ctx, queued); err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-got:
	case <-ctx.Done():
		t.Fatal("the HTTP request got no answer")
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.r.Status != message.StatusInvalid || len(res.r.Errors) != 1 || res.r.Errors[0].Rule != pipeline.RuleIDReused {
		payload, _ := json.Marshal(res.r.Payload)
		t.Fatalf("the request got %s with payload %s, errors %+v; want the refusal of rule %s, not the other payload's outcome", res.r.Status, payload, res.r.Errors, pipeline.RuleIDReused)
	}
}
