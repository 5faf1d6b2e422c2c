package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
)

// TestWaiters: a reply finished by this instance reaches every HTTP
// request waiting for its id that is the message it answers, and nobody
// else: not a request of another id, nor one of another payload under the
// id, which gets its own answer.
func TestWaiters(t *testing.T) {
	t.Parallel()
	va := []byte(`{"id":"a","site":"s1","type":"x.do","payload":{"n":1}}`)
	// The same message, spaced and ordered otherwise.
	vaAgain := []byte(`{"type":"x.do", "site":"s1", "id":"a", "payload":{"n":1.0}}`)
	vaOther := []byte(`{"id":"a","site":"s1","type":"x.do","payload":{"n":2}}`)
	vb := []byte(`{"id":"b","site":"s1","type":"x.do","payload":{"n":1}}`)
	var ws waiters
	a1, a2, other, b := ws.add("a", va), ws.add("a", vaAgain), ws.add("a", vaOther), ws.add("b", vb)
	ws.done(&message.Reply{ID: "r1", RequestID: "a"}, va)
	ws.done(&message.Reply{ID: "r1 again", RequestID: "a"}, va) // the consumer's handler, after the pipeline's hand-over
	ws.done(&message.Reply{ID: "unknown request", RequestID: "a"}, nil)
	ws.done(&message.Reply{ID: "refused", RequestID: "a"}, vaOther)
	for name, c := range map[string]struct {
		w    *waiter
		want string
	}{"a": {a1, "r1"}, "a again": {a2, "r1"}, "a with another payload": {other, "refused"}, "b": {b, ""}} {
		select {
		case r := <-c.w.c:
			if r.ID != c.want {
				t.Errorf("waiter %s got %s; want %q", name, r.ID, c.want)
			}
		default:
			if c.want != "" {
				t.Errorf("waiter %s got nothing; want %s", name, c.want)
			}
		}
	}
	ws.taken("b")
	if a1.here.Load() || a2.here.Load() || !b.here.Load() {
		t.Errorf("taken(b) marked a: %v %v, b: %v", a1.here.Load(), a2.here.Load(), b.here.Load())
	}
	ws.remove("a", a1)
	ws.remove("a", a2)
	ws.remove("a", other)
	ws.remove("b", b)
	ws.done(nil, va)
	if len(ws.m) != 0 {
		t.Errorf("waiters left behind: %v", ws.m)
	}
}

// countingStore counts the reads of outcomes.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (s *countingStore) GetMessage(ctx context.Context, id string) (*store.Message, error) {
	s.reads.Add(1)
	return s.Store.GetMessage(ctx, id)
}

// publisher is the request topic. With consume set it plays this
// instance's consumer as the pipeline does: a message whose outcome is
// stored gets the stored reply back, anything else is finished with a new
// one (calls counts those); both are handed to the waiting request.
type publisher struct {
	t       *testing.T
	st      store.Store
	g       *Ingress
	err     error
	consume bool
	// delay is how long the consumer takes after Taken.
	delay time.Duration
	sent  atomic.Int64
	calls atomic.Int64
	// readsBefore is how often the store was read before the first Send.
	readsBefore atomic.Int64
	reads       *atomic.Int64
	// hook, when set, runs in Send once the request is queued (after the
	// waiter is registered), in place of consume.
	hook func(key, value []byte)
	// limit, when set, refuses larger values as Kafka refuses records too
	// large (bus.ErrRecordRefused).
	limit int
	// last is the last record queued.
	last atomic.Pointer[record]
}

// record is a record queued on the request topic.
type record struct {
	key, value []byte
	headers    map[string]string
}

func (p *publisher) Send(ctx context.Context, topic string, key, value []byte, headers map[string]string) error {
	if p.err != nil {
		return p.err
	}
	if p.limit > 0 && len(value) > p.limit {
		return fmt.Errorf("%w: %d bytes, the limit is %d", bus.ErrRecordRefused, len(value), p.limit)
	}
	p.last.Store(&record{key, value, headers})
	if p.sent.Add(1) == 1 {
		p.readsBefore.Store(p.reads.Load())
	}
	if topic != "requests" || headers[message.HeaderIngress] != "http" {
		p.t.Errorf("queued on %s with headers %v", topic, headers)
	}
	if p.hook != nil {
		p.hook(key, value)
		return nil
	}
	if !p.consume {
		return nil
	}
	env, _ := message.Parse(value)
	if headers[message.HeaderRequestID] != env.ID {
		p.t.Errorf("queued %s with %s %q", env.ID, message.HeaderRequestID, headers[message.HeaderRequestID])
	}
	go func() {
		p.g.Taken(headers[message.HeaderRequestID])
		time.Sleep(p.delay) // the plugin's work
		existing, created, err := p.st.BeginMessage(context.Background(), store.Message{ID: env.ID, Site: env.Site, Type: env.Type, Key: string(key), Request: value, ReceivedAt: time.Now(), Attempts: 1})
		if err != nil {
			p.t.Error(err)
			return
		}
		if !created && existing.Status == store.StatusDone {
			var r message.Reply
			if err := json.Unmarshal(existing.Reply, &r); err != nil {
				p.t.Error(err)
			}
			p.g.Done(&r, value)
			return
		}
		p.calls.Add(1)
		r := &message.Reply{ID: "reply-" + env.ID, RequestID: env.ID, Site: env.Site, Type: env.Type, Status: message.StatusOK, CompletedAt: time.Now().UTC()}
		if err := finish(p.st, r); err != nil {
			p.t.Error(err)
		}
		p.g.Done(r, value)
	}()
	return nil
}

