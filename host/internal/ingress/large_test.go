package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// handlerFunc plays a plugin.
type handlerFunc func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error)

func (f handlerFunc) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return f(ctx, req)
}

// outputs takes the replies and DLQ records of the pipelines, and counts
// the replies published per request id.
type outputs struct {
	mu      sync.Mutex
	replies map[string]int
	// down, when set, fails every send, as Kafka unavailable.
	down atomic.Bool
}

func (o *outputs) Send(_ context.Context, topic string, _, value []byte, _ map[string]string) error {
	if o.down.Load() {
		return errors.New("kafka: no broker reachable")
	}
	if topic != "replies" {
		return nil
	}
	var r message.Reply
	if err := json.Unmarshal(value, &r); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.replies == nil {
		o.replies = map[string]int{}
	}
	o.replies[r.RequestID]++
	return nil
}

// published is how many replies to request id were published.
func (o *outputs) published(id string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.replies[id]
}

// cluster is a Kafka broker with a request topic and a store, shared by
// the instances of a test.
type cluster struct {
	t     *testing.T
	cfg   bus.Config
	topic string
	st    store.Store
	prod  *bus.Producer
	// out takes what the instances' pipelines publish; delivered counts
	// the request records their consumers finished.
	out       outputs
	delivered atomic.Int64
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(kc.Close)
	c := &cluster{t: t, cfg: bus.Config{Brokers: kc.ListenAddrs(), ClientID: "ingress-test", GroupID: "medgate"}, topic: "requests"}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := bus.EnsureTopics(ctx, c.cfg, []string{c.topic}, 1, 1); err != nil {
		t.Fatal(err)
	}
	if c.prod, err = bus.NewProducer(c.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.prod.Close() })
	if c.st, err = store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.st.Close() })
	return c
}

// instance is one medgate instance: its ingress, its pipeline with plugin
// h, and its consumer of the request topic, handling deliveries as the
// daemon does (Taken, Process, Done). kill stops the consumer, ending the
// processing under way without finishing it.
func (c *cluster) instance(h pipeline.Handler) (g *Ingress, kill func()) {
	t := c.t
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	g = New(Options{Store: c.st, Publisher: c.prod, Topic: c.topic, MaxPayloadBytes: 2 << 20, Logger: log})
	p, err := pipeline.New(pipeline.Options{Store: c.st, Publisher: &c.out, Topics: pipeline.Topics{Replies: "replies", DLQ: "dlq"}, Logger: log,
		MaxPayloadBytes: 2 << 20, MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		CallTimeout: time.Minute, UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute, Stored: g.Done})
	if err != nil {
		t.Fatal(err)
	}
	p.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
	g.proc = p
	cons, err := bus.NewConsumer(c.cfg, []string{c.topic}, func(ctx context.Context, m *bus.Message) error {
		if id := m.Headers[message.HeaderRequestID]; id != "" {
			g.Taken(id)
		}
		r, err := p.Process(ctx, pipeline.Input{Value: m.Value, Key: string(m.Key), TraceID: m.Headers[message.HeaderTraceID]})
		if err != nil {
			return err
		}
		if m.Headers[pipeline.HeaderStoredRequest] == "" {
			g.Done(r, m.Value)
		}
		c.delivered.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	var once sync.Once
	kill = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("consumer: %v", err)
				}
			case <-time.After(time.Minute):
				t.Error("the consumer did not stop within a minute")
			}
		})
	}
	t.Cleanup(kill)
	return g, kill
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("after %s: %s", d, what)
		case <-tick.C:
		}
	}
}

