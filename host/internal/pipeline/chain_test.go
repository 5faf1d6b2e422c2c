package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/testenv"
)

// gatedPub holds the publication of chosen replies: each Send of a held
// reply takes one outcome from its channel (an error: the Send fails; nil
// or a closed channel: it goes through), or fails when ctx ends. It
// records every reply Send tried, in order.
type gatedPub struct {
	memPub
	gmu   sync.Mutex
	hold  map[string]chan error // by request id
	tried []string              // request ids of the reply Sends, as they were tried
}

func (p *gatedPub) Send(ctx context.Context, topic string, key, value []byte, h map[string]string) error {
	if topic == "replies" {
		var r message.Reply
		_ = json.Unmarshal(value, &r)
		p.gmu.Lock()
		p.tried = append(p.tried, r.RequestID)
		ch := p.hold[r.RequestID]
		p.gmu.Unlock()
		if ch != nil {
			select {
			case err := <-ch:
				if err != nil {
					return err
				}
			case <-ctx.Done():
				return fmt.Errorf("send to topic %s: outcome unknown: %w", topic, ctx.Err())
			}
		}
	}
	return p.memPub.Send(ctx, topic, key, value, h)
}

// asyncGatedPub is gatedPub as an AsyncPublisher, as bus.Producer is:
// SendAsync sends in the background and calls done with the outcome, and
// ignores ctx once the record is handed over (so the pipeline must end a
// publication whose delivery's ctx ended by itself). It counts the
// records handed over through SendAsync.
type asyncGatedPub struct {
	*gatedPub
	async atomic.Int64
}

func (p *asyncGatedPub) SendAsync(ctx context.Context, topic string, key, value []byte, h map[string]string, done func(error)) {
	p.async.Add(1)
	go func() { done(p.gatedPub.Send(context.WithoutCancel(ctx), topic, key, value, h)) }()
}

// pubModes are the two kinds of publisher the chain tests run with: one
// whose Send waits for the acknowledgement, and one that also calls back
// (AsyncPublisher, as the daemon's bus.Producer).
var pubModes = []string{"send", "callback"}

// eachChainCase runs test as a subtest for every broker of chainBackends
// with every kind of publisher of pubModes.
func eachChainCase(t *testing.T, test func(t *testing.T, brokers func(t *testing.T) []string, mode string)) {
	for name, brokers := range chainBackends {
		for _, mode := range pubModes {
			t.Run(name+"/"+mode, func(t *testing.T) { test(t, brokers, mode) })
		}
	}
}

// callbacks switches the rig to an AsyncPublisher over the same gates
// when mode is "callback"; it returns nil otherwise.
func (r *chainRig) callbacks(mode string) *asyncGatedPub {
	if mode != "callback" {
		return nil
	}
	a := &asyncGatedPub{gatedPub: r.pub}
	r.p.pub = a
	return a
}

// checkCallbacks fails the test when the rig has an AsyncPublisher and
// fewer than n records went through its SendAsync.
func checkCallbacks(t *testing.T, a *asyncGatedPub, n int64) {
	t.Helper()
	if a != nil && a.async.Load() < n {
		t.Errorf("%d records handed over through SendAsync, want at least %d: the replies of consumer deliveries should not wait in a goroutine each", a.async.Load(), n)
	}
}

func (p *gatedPub) triedIDs() []string {
	p.gmu.Lock()
	defer p.gmu.Unlock()
	return slices.Clone(p.tried)
}

// repliedIDs lists the request ids of the replies published, in order.
func repliedIDs(t *testing.T, p *memPub) []string {
	t.Helper()
	var ids []string
	for _, s := range p.on("replies") {
		var r message.Reply
		if err := json.Unmarshal(s.value, &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.RequestID)
	}
	return ids
}

// chainBackends are the brokers the chain tests run against: the
// embedded broker's kfake and a real Apache Kafka.
var chainBackends = map[string]func(t *testing.T) []string{
	"kfake": func(t *testing.T) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatalf("start kfake: %v", err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	},
	"kafka": func(t *testing.T) []string { return testenv.Kafka(t) },
}

// chainRig is a processor fed by a real consumer from a one-partition
// request topic.
type chainRig struct {
	t     *testing.T
	p     *Processor
	st    store.Store
	pub   *gatedPub
	cfg   bus.Config
	topic string
	mu    sync.Mutex
	calls map[string]int // plugin calls by message id
}