// finish stores r as the outcome of its message.
func finish(st store.Store, r *message.Reply) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return st.FinishMessage(context.Background(), r.RequestID, r.Status, data, 1)
}

// refusingProcessor fails the test if the ingress processes a queueable
// request itself.
type refusingProcessor struct{ t *testing.T }

func (p refusingProcessor) Process(context.Context, pipeline.Input) (*message.Reply, error) {
	p.t.Error("a queueable request was processed by the ingress itself")
	return nil, errors.New("not here")
}

func newIngress(t *testing.T, pub *publisher) (*Ingress, *countingStore) {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cs := &countingStore{Store: st}
	pub.t, pub.st, pub.reads = t, st, &cs.reads
	g := New(Options{Store: cs, Publisher: pub, Processor: refusingProcessor{t}, Topic: "requests", MaxPayloadBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	pub.g = g
	return g, cs
}

func request(id string) pipeline.Input {
	return pipeline.Input{Value: []byte(`{"id":"` + id + `","site":"s1","type":"ledger.noop","payload":{}}`)}
}

// TestQueuedWithoutReadingTheStore: a request is queued at once, without
// reading the store first (that read cost 13 % of the host's CPU per
// GYD051), and its reply is handed over by this instance's consumer.
func TestQueuedWithoutReadingTheStore(t *testing.T) {
	t.Parallel()
	pub := &publisher{consume: true}
	g, _ := newIngress(t, pub)
	r, err := g.Process(t.Context(), request("m1"))
	if err != nil || r.Status != message.StatusOK || r.RequestID != "m1" {
		t.Fatalf("got %+v, %v", r, err)
	}
	if n := pub.readsBefore.Load(); n != 0 {
		t.Errorf("the store was read %d times before the request was queued; want 0", n)
	}
	if pub.sent.Load() != 1 || pub.calls.Load() != 1 {
		t.Errorf("queued %d times, processed %d; want 1 and 1", pub.sent.Load(), pub.calls.Load())
	}
}

// TestFinishedMessageAskedAgain: a client asking again for a finished
// message gets the stored reply, through the request topic (ordered with
// its key), and nothing is processed again.
func TestFinishedMessageAskedAgain(t *testing.T) {
	t.Parallel()
	pub := &publisher{consume: true}
	g, _ := newIngress(t, pub)
	first, err := g.Process(t.Context(), request("m2"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := g.Process(t.Context(), request("m2"))
	if err != nil || again.ID != first.ID || again.Status != first.Status {
		t.Fatalf("asked again: %+v, %v; want the stored reply %+v", again, err, first)
	}
	if pub.calls.Load() != 1 {
		t.Errorf("processed %d times, want 1", pub.calls.Load())
	}
}

// TestKafkaDown: when Kafka does not take the request, a finished message
// is answered from the store, and any other fails with an error that
// names the message (the client sends it again later).
func TestKafkaDown(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	g, cs := newIngress(t, pub)
	stored := &message.Reply{ID: "r3", RequestID: "m3", Site: "s1", Type: "ledger.noop", Status: message.StatusOK}
	if _, _, err := cs.BeginMessage(t.Context(), store.Message{ID: "m3", Site: "s1", Type: "ledger.noop", Key: "m3", Request: request("m3").Value, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := finish(cs, stored); err != nil {
		t.Fatal(err)
	}
	pub.err = errors.New("kafka: no brokers")
	r, err := g.Process(t.Context(), request("m3"))
	if err != nil || r.ID != "r3" {
		t.Fatalf("finished message with Kafka down: %+v, %v; want the stored reply r3", r, err)
	}
	if _, err := g.Process(t.Context(), request("m4")); err == nil || !strings.Contains(err.Error(), `"m4"`) {
		t.Fatalf("unfinished message with Kafka down: %v; want an error naming m4", err)
	}
}

// TestAnsweredByAnotherInstance: a request another instance finishes is
// read from the shared store.
func TestAnsweredByAnotherInstance(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	g, cs := newIngress(t, pub)
	finishedElsewhere(t, g, pub, cs, "5", false)
}

// TestTakenHereNoPolling: while this instance's consumer processes the
// message (a slow one here), the waiting request does not read the store
// every few milliseconds: the reply comes from the consumer.
func TestTakenHereNoPolling(t *testing.T) {
	t.Parallel()
	pub := &publisher{consume: true, delay: 300 * time.Millisecond}
	g, cs := newIngress(t, pub)
	r, err := g.Process(t.Context(), request("m6"))
	if err != nil || r.RequestID != "m6" {
		t.Fatalf("got %+v, %v", r, err)
	}
	if n := cs.reads.Load(); n != 0 {
		t.Errorf("the store was read %d times while this instance processed the message; want 0", n)
	}
}

// TestTakenHereFinishedElsewhere: a message this instance's consumer took
// but another instance finished (the partition moved meanwhile) is still
// read from the store.
func TestTakenHereFinishedElsewhere(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	g, cs := newIngress(t, pub)
	finishedElsewhere(t, g, pub, cs, "7", true)
}

// finishedElsewhere has another instance finish message m<n> with reply
// r<n> once the ingress has queued it (after this instance's consumer took
// it, when taken), and checks that Process returns that reply from the
// shared store.
func finishedElsewhere(t *testing.T, g *Ingress, pub *publisher, cs *countingStore, n string, taken bool) {
	t.Helper()
	id := "m" + n
	go func() {
		for deadline := time.Now().Add(30 * time.Second); pub.sent.Load() == 0; runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Errorf("%s was not handed to Kafka within 30s", id)
				return
			}
		}
		if taken {
			g.Taken(id)
		}
		if _, _, err := cs.BeginMessage(context.Background(), store.Message{ID: id, Site: "s1", Type: "ledger.noop", Key: id, Request: request(id).Value, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
			t.Error(err)
		}
		if err := finish(cs, &message.Reply{ID: "r" + n, RequestID: id, Status: message.StatusOK}); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := g.Process(ctx, request(id))
	if err != nil || r.ID != "r"+n {
		t.Fatalf("got %+v, %v; want r%s from the store", r, err, n)
	}
}

// beginFailing is a store whose BeginMessage fails.
type beginFailing struct{ store.Store }

func (beginFailing) BeginMessage(context.Context, store.Message) (*store.Message, bool, error) {
	return nil, false, errors.New("database is locked")
}

// TestTooLargeForKafka: a request Kafka refuses as too large is recorded
// in the store before anything is queued or answered, and a reference to
// it is queued in its place (its outcome waited for as for any request);
// it is never processed by the ingress itself. When it cannot be
// recorded or referred to, the client is told it was not accepted; a
// finished message or another message under the id is answered from the
// store.
func TestTooLargeForKafka(t *testing.T) {
	t.Parallel()
	other := []byte(`{"id":"L5","site":"s1","type":"ledger.other","payload":{}}`)
	cases := map[string]struct {
		id        string
		consume   bool
		refuseAll bool           // the reference is refused too
		failBegin bool           // the store cannot record the request
		recorded  *store.Message // in the store before the request
		done      bool           // recorded is finished with reply "stored"
		wantErr   string
		wantReply string // reply id, or the rule of its first error
		wantSent  int64
		wantStat  string // the stored record's status afterwards ("": none)
	}{
		"queued by reference": {id: "L1", consume: true, wantReply: "reply-L1", wantSent: 1, wantStat: store.StatusDone},
		"store unavailable":   {id: "L2", failBegin: true, wantErr: "could not be recorded in the store to be queued by reference: database is locked; it was not accepted", wantSent: 0},
		"reference refused":   {id: "L3", refuseAll: true, wantErr: "recorded in the store and will be completed", wantSent: 0, wantStat: store.StatusPending},
		"finished already": {id: "L4", recorded: &store.Message{ID: "L4", Site: "s1", Type: "ledger.noop", Key: "L4", Request: request("L4").Value, Attempts: 1},
			done: true, wantReply: "stored", wantSent: 0, wantStat: store.StatusDone},
		"another message under the id": {id: "L5", recorded: &store.Message{ID: "L5", Site: "s1", Type: "ledger.other", Key: "L5", Request: other, Attempts: 1},
			wantReply: pipeline.RuleIDReused, wantSent: 0, wantStat: store.StatusPending},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := tc.id
			pub := &publisher{consume: tc.consume, limit: 200}
			g, cs := newIngress(t, pub)
			if tc.refuseAll {
				pub.err = fmt.Errorf("%w: message too large", bus.ErrRecordRefused)
			}
			if tc.failBegin {
				g.store = beginFailing{cs}
			}
			if tc.recorded != nil {
				if _, _, err := cs.BeginMessage(t.Context(), *tc.recorded); err != nil {
					t.Fatal(err)
				}
				if tc.done {
					if err := finish(cs, &message.Reply{ID: "stored", RequestID: id, Site: "s1", Type: "ledger.noop", Status: message.StatusOK}); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Too large for the topic, the same message as request(id).
			in := request(id)
			in.Value = append(in.Value[:len(in.Value)-1:len(in.Value)-1], strings.Repeat(" ", 300)+"}"...)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			r, err := g.Process(ctx, in)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `"`+id+`"`) {
					t.Errorf("got %+v, %v; want an error naming %s and saying %q", r, err, id, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("got %v, want reply %s", err, tc.wantReply)
			case r.ID != tc.wantReply && (len(r.Errors) == 0 || r.Errors[0].Rule != tc.wantReply):
				t.Errorf("got reply %+v, want %s", r, tc.wantReply)
			}
			if n := pub.sent.Load(); n != tc.wantSent {
				t.Errorf("%d records queued, want %d", n, tc.wantSent)
			}
			if tc.wantSent > 0 {
				rec := pub.last.Load()
				if rec == nil || rec.headers[pipeline.HeaderStoredRequest] != id || len(rec.value) > 200 || rec.headers[message.HeaderRequestID] != id {
					t.Errorf("queued %+v; want a reference to %s (header %s) with the request's headers", rec, id, pipeline.HeaderStoredRequest)
				}
			}
			m, err := cs.GetMessage(t.Context(), id)
			switch {
			case tc.wantStat == "":
				if err == nil {
					t.Errorf("the store holds %+v, want nothing", m)
				}
			case err != nil:
				t.Fatalf("stored record: %v", err)
			case m.Status != tc.wantStat:
				t.Errorf("stored status %q, want %q", m.Status, tc.wantStat)
			case tc.recorded == nil && !bytes.Equal(m.Request, in.Value):
				t.Errorf("the stored request is not the one received")
			}
		})
	}
}

// TestReplayKafkaDown: a replay Kafka does not take leaves the message
// failed, so it can be replayed again once Kafka is back, not pending
// for ever with nothing on the request topic to finish it.
func TestReplayKafkaDown(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	g, cs := newIngress(t, pub)
	if _, _, err := cs.BeginMessage(t.Context(), store.Message{ID: "m9", Site: "s1", Type: "ledger.noop", Key: "m9", Request: request("m9").Value, ReceivedAt: time.Now(), Attempts: 3}); err != nil {
		t.Fatal(err)
	}
	failed := &message.Reply{ID: "r9", RequestID: "m9", Site: "s1", Type: "ledger.noop", Status: message.StatusFailed}
	if err := finish(cs, failed); err != nil {
		t.Fatal(err)
	}
	pub.err = errors.New("kafka: no brokers")
	if err := g.Replay(t.Context(), "m9"); err == nil {
		t.Fatal("a replay Kafka did not take reported no error")
	}
	m, err := cs.GetMessage(t.Context(), "m9")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != store.StatusDone || m.Outcome != message.StatusFailed || !strings.Contains(string(m.Reply), `"r9"`) {
		t.Fatalf("after a replay Kafka did not take, the message is %s/%q; want done/failed, replayable again", m.Status, m.Outcome)
	}
	if _, err := cs.ReopenMessage(t.Context(), "m9"); err != nil {
		t.Fatalf("the message cannot be replayed again: %v", err)
	}
}

// sizePub is a request topic that refuses records over limit bytes, as
// Kafka refuses records too large, and keeps the others.
type sizePub struct {
	limit int
	mu    sync.Mutex
	recs  []record
}

func (p *sizePub) Send(_ context.Context, _ string, key, value []byte, h map[string]string) error {
	if len(value) > p.limit {
		return fmt.Errorf("%w: %d bytes, the limit is %d", bus.ErrRecordRefused, len(value), p.limit)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recs = append(p.recs, record{key, value, h})
	return nil
}

// TestReplayTooLarge: a failed message too large for a Kafka record is
// replayed by reference (its reopened record holds the request), not
// left failed for ever because its request does not fit on the topic.
func TestReplayTooLarge(t *testing.T) {
	t.Parallel()
	g, cs := newIngress(t, &publisher{})
	pub := &sizePub{limit: 200}
	g.pub = pub
	value := append(request("m10").Value[:len(request("m10").Value)-1], strings.Repeat(" ", 300)+"}"...)
	if _, _, err := cs.BeginMessage(t.Context(), store.Message{ID: "m10", Site: "s1", Type: "ledger.noop", Key: "K10", Request: value, ReceivedAt: time.Now(), Attempts: 3}); err != nil {
		t.Fatal(err)
	}
	if err := finish(cs, &message.Reply{ID: "r10", RequestID: "m10", Site: "s1", Type: "ledger.noop", Status: message.StatusFailed}); err != nil {
		t.Fatal(err)
	}
	if err := g.Replay(t.Context(), "m10"); err != nil {
		t.Fatalf("replay of a message too large for a Kafka record: %v", err)
	}
	m, err := cs.GetMessage(t.Context(), "m10")
	if err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if m.Status != store.StatusPending || len(pub.recs) != 1 || pub.recs[0].headers[pipeline.HeaderStoredRequest] != "m10" ||
		string(pub.recs[0].key) != "K10" || pub.recs[0].headers[message.HeaderReplay] != "1" {
		t.Errorf("after the replay the message is %s and the topic holds %+v; want it pending and one reference to m10 under key K10, marked a replay", m.Status, pub.recs)
	}
}

// TestReplayNotRequeued: a failed message with no attempt made (a
// request recorded by the ingress that failed without a call, the
// circuit open, say) is reopened pending with no attempt by its replay;
// Requeue took it for a record whose reference never reached Kafka and
// queued it again while the replay waited on the topic, publishing its
// reply twice. Whether the request itself or a reference to it goes back.
func TestReplayNotRequeued(t *testing.T) {
	t.Parallel()
	for name, limit := range map[string]int{"request": 1 << 20, "reference": 200} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, cs := newIngress(t, &publisher{})
			pub := &sizePub{limit: limit}
			g.pub = pub
			value := append(request("m11").Value[:len(request("m11").Value)-1], strings.Repeat(" ", 300)+"}"...)
			if _, _, err := cs.BeginMessage(t.Context(), store.Message{ID: "m11", Site: "s1", Type: "ledger.noop", Key: "K11", Request: value, ReceivedAt: time.Now().Add(-time.Hour)}); err != nil {
				t.Fatal(err)
			}
			failed, _ := json.Marshal(&message.Reply{ID: "r11", RequestID: "m11", Site: "s1", Type: "ledger.noop", Status: message.StatusFailed})
			if err := cs.FinishMessage(t.Context(), "m11", message.StatusFailed, failed, 0); err != nil {
				t.Fatal(err)
			}
			if err := g.Replay(t.Context(), "m11"); err != nil {
				t.Fatal(err)
			}
			// The replay waits on the topic, long past RequeueAfter.
			if n, err := g.Requeue(t.Context(), time.Now().Add(time.Hour)); n != 0 || err != nil {
				t.Errorf("Requeue while the replay waits on the topic: %d, %v; want 0, nil", n, err)
			}
			pub.mu.Lock()
			defer pub.mu.Unlock()
			if len(pub.recs) != 1 {
				t.Errorf("the topic holds %d records, want the replay's one", len(pub.recs))
			}
		})
	}
}

// TestRequeueOnlyRecorded: Requeue queues a reference to the requests the
// ingress recorded and no delivery took up (pending, no attempt made),
// and to nothing else: not a message a delivery began (Kafka redelivers
// it), nor one received after the cutoff, nor one whose reference it
// queued already.
func TestRequeueOnlyRecorded(t *testing.T) {
	t.Parallel()
	g, cs := newIngress(t, &publisher{})
	pub := &sizePub{limit: 1 << 20}
	g.pub = pub
	old := time.Now().Add(-2 * RequeueAfter)
	for _, m := range []store.Message{
		{ID: "q1", Key: "K1", ReceivedAt: old, Attempts: 0},
		{ID: "q2", Key: "K2", ReceivedAt: old, Attempts: 1},
		{ID: "q3", Key: "K3", ReceivedAt: time.Now(), Attempts: 0},
	} {
		m.Site, m.Type, m.Request = "s1", "ledger.noop", request(m.ID).Value
		if _, _, err := cs.BeginMessage(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	n, err := g.Requeue(t.Context(), time.Now().Add(-RequeueAfter))
	if again, err := g.Requeue(t.Context(), time.Now().Add(-RequeueAfter)); again != 0 || err != nil {
		t.Errorf("Requeue again at once: %d, %v; want 0, nil: q1's reference may still wait on the topic", again, err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if n != 1 || err != nil || len(pub.recs) != 1 || string(pub.recs[0].key) != "K1" ||
		pub.recs[0].headers[pipeline.HeaderStoredRequest] != "q1" || pub.recs[0].headers[message.HeaderRequestID] != "q1" {
		t.Errorf("Requeue: %d, %v, queued %+v; want one reference, to q1 under K1", n, err, pub.recs)
	}
}

// TestRequeueMarks: a mark that a reference is on the topic covers the
// record it was written for only (same id and received time), not
// another record under the id, whose reference never reached the topic;
// marks of records no longer waiting for their reference are dropped.
func TestRequeueMarks(t *testing.T) {
	t.Parallel()
	received := time.Now().Add(-2 * RequeueAfter).UTC().Truncate(time.Microsecond)
	cases := map[string]struct {
		mark     string // the mark of q1 before Requeue ("": none)
		attempts int    // q1's
		want     int
		wantMark string // q1's mark afterwards ("": none)
	}{
		"no mark":                {want: 1, wantMark: received.Format(time.RFC3339Nano)},
		"mark of this record":    {mark: received.Format(time.RFC3339Nano), want: 0, wantMark: received.Format(time.RFC3339Nano)},
		"mark of an earlier one": {mark: received.Add(-time.Hour).Format(time.RFC3339Nano), want: 1, wantMark: received.Format(time.RFC3339Nano)},
		"unreadable mark":        {mark: "?", want: 1, wantMark: received.Format(time.RFC3339Nano)},
		"taken up by a delivery": {mark: received.Format(time.RFC3339Nano), attempts: 1, want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, cs := newIngress(t, &publisher{})
			pub := &sizePub{limit: 1 << 20}
			g.pub = pub
			if _, _, err := cs.BeginMessage(t.Context(), store.Message{ID: "q1", Site: "s1", Type: "ledger.noop", Key: "K1", Request: request("q1").Value, ReceivedAt: received, Attempts: tc.attempts}); err != nil {
				t.Fatal(err)
			}
			if tc.mark != "" {
				if _, err := cs.StatePut(t.Context(), queuedNS, "q1", []byte(tc.mark)); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := g.Requeue(t.Context(), time.Now()); n != tc.want || err != nil {
				t.Errorf("Requeue: %d, %v; want %d, nil", n, err, tc.want)
			}
			e, err := cs.StateGet(t.Context(), queuedNS, "q1")
			switch {
			case tc.wantMark == "" && !errors.Is(err, store.ErrNotFound):
				t.Errorf("mark afterwards: %q, %v; want none", e.Value, err)
			case tc.wantMark != "" && (err != nil || !markTime(e.Value).Equal(markTime([]byte(tc.wantMark)))):
				t.Errorf("mark afterwards: %q, %v; want %s", e.Value, err, tc.wantMark)
			}
		})
	}
}

// replayPub is the request topic of a replay whose write is reported
// failed: meanwhile runs first, as what happened to the message while the
// write was under way.
type replayPub struct {
	meanwhile func(ctx context.Context) error
}

func (p *replayPub) Send(ctx context.Context, _ string, _, _ []byte, _ map[string]string) error {
	if err := p.meanwhile(ctx); err != nil {
		return err
	}
	return errors.New("kafka: request timed out")
}

// TestReplayWriteReportedFailed: when the write of a replayed request is
// reported failed, the message's failed outcome is put back only if the
// message is still as the reopen left it. A write reported failed may have
// reached the topic all the same and the message been processed (or be in
// its reconciliation) meanwhile: that outcome is kept, not overwritten by
// the old failed one.
func TestReplayWriteReportedFailed(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		meanwhile func(ctx context.Context, st store.Store, id string) error
		// want is the message afterwards: status, outcome, attempts.
		want [3]any
		// errHas is in Replay's error.
		errHas string
	}{
		"nothing reached the topic": {func(context.Context, store.Store, string) error { return nil },
			[3]any{store.StatusDone, message.StatusFailed, 3}, "stays failed"},
		"processed meanwhile": {func(ctx context.Context, st store.Store, id string) error {
			if _, err := st.AddAttempt(ctx, id); err != nil {
				return err
			}
			return finish(st, &message.Reply{ID: "r-new", RequestID: id, Status: message.StatusOK})
		}, [3]any{store.StatusDone, message.StatusOK, 1}, "moved on"},
		"being reconciled": {func(ctx context.Context, st store.Store, id string) error {
			_, err := st.AddAttempt(ctx, id)
			return err
		}, [3]any{store.StatusPending, "", 4}, "moved on"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			ctx := t.Context()
			const id = "m10"
			if _, _, err := st.BeginMessage(ctx, store.Message{ID: id, Site: "s1", Type: "ledger.noop", Key: id, Request: request(id).Value, ReceivedAt: time.Now(), Attempts: 3}); err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(&message.Reply{ID: "r-old", RequestID: id, Status: message.StatusFailed})
			if err := st.FinishMessage(ctx, id, message.StatusFailed, data, 3); err != nil {
				t.Fatal(err)
			}
			pub := &replayPub{meanwhile: func(ctx context.Context) error { return tc.meanwhile(ctx, st, id) }}
			g := New(Options{Store: st, Publisher: pub, Processor: refusingProcessor{t}, Topic: "requests", MaxPayloadBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
			err = g.Replay(ctx, id)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("Replay: %v; want an error saying %q", err, tc.errHas)
			}
			m, err := st.GetMessage(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := [3]any{m.Status, m.Outcome, m.Attempts}; got != tc.want {
				t.Errorf("message afterwards %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRefusedDeliveryIsNotTheOutcome: a delivery of the id refused because
// the id is pending under another key (rule id-in-use) gets an invalid
// reply that is not the message's outcome; the client waiting for the
// message must get the outcome of the delivery that owns it, not that
// refusal (it would be told its message failed while it completes).
func TestRefusedDeliveryIsNotTheOutcome(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	g, cs := newIngress(t, pub)
	pub.hook = func(key, value []byte) {
		// This instance's consumer refuses a second delivery of m9 sent
		// under another key, and hands its reply over as for any message.
		g.Done(&message.Reply{ID: "refused", RequestID: "m9", Site: "s1", Type: "ledger.noop", Status: message.StatusInvalid,
			Errors: []message.ReplyError{{Field: "$.id", Rule: pipeline.RuleIDInUse, Message: "in use"}}}, value)
		// Then the delivery that owns m9 finishes it.
		if _, _, err := cs.BeginMessage(context.Background(), store.Message{ID: "m9", Site: "s1", Type: "ledger.noop", Key: "m9", Request: value, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
			t.Error(err)
		}
		r := &message.Reply{ID: "r9", RequestID: "m9", Site: "s1", Type: "ledger.noop", Status: message.StatusOK}
		if err := finish(cs, r); err != nil {
			t.Error(err)
		}
		g.Done(r, value)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := g.Process(ctx, request("m9"))
	if err != nil || r.ID != "r9" {
		t.Fatalf("got %+v, %v; want the outcome r9, not another delivery's refusal", r, err)
	}
}

// TestIDReusedForAnotherMessage: a request whose id the store holds for
// another message (another payload here) is not answered with that
// message's stored reply, neither when Kafka is down nor when another
// instance took the request (and answered it invalid without storing
// anything): the client is told the id is in use by another message.
func TestIDReusedForAnotherMessage(t *testing.T) {
	t.Parallel()
	for _, kafkaDown := range []bool{true, false} {
		t.Run(fmt.Sprintf("kafka down %v", kafkaDown), func(t *testing.T) {
			t.Parallel()
			pub := &publisher{}
			g, cs := newIngress(t, pub)
			if _, _, err := cs.BeginMessage(t.Context(), store.Message{ID: "m10", Site: "s1", Type: "ledger.noop", Key: "m10", Request: request("m10").Value, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
				t.Fatal(err)
			}
			if err := finish(cs, &message.Reply{ID: "r10", RequestID: "m10", Site: "s1", Type: "ledger.noop", Status: message.StatusOK}); err != nil {
				t.Fatal(err)
			}
			if kafkaDown {
				pub.err = errors.New("kafka: no brokers")
			}
			other := pipeline.Input{Value: []byte(`{"id":"m10","site":"s1","type":"ledger.noop","payload":{"patient":"another"}}`)}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			r, err := g.Process(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID == "r10" || r.Status != message.StatusInvalid || len(r.Errors) != 1 || r.Errors[0].Rule != pipeline.RuleIDReused || r.RequestID != "m10" {
				t.Fatalf("got %+v; want an invalid reply with rule %s, not the other message's r10", r, pipeline.RuleIDReused)
			}
		})
	}
}

// flakyStore fails its first reads of outcomes, as a store does for a
// moment (a PostgreSQL failover, a locked SQLite file).
type flakyStore struct {
	store.Store
	fails atomic.Int64
}

func (s *flakyStore) GetMessage(ctx context.Context, id string) (*store.Message, error) {
	if s.fails.Add(-1) >= 0 {
		return nil, errors.New("store: connection reset")
	}
	return s.Store.GetMessage(ctx, id)
}

// TestStoreBlipWhileWaiting: a queued request is accepted (Kafka has it
// and the cluster completes it); a store read failing while its client
// waits for the outcome does not end the wait with an error telling the
// client its message could not be finished: the ingress reads again and
// hands over the outcome.
func TestStoreBlipWhileWaiting(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	g, cs := newIngress(t, pub)
	fs := &flakyStore{Store: cs}
	fs.fails.Store(2)
	g.store = fs
	pub.hook = func(key, value []byte) {
		// Another instance finishes the message.
		if _, _, err := cs.BeginMessage(context.Background(), store.Message{ID: "m11", Site: "s1", Type: "ledger.noop", Key: "m11", Request: value, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
			t.Error(err)
		}
		if err := finish(cs, &message.Reply{ID: "r11", RequestID: "m11", Site: "s1", Type: "ledger.noop", Status: message.StatusOK}); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := g.Process(ctx, request("m11"))
	if err != nil || r.ID != "r11" {
		t.Fatalf("got %+v, %v; want the outcome r11 once the store answers again", r, err)
	}
}

// TestTwoMessagesOneIDWaiting: two requests with one id but different
// payloads wait at once on this instance; the first is recorded and
// finished, the second refused (rule id-reused, nothing stored). Each
// client gets its own answer: the outcome goes to the client of the
// message recorded, not to both.
func TestTwoMessagesOneIDWaiting(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	g, cs := newIngress(t, pub)
	a := request("m12")
	b := pipeline.Input{Value: []byte(`{"id":"m12","site":"s1","type":"ledger.noop","payload":{"patient":"another"}}`)}
	var sends atomic.Int64
	pub.hook = func(key, value []byte) {
		if sends.Add(1) != 2 {
			return
		}
		// Both are queued (and waiting): the consumer takes a, then b.
		g.Taken("m12")
		if _, _, err := cs.BeginMessage(context.Background(), store.Message{ID: "m12", Site: "s1", Type: "ledger.noop", Key: "m12", Request: a.Value, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
			t.Error(err)
		}
		ra := &message.Reply{ID: "r12", RequestID: "m12", Site: "s1", Type: "ledger.noop", Status: message.StatusOK}
		if err := finish(cs, ra); err != nil {
			t.Error(err)
		}
		g.Done(ra, a.Value)
		g.Done(&message.Reply{ID: "refused", RequestID: "m12", Site: "s1", Type: "ledger.noop", Status: message.StatusInvalid,
			Errors: []message.ReplyError{{Field: "$.id", Rule: pipeline.RuleIDReused, Message: "reused"}}}, b.Value)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type result struct {
		r   *message.Reply
		err error
	}
	ac := make(chan result, 1)
	go func() {
		r, err := g.Process(ctx, a)
		ac <- result{r, err}
	}()
	waitFor(t, 30*time.Second, "the first message was not handed to Kafka", func() bool { return sends.Load() > 0 })
	rb, err := g.Process(ctx, b)
	if err != nil || rb.Status != message.StatusInvalid || len(rb.Errors) != 1 || rb.Errors[0].Rule != pipeline.RuleIDReused {
		t.Errorf("the second message got %+v, %v; want an invalid reply with rule %s", rb, err, pipeline.RuleIDReused)
	}
	ra := <-ac
	if ra.err != nil || ra.r.ID != "r12" {
		t.Errorf("the message recorded got %+v, %v; want its outcome r12", ra.r, ra.err)
	}
}

// TestOutcomeOfAnotherMessage: a request waits alone on this instance
// while another message under the same id, from Kafka (of another type,
// of another site with the same type and payload, or of the same site and
// type with another payload), is finished first; that outcome is not
// handed to it (its client would be told its message is done, with
// another message's answer, another site's data): it gets the refusal of
// its own delivery.
func TestOutcomeOfAnotherMessage(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ site, typ, kafka string }{
		"another type":    {"s1", "ledger.other", `{"id":"m13","site":"s1","type":"ledger.other","payload":{}}`},
		"another site":    {"s2", "ledger.noop", `{"id":"m13","site":"s2","type":"ledger.noop","payload":{}}`},
		"another payload": {"s1", "ledger.noop", `{"id":"m13","site":"s1","type":"ledger.noop","payload":{"patient":"another"}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pub := &publisher{}
			g, cs := newIngress(t, pub)
			kafka := []byte(tc.kafka)
			pub.hook = func(key, value []byte) {
				g.Taken("m13")
				if _, _, err := cs.BeginMessage(context.Background(), store.Message{ID: "m13", Site: tc.site, Type: tc.typ, Key: "m13", Request: kafka, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
					t.Error(err)
				}
				rk := &message.Reply{ID: "r13", RequestID: "m13", Site: tc.site, Type: tc.typ, Status: message.StatusOK}
				if err := finish(cs, rk); err != nil {
					t.Error(err)
				}
				g.Done(rk, kafka)
				g.Done(&message.Reply{ID: "refused", RequestID: "m13", Site: "s1", Type: "ledger.noop", Status: message.StatusInvalid,
					Errors: []message.ReplyError{{Field: "$.id", Rule: pipeline.RuleIDReused, Message: "reused"}}}, value)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			r, err := g.Process(ctx, request("m13"))
			if err != nil || r.Status != message.StatusInvalid || len(r.Errors) != 1 || r.Errors[0].Rule != pipeline.RuleIDReused {
				t.Fatalf("got %+v, %v; want the refusal with rule %s, not the outcome of the other message", r, err, pipeline.RuleIDReused)
			}
		})
	}
}