// TestTooLargeForKafkaReceiverDies: a request too large for a Kafka
// record, whose receiving instance dies while the plugin handles it, is
// still finished, once, by another instance, reconciled first (Recovering)
// since the first call's outcome is unknown. It used to be processed by
// the receiving instance alone, outside Kafka, and left pending for ever.
func TestTooLargeForKafkaReceiverDies(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const id = "big-1"
	value := []byte(`{"id":"` + id + `","site":"s1","type":"x.do","payload":{"blob":"` + strings.Repeat("a", bus.MaxRecordBytes+1000) + `"}}`)

	// Instance A receives the request; its plugin call never ends before
	// the instance does.
	calledA := make(chan struct{})
	var callsA atomic.Int64
	gA, killA := c.instance(handlerFunc(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		if callsA.Add(1) == 1 {
			close(calledA)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	clientCtx, clientGone := context.WithCancel(t.Context())
	answered := make(chan error, 1)
	go func() {
		_, err := gA.Process(clientCtx, pipeline.Input{Value: value, Key: "K1"})
		answered <- err
	}()
	select {
	case <-calledA:
	case err := <-answered:
		t.Fatalf("the request was answered before any plugin call: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the plugin of the receiving instance was not called within a minute")
	}
	// Instance A dies mid-call, and its client with it.
	killA()
	clientGone()
	<-answered

	var callsB atomic.Int64
	var recovering atomic.Bool
	c.instance(handlerFunc(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		callsB.Add(1)
		recovering.Store(req.Recovering)
		if len(req.Payload) < bus.MaxRecordBytes {
			return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: []sdk.Diagnostic{{Summary: "payload cut"}}}, nil
		}
		return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
	}))
	waitFor(t, 30*time.Second, "the message was never finished after its receiving instance died", func() bool {
		m, err := c.st.GetMessage(t.Context(), id)
		return err == nil && m.Status == store.StatusDone
	})
	m, err := c.st.GetMessage(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Outcome != message.StatusOK || callsA.Load() != 1 || callsB.Load() != 1 || !recovering.Load() {
		t.Errorf("outcome %q, calls %d at the dead instance and %d after (recovering %v); want ok, 1 and 1, recovering",
			m.Outcome, callsA.Load(), callsB.Load(), recovering.Load())
	}
}

// diesAtReference is a request topic whose instance dies as it is about
// to queue a reference (pipeline.HeaderStoredRequest): nothing is written.
type diesAtReference struct {
	pipeline.Publisher
	died chan struct{}
}

func (p diesAtReference) Send(ctx context.Context, topic string, key, value []byte, h map[string]string) error {
	if h[pipeline.HeaderStoredRequest] != "" {
		close(p.died)
		<-ctx.Done()
		return ctx.Err()
	}
	return p.Publisher.Send(ctx, topic, key, value, h)
}

// TestTooLargeForKafkaDiesBeforeQueued: a request too large for a Kafka
// record, whose receiving instance dies after recording it and before
// queueing the reference to it, is queued again by another instance's
// Requeue and finished there, once.
func TestTooLargeForKafkaDiesBeforeQueued(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const id = "big-2"
	value := []byte(`{"id":"` + id + `","site":"s1","type":"x.do","payload":{"blob":"` + strings.Repeat("a", bus.MaxRecordBytes+1000) + `"}}`)
	gA, killA := c.instance(handlerFunc(func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		t.Error("the dead instance handled the message")
		return nil, errors.New("dead")
	}))
	died := make(chan struct{})
	gA.pub = diesAtReference{Publisher: c.prod, died: died}
	clientCtx, clientGone := context.WithCancel(t.Context())
	answered := make(chan error, 1)
	go func() {
		_, err := gA.Process(clientCtx, pipeline.Input{Value: value, Key: "K2"})
		answered <- err
	}()
	select {
	case <-died:
	case <-time.After(time.Minute):
		t.Fatal("the receiving instance did not try to queue a reference within a minute")
	}
	killA()
	clientGone()
	<-answered

	var calls atomic.Int64
	gB, _ := c.instance(handlerFunc(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		calls.Add(1)
		return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
	}))
	// A record younger than the cutoff is left alone: its reference may
	// be on its way.
	if n, err := gB.Requeue(t.Context(), time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Fatalf("Requeue before a recent record: %d, %v; want 0, nil", n, err)
	}
	if n, err := gB.Requeue(t.Context(), time.Now().Add(time.Second)); n != 1 || err != nil {
		t.Fatalf("Requeue: %d, %v; want 1, nil", n, err)
	}
	waitFor(t, 30*time.Second, "the requeued message was never finished", func() bool {
		m, err := c.st.GetMessage(t.Context(), id)
		return err == nil && m.Status == store.StatusDone
	})
	// Finished, it is not queued again.
	if n, err := gB.Requeue(t.Context(), time.Now().Add(time.Second)); n != 0 || err != nil {
		t.Errorf("Requeue after the message finished: %d, %v; want 0, nil", n, err)
	}
	if m, err := c.st.GetMessage(t.Context(), id); err != nil || m.Outcome != message.StatusOK || calls.Load() != 1 {
		t.Errorf("outcome %+v (%v), plugin calls %d; want ok and 1", m, err, calls.Load())
	}
}