func newChainRig(t *testing.T, brokers []string, held ...string) *chainRig {
	t.Helper()
	r := &chainRig{t: t, calls: map[string]int{}}
	h := ctxHandler(func(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		r.mu.Lock()
		r.calls[req.MessageID]++
		r.mu.Unlock()
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"id":"` + req.MessageID + `"}`)}, nil
	})
	r.p, _, r.st = newProc(t, h, false)
	r.pub = &gatedPub{hold: map[string]chan error{}}
	for _, id := range held {
		r.pub.hold[id] = make(chan error)
	}
	r.p.pub = r.pub
	// A reply held at a stop waits for the end of the release grace.
	r.cfg = bus.Config{Brokers: brokers, ClientID: "pipeline-test", GroupID: "g-" + newID(), ReleaseGrace: 2 * time.Second}
	r.topic = "requests-" + newID()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := bus.EnsureTopics(ctx, r.cfg, []string{r.topic}, 1, 1); err != nil {
		t.Fatal(err)
	}
	return r
}

// send queues requests, each "id" or "id@key" (default key K).
func (r *chainRig) send(reqs ...string) {
	r.t.Helper()
	prod, err := bus.NewProducer(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	defer prod.Close()
	for _, q := range reqs {
		id, key := q, "K"
		if i := len(q) - 2; i > 0 && q[i] == '@' {
			id, key = q[:i], q[i+1:]
		}
		if err := prod.Send(r.t.Context(), r.topic, []byte(key), msg(id, "x.do"), nil); err != nil {
			r.t.Fatal(err)
		}
	}
}

// consume starts a consumer whose handler is Process; stop stops it and
// waits for Run.
func (r *chainRig) consume() (stop func()) {
	c, err := bus.NewConsumer(r.cfg, []string{r.topic}, func(ctx context.Context, m *bus.Message) error {
		_, err := r.p.Process(ctx, Input{Value: m.Value, Key: string(m.Key)})
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					r.t.Errorf("Run: %v", err)
				}
			case <-time.After(time.Minute):
				r.t.Fatal("Consumer.Run did not return within a minute of cancel")
			}
		})
	}
	r.t.Cleanup(stop)
	return stop
}

func (r *chainRig) callsOf(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

func (r *chainRig) done(id string) bool {
	m, err := r.st.GetMessage(r.t.Context(), id)
	return err == nil && m != nil && m.Status == store.StatusDone
}

// committed is the group's committed offset of partition 0 (-1: none).
func (r *chainRig) committed() int64 {
	r.t.Helper()
	sc := sarama.NewConfig()
	admin, err := sarama.NewClusterAdmin(r.cfg.Brokers, sc)
	if err != nil {
		r.t.Fatalf("NewClusterAdmin: %v", err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(r.cfg.GroupID, map[string][]int32{r.topic: {0}})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return -1
	}
	if err != nil {
		r.t.Fatalf("ListConsumerGroupOffsets: %v", err)
	}
	if b := resp.GetBlock(r.topic, 0); b != nil && errors.Is(b.Err, sarama.ErrNoError) {
		return b.Offset
	}
	return -1
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 60s waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNextMessageOverlapsTheReplyAcknowledgement: while the reply of a
// key's message m1 is not acknowledged, the key's next message m2 is
// processed (its outcome stored) but its reply is not handed to Kafka,
// m3 waits, other keys go on, and no offset is committed past m1. When
// m1's reply fails, it is published again first; then every reply goes
// out in the key's order and the offsets are committed.
func TestNextMessageOverlapsTheReplyAcknowledgement(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs Kafka brokers")
	}
	eachChainCase(t, testNextMessageOverlaps)
}

// testNextMessageOverlaps is TestNextMessageOverlapsTheReplyAcknowledgement
// with one broker and one kind of publisher (pubModes).
func testNextMessageOverlaps(t *testing.T, brokers func(t *testing.T) []string, mode string) {
	r := newChainRig(t, brokers(t), "m1")
	async := r.callbacks(mode)
	r.send("m1", "m2", "m3", "n1@L")
	r.consume()
	waitFor(t, "m2 stored and n1 (another key) replied while m1's reply is held", func() bool {
		return r.done("m2") && slices.Contains(repliedIDs(t, &r.pub.memPub), "n1")
	})
	// A commit follows the mark of a finished offset at once: a
	// second is ample for a wrong one to show.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if at := r.committed(); at > 0 {
			t.Fatalf("offset %d committed while the reply of offset 0 (m1) is not acknowledged", at)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tried := r.pub.triedIDs(); slices.Contains(tried, "m2") || slices.Contains(tried, "m3") {
		t.Fatalf("replies tried %v: m2 or m3 handed to Kafka before m1's reply was acknowledged", tried)
	}
	if n := r.callsOf("m3"); n != 0 {
		t.Fatalf("m3 reached the plugin while m1's reply was unacknowledged and m2's waited (%d calls): more than one reply in flight per key", n)
	}
	// m1's reply fails once, then goes through when tried again.
	r.pub.hold["m1"] <- errors.New("kafka: broker not available")
	close(r.pub.hold["m1"])
	waitFor(t, "the four replies", func() bool { return len(repliedIDs(t, &r.pub.memPub)) == 4 })
	got := slices.DeleteFunc(repliedIDs(t, &r.pub.memPub), func(id string) bool { return id == "n1" })
	if !slices.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Fatalf("key K replied %v, want m1 m2 m3", got)
	}
	tried := slices.DeleteFunc(r.pub.triedIDs(), func(id string) bool { return id == "n1" })
	if !slices.Equal(tried, []string{"m1", "m1", "m2", "m3"}) {
		t.Errorf("key K's replies tried in the order %v, want m1 (failed), m1, m2, m3", tried)
	}
	for _, id := range []string{"m1", "m2", "m3", "n1"} {
		if n := r.callsOf(id); n != 1 {
			t.Errorf("%s reached the plugin %d times, want once", id, n)
		}
	}
	waitFor(t, "offset 4 committed", func() bool { return r.committed() == 4 })
	checkCallbacks(t, async, 4)
}

// TestUnacknowledgedRepliesRedeliveredInOrder: the consumer stops while a
// key's reply (m1) is not acknowledged and the next message (m2) is
// stored. Nothing is committed and m2's reply is never published before
// m1's; the next consumer publishes the stored replies of m1 and m2, then
// m3's, in order, calling the plugin for m3 only.
func TestUnacknowledgedRepliesRedeliveredInOrder(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs Kafka brokers")
	}
	eachChainCase(t, testUnacknowledgedReplies)
}

// testUnacknowledgedReplies is TestUnacknowledgedRepliesRedeliveredInOrder
// with one broker and one kind of publisher (pubModes).
func testUnacknowledgedReplies(t *testing.T, brokers func(t *testing.T) []string, mode string) {
	r := newChainRig(t, brokers(t), "m1")
	async := r.callbacks(mode)
	r.send("m1", "m2", "m3")
	stop := r.consume()
	waitFor(t, "m2 stored while m1's reply is held", func() bool { return r.done("m2") })
	stop()
	if at := r.committed(); at > 0 {
		t.Fatalf("offset %d committed, but m1's reply was never acknowledged", at)
	}
	if got := repliedIDs(t, &r.pub.memPub); len(got) != 0 {
		t.Fatalf("replies %v published before m1's was acknowledged", got)
	}
	close(r.pub.hold["m1"])
	if async != nil {
		// The record handed over before the stop is written late,
		// as a producer's may be: once, before the redelivery's.
		waitFor(t, "m1's late reply", func() bool { return len(repliedIDs(t, &r.pub.memPub)) == 1 })
	}
	r.consume()
	waitFor(t, "offset 3 committed", func() bool { return r.committed() == 3 })
	got := repliedIDs(t, &r.pub.memPub)
	if async != nil {
		got = slices.Compact(got)
	}
	if !slices.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Fatalf("replies %v, want m1 m2 m3", got)
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		if n := r.callsOf(id); n != 1 {
			t.Errorf("%s reached the plugin %d times, want once (m1 and m2 replay their stored replies)", id, n)
		}
	}
	checkCallbacks(t, async, 3)
}

// TestChains: each publication of a key waits for the one before it and
// sees its outcome; keys do not wait for each other; a message without a
// usable key joins no chain; nothing is kept once every publication ended.
func TestChains(t *testing.T) {
	t.Parallel()
	var c chains
	if prev, self := c.join(""); prev != nil || self != nil {
		t.Fatal(`join("") joined a chain`)
	}
	p1, a1 := c.join("a")
	p2, a2 := c.join("a")
	p3, b1 := c.join("b")
	if p1 != nil || p3 != nil {
		t.Fatal("the first publication of a key waits for something")
	}
	if p2 != a1 {
		t.Fatal("the second publication of key a does not wait for the first")
	}
	select {
	case <-p2.done:
		t.Fatal("the first publication counts as ended before end")
	default:
	}
	failed := errors.New("not acknowledged")
	c.end("a", a1, failed)
	<-p2.done
	if !errors.Is(p2.err, failed) {
		t.Fatalf("the next publication sees %v, want the failure", p2.err)
	}
	c.end("b", b1, nil)
	c.end("a", a2, nil)
	c.end("a", nil, nil) // no chain: nothing to do
	if n := len(c.m); n != 0 {
		t.Fatalf("%d chains kept after every publication ended", n)
	}
}