// refTopic is the request topic as a receiving instance sees it: a
// reference (pipeline.HeaderStoredRequest) is refused with refuse when
// set (Kafka unavailable), else written, and acked is called once Kafka
// acknowledged it.
type refTopic struct {
	pipeline.Publisher
	refuse error
	acked  func()
}

func (p refTopic) Send(ctx context.Context, topic string, key, value []byte, h map[string]string) error {
	if h[pipeline.HeaderStoredRequest] == "" {
		return p.Publisher.Send(ctx, topic, key, value, h)
	}
	if p.refuse != nil {
		return p.refuse
	}
	err := p.Publisher.Send(ctx, topic, key, value, h)
	if err == nil && p.acked != nil {
		p.acked()
	}
	return err
}

// receiver is an instance's ingress without its consumer: what it queues
// waits on the topic, as behind its key's earlier messages.
func (c *cluster) receiver(pub pipeline.Publisher) *Ingress {
	return New(Options{Store: c.st, Publisher: pub, Topic: c.topic, MaxPayloadBytes: 2 << 20, Logger: slog.New(slog.DiscardHandler)})
}

// TestTooLargeForKafkaReferenceQueuedOnce: a reference Kafka acknowledged
// is never queued again, by any instance, however long it waits on the
// topic (behind its key's earlier messages: an upload retried for half an
// hour); queued again, it cost a second delivery that published the
// stored reply twice. Requeue used to remember only the references it
// queued itself, at its own instance. A record whose reference never
// reached Kafka is queued again, once: the instance that queued it
// marks it for every other one.
func TestTooLargeForKafkaReferenceQueuedOnce(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		refused bool // Kafka refuses the receiving instance's reference
		// want is what Requeue queues at two other instances in turn,
		// then at the receiving one (Kafka back), with the clock long
		// past RequeueAfter.
		want [3]int
	}{
		"reference acknowledged, waiting on the topic": {want: [3]int{0, 0, 0}},
		"reference never reached Kafka":                {refused: true, want: [3]int{1, 0, 0}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			id := "big-" + strings.ReplaceAll(name, " ", "-")
			value := []byte(`{"id":"` + id + `","site":"s1","type":"x.do","payload":{"blob":"` + strings.Repeat("a", bus.MaxRecordBytes+1000) + `"}}`)
			// The client leaves once the reference is on the topic: no
			// instance consumes it yet.
			clientCtx, clientGone := context.WithCancel(t.Context())
			defer clientGone()
			pubA := refTopic{Publisher: c.prod, acked: clientGone}
			if tc.refused {
				pubA.refuse = errors.New("kafka: no broker reachable")
			}
			gA := c.receiver(pubA)
			if _, err := gA.Process(clientCtx, pipeline.Input{Value: value, Key: "K"}); err == nil || !strings.Contains(err.Error(), "will be completed") {
				t.Fatalf("Process: %v; want the message recorded and to be completed", err)
			}
			m, err := c.st.GetMessage(t.Context(), id)
			if err != nil || m.Status != store.StatusPending || m.Attempts != 0 {
				t.Fatalf("the recorded request: %+v, %v; want it pending, no attempt made", m, err)
			}
			// The reference waits (or was never written) long past
			// RequeueAfter.
			later := time.Now().Add(time.Hour)
			gA.pub = c.prod
			for i, g := range []*Ingress{c.receiver(c.prod), c.receiver(c.prod), gA} {
				if n, err := g.Requeue(t.Context(), later); n != tc.want[i] || err != nil {
					t.Errorf("Requeue at %s: %d, %v; want %d, nil", []string{"another instance", "a third instance", "the receiving instance"}[i], n, err, tc.want[i])
				}
			}

			// An instance consumes: the message is finished, once.
			var calls atomic.Int64
			c.instance(handlerFunc(func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
				calls.Add(1)
				return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
			}))
			waitFor(t, 30*time.Second, "the message was never finished", func() bool {
				m, err := c.st.GetMessage(t.Context(), id)
				return err == nil && m.Status == store.StatusDone
			})
			if n, err := c.receiver(c.prod).Requeue(t.Context(), later); n != 0 || err != nil {
				t.Errorf("Requeue after the message finished: %d, %v; want 0, nil", n, err)
			}
			if marks, err := c.st.StateScan(t.Context(), queuedNS, "", 0); len(marks) != 0 || err != nil {
				t.Errorf("marks left once the message finished: %+v, %v; want none", marks, err)
			}
			if calls.Load() != 1 {
				t.Errorf("plugin calls: %d, want 1", calls.Load())
			}
		})
	}
}

// acksThenDies is a request topic whose instance dies once Kafka
// acknowledged a reference (pipeline.HeaderStoredRequest), before it can
// note that in the store (markQueued).
type acksThenDies struct {
	pipeline.Publisher
	died chan struct{}
}

func (p acksThenDies) Send(ctx context.Context, topic string, key, value []byte, h map[string]string) error {
	err := p.Publisher.Send(ctx, topic, key, value, h)
	if err != nil || h[pipeline.HeaderStoredRequest] == "" {
		return err
	}
	close(p.died)
	<-ctx.Done()
	return ctx.Err()
}

// TestTooLargeForKafkaDiesBetweenAckAndMark: an instance that dies after
// Kafka acknowledged the reference to a recorded request and before it
// marked it leaves the store unable to tell that reference from one never
// written, so Requeue queues a second one (it must: the first may have
// been lost). The message is still processed once, and now its reply is
// published once too: the second reference, delivered after the first
// finished the message, used to publish the stored reply again.
func TestTooLargeForKafkaDiesBetweenAckAndMark(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const id = "big-ack-mark"
	value := []byte(`{"id":"` + id + `","site":"s1","type":"x.do","payload":{"blob":"` + strings.Repeat("a", bus.MaxRecordBytes+1000) + `"}}`)
	died := make(chan struct{})
	gA := c.receiver(acksThenDies{Publisher: c.prod, died: died})
	clientCtx, clientGone := context.WithCancel(t.Context())
	answered := make(chan error, 1)
	go func() {
		_, err := gA.Process(clientCtx, pipeline.Input{Value: value, Key: "K"})
		answered <- err
	}()
	select {
	case <-died:
	case <-time.After(time.Minute):
		t.Fatal("the receiving instance did not queue a reference within a minute")
	}
	clientGone()
	<-answered
	if marks, err := c.st.StateScan(t.Context(), queuedNS, "", 0); len(marks) != 0 || err != nil {
		t.Fatalf("marks after the instance died before marking: %+v, %v; want none", marks, err)
	}

	// The reference waits on the topic long past RequeueAfter: another
	// instance cannot tell it is there, and queues one again.
	if n, err := c.receiver(c.prod).Requeue(t.Context(), time.Now().Add(time.Hour)); n != 1 || err != nil {
		t.Fatalf("Requeue: %d, %v; want 1, nil", n, err)
	}

	var calls atomic.Int64
	c.instance(handlerFunc(func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		calls.Add(1)
		return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
	}))
	waitFor(t, 30*time.Second, "both references were not delivered", func() bool { return c.delivered.Load() == 2 })
	if m, err := c.st.GetMessage(t.Context(), id); err != nil || m.Status != store.StatusDone || m.Outcome != message.StatusOK {
		t.Fatalf("the message: %+v, %v; want it done, ok", m, err)
	}
	if calls.Load() != 1 {
		t.Errorf("plugin calls: %d, want 1", calls.Load())
	}
	if n := c.out.published(id); n != 1 {
		t.Errorf("replies published: %d, want 1", n)
	}
	// The note of the reference that took the message up is kept for
	// pipeline.ReferenceTakersKept, then dropped.
	if n, err := c.receiver(c.prod).Requeue(t.Context(), time.Now().Add(time.Hour)); n != 0 || err != nil {
		t.Errorf("Requeue after the message finished: %d, %v; want 0, nil", n, err)
	}
	if es, err := c.st.StateScan(t.Context(), pipeline.ReferenceTakersNS, "", 0); len(es) != 1 || err != nil {
		t.Errorf("notes of the references that took messages up: %d, %v; want 1, nil", len(es), err)
	}
	if err := pipeline.DropReferenceTakers(t.Context(), c.st, time.Now().Add(pipeline.ReferenceTakersKept)); err != nil {
		t.Fatal(err)
	}
	if es, err := c.st.StateScan(t.Context(), pipeline.ReferenceTakersNS, "", 0); len(es) != 0 || err != nil {
		t.Errorf("notes left once older than ReferenceTakersKept: %d, %v; want none", len(es), err)
	}
}

// TestTooLargeForKafkaReplyPublishedOnRedelivery: the delivery of a
// reference that finished its message, redelivered because its reply was
// not published (the instance died first), publishes the stored reply:
// only another reference to the finished message publishes nothing.
func TestTooLargeForKafkaReplyPublishedOnRedelivery(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const id = "big-redelivered"
	value := []byte(`{"id":"` + id + `","site":"s1","type":"x.do","payload":{"blob":"` + strings.Repeat("a", bus.MaxRecordBytes+1000) + `"}}`)
	clientCtx, clientGone := context.WithCancel(t.Context())
	defer clientGone()
	if _, err := c.receiver(refTopic{Publisher: c.prod, acked: clientGone}).Process(clientCtx, pipeline.Input{Value: value, Key: "K"}); err == nil {
		t.Fatal("Process answered a request no instance consumes")
	}

	// Instance A finishes the message, but cannot publish its reply, and
	// dies.
	c.out.down.Store(true)
	var calls atomic.Int64
	ok := handlerFunc(func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		calls.Add(1)
		return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
	})
	_, killA := c.instance(ok)
	waitFor(t, 30*time.Second, "the message was never finished", func() bool {
		m, err := c.st.GetMessage(t.Context(), id)
		return err == nil && m.Status == store.StatusDone
	})
	killA()
	c.out.down.Store(false)

	// Instance B gets the reference again: the stored reply goes out.
	c.instance(ok)
	waitFor(t, 30*time.Second, "the reply of the redelivered reference was never published", func() bool { return c.out.published(id) == 1 })
	if calls.Load() != 1 {
		t.Errorf("plugin calls: %d, want 1", calls.Load())
	}
}

// TestTooLargeForKafkaAskedAgainUnderAnotherKey: a client whose request,
// too large for Kafka, was recorded while Kafka was down sends it again
// under another key (or none): the reference goes under the key the
// record was begun with, so the message is finished. It used to go under
// the new key, whose delivery the pipeline refuses (the id is pending
// under another key: rule id-in-use), and its mark kept Requeue from
// queueing one under the record's key: the message stayed pending for
// ever, its client waiting in vain.
func TestTooLargeForKafkaAskedAgainUnderAnotherKey(t *testing.T) {
	t.Parallel()
	for name, again := range map[string]string{"another key": "K2", "no key": ""} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			id := "big-rekeyed-" + strings.ReplaceAll(name, " ", "-")
			value := []byte(`{"id":"` + id + `","site":"s1","type":"x.do","payload":{"blob":"` + strings.Repeat("a", bus.MaxRecordBytes+1000) + `"}}`)
			down := c.receiver(refTopic{Publisher: c.prod, refuse: errors.New("kafka: no broker reachable")})
			if _, err := down.Process(t.Context(), pipeline.Input{Value: value, Key: "K1"}); err == nil || !strings.Contains(err.Error(), "will be completed") {
				t.Fatalf("Process with Kafka down: %v; want the message recorded and to be completed", err)
			}
			var calls atomic.Int64
			g, _ := c.instance(handlerFunc(func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
				calls.Add(1)
				return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
			}))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			r, err := g.Process(ctx, pipeline.Input{Value: value, Key: again})
			if err != nil || r.Status != message.StatusOK {
				t.Fatalf("asked again under key %q: %+v, %v; want the outcome, ok", again, r, err)
			}
			if m, err := c.st.GetMessage(t.Context(), id); err != nil || m.Status != store.StatusDone || m.Key != "K1" || calls.Load() != 1 {
				t.Errorf("the message: %+v, %v, plugin calls %d; want it done under K1, one call", m, err, calls.Load())
			}
		})
	}
}
