package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/testenv"
)

// TestPreparer: a record written ahead of its turn is used only by the
// delivery it was written for, only once, and only if no other Process
// call of its id came since it was reserved.
func TestPreparer(t *testing.T) {
	t.Parallel()
	a, b := &bus.Message{}, &bus.Message{}
	now := time.Now()
	cases := map[string]struct {
		run  func(pr *preparer) bool // whether a's Process call may use the record
		want bool
	}{
		"used by its delivery": {func(pr *preparer) bool {
			env := &message.Envelope{ID: "x"}
			value := []byte("v")
			a := &bus.Message{Value: value}
			e := pr.reserve("x", a, env, now)
			pr.complete("x", e, true)
			if pr.envelope(a, value) != env || pr.envelope(a, []byte("v")) != nil || pr.envelope(b, value) != nil {
				t.Error("envelope: not the one parsed for the delivery, or given for another value or delivery")
			}
			ok, leave := pr.enter("x", a)
			leave()
			if pr.envelope(a, value) != nil {
				t.Error("envelope still given after the record was used")
			}
			return ok
		}, true},
		"only once": {func(pr *preparer) bool {
			e := pr.reserve("x", a, nil, now)
			pr.complete("x", e, true)
			_, leave := pr.enter("x", a)
			leave()
			ok, leave := pr.enter("x", a)
			leave()
			return ok
		}, false},
		"not by another delivery, which drops it": {func(pr *preparer) bool {
			e := pr.reserve("x", a, nil, now)
			pr.complete("x", e, true)
			if ok, leave := pr.enter("x", b); ok {
				t.Error("another delivery used the record")
			} else {
				leave()
			}
			ok, leave := pr.enter("x", a)
			leave()
			return ok
		}, false},
		"not outside the consumer": {func(pr *preparer) bool {
			e := pr.reserve("x", a, nil, now)
			pr.complete("x", e, true)
			ok, leave := pr.enter("x", nil)
			leave()
			return ok
		}, false},
		"dropped by a Process call during the write": {func(pr *preparer) bool {
			e := pr.reserve("x", a, nil, now)
			_, leave := pr.enter("x", b)
			leave()
			pr.complete("x", e, true)
			ok, leave := pr.enter("x", a)
			leave()
			return ok
		}, false},
		"not reserved while its id is in a Process call": {func(pr *preparer) bool {
			_, leave := pr.enter("x", b)
			e := pr.reserve("x", a, nil, now)
			leave()
			if e != nil {
				pr.complete("x", e, true)
			}
			ok, leave := pr.enter("x", a)
			leave()
			return ok
		}, false},
		"not kept when the write found the message": {func(pr *preparer) bool {
			e := pr.reserve("x", a, nil, now)
			pr.complete("x", e, false)
			ok, leave := pr.enter("x", a)
			leave()
			return ok
		}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pr := &preparer{}
			if got := tc.run(pr); got != tc.want {
				t.Errorf("record used = %v, want %v", got, tc.want)
			}
			if n := pr.size(); n != 0 {
				t.Errorf("%d records left", n)
			}
		})
	}

	// Full: stale records make room; fresh ones do not.
	pr := &preparer{}
	for i := range maxPrepared {
		pr.reserve(fmt.Sprint(i), &bus.Message{}, nil, now)
	}
	if pr.reserve("more", a, nil, now) != nil {
		t.Error("reserved past maxPrepared")
	}
	if pr.reserve("more", a, nil, now.Add(2*preparedTTL)) == nil || pr.size() != 1 {
		t.Errorf("stale records did not make room: %d records", pr.size())
	}

	// Not full: stale records go anyway, at the latest one preparedTTL
	// after the last sweep.
	pr = &preparer{}
	pr.reserve("old", a, nil, now)
	pr.reserve("fresh", b, nil, now.Add(preparedTTL))
	if pr.size() != 2 {
		t.Fatalf("%d records, want 2 (no sweep yet)", pr.size())
	}
	pr.reserve("new", &bus.Message{}, nil, now.Add(preparedTTL+time.Second))
	if pr.size() != 2 || pr.m["old"] != nil {
		t.Errorf("stale record kept: %d records", pr.size())
	}
}

// ctxHandler is a plugin whose answer may depend on the call's context.
type ctxHandler func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error)

func (h ctxHandler) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return h(ctx, req)
}

// flakyPub fails the first publication of the replies named in failOnce.
type flakyPub struct {
	memPub
	failOnce map[string]bool
}

func (p *flakyPub) Send(ctx context.Context, topic string, key, value []byte, h map[string]string) error {
	var r message.Reply
	_ = json.Unmarshal(value, &r)
	p.mu.Lock()
	fail := p.failOnce[r.RequestID]
	delete(p.failOnce, r.RequestID)
	p.mu.Unlock()
	if fail {
		return errors.New("kafka: broker not available")
	}
	return p.memPub.Send(ctx, topic, key, value, h)
}

// failingCombined is a store whose FinishAndBegin fails for some messages:
// before writing anything (lost), or after the write committed (unknown,
// as when the caller gives up while the commit goes on).
type failingCombined struct {
	store.Store
	mu      sync.Mutex
	lost    map[string]bool
	unknown map[string]bool
}

func (f *failingCombined) FinishAndBegin(ctx context.Context, id, outcome string, reply []byte, attempts int, next store.Message) (*store.Message, bool, error) {
	f.mu.Lock()
	lost, unknown := f.lost[id], f.unknown[id]
	delete(f.lost, id)
	delete(f.unknown, id)
	f.mu.Unlock()
	if lost {
		return nil, false, errors.New("store: disk I/O error")
	}
	existing, created, err := f.Store.FinishAndBegin(ctx, id, outcome, reply, attempts, next)
	if unknown && err == nil {
		return nil, false, context.DeadlineExceeded
	}
	return existing, created, err
}

// TestNextMessageRecordedWithTheOutcome: through a real Kafka consumer,
// the outcome of a message and the record of the next message of its key
// are stored in one transaction, and nothing the guarantees say changes:
// each message reaches the plugin once, a repeated id gets the stored
// reply without a call, replies keep the key's order, and a reply that
// fails to publish once is published again before the next message's reply
// (which still uses its record); when the combined write fails (before or after committing), the
// outcome is stored alone and the next message recorded in its turn.
func TestNextMessageRecordedWithTheOutcome(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs a Kafka broker")
	}
	brokers := testenv.Kafka(t)
	var (
		mu    sync.Mutex
		calls = map[string]int{}
	)
	h := ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		id := req.MessageID
		if id == "m1" {
			// Let the consumer read the key's next message first.
			deadline := time.Now().Add(30 * time.Second)
			for bus.Next(ctx) == nil && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		mu.Lock()
		calls[id]++
		mu.Unlock()
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"id":"` + id + `"}`)}, nil
	})
	p, _, st := newProc(t, h, false)
	pub := &flakyPub{failOnce: map[string]bool{"m3": true}}
	p.pub = pub
	p.store = &failingCombined{Store: st, lost: map[string]bool{"m4": true}, unknown: map[string]bool{"m5": true}}

	ids := []string{"m1", "m2", "m2", "m3", "m4", "m5", "m6", "m7"}
	types := make([]string, len(ids))
	for i := range types {
		types[i] = "x.do"
	}
	keyOrder(t, brokers, p, pub.on, ids, types)
	mu.Lock()
	for _, id := range []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7"} {
		if calls[id] != 1 {
			t.Errorf("message %s reached the plugin %d times, want once", id, calls[id])
		}
	}
	mu.Unlock()
	for _, id := range []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7"} {
		m, err := st.GetMessage(t.Context(), id)
		if err != nil || m.Status != store.StatusDone || m.Key != "K" {
			t.Errorf("message %s in the store: %+v, %v; want done", id, m, err)
		}
	}
	// m2 (after m1) and m4 (after m3, whose publication failed once and
	// was retried) and m7 (after m6). Not m3 (after the repeated m2, which
	// only replays), m5 (m4's combined write failed) nor m6 (m5's may
	// have committed: m6 finds its row pending and is handled as a retry).
	if n := p.prep.used.Load(); n != 3 {
		t.Errorf("%d messages used the record written with the previous outcome, want 3 (m2, m4, m7)", n)
	}
	if n := p.prep.size(); n != 0 {
		t.Errorf("%d prepared records left", n)
	}
}

// keyOrder sends the messages ids (of types) under one key to a new
// topic of the real broker, in order, consumes it through p until on
// gives one reply per message (at most 90 s), and fails unless the
// replies were published in the order sent.
func keyOrder(t *testing.T, brokers []string, p *Processor, on func(topic string) []sent, ids, types []string) {
	t.Helper()
	cfg := bus.Config{Brokers: brokers, ClientID: "pipeline-test", GroupID: "g-" + newID()}
	topic := "requests-" + newID()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := bus.EnsureTopics(ctx, cfg, []string{topic}, 1, 1); err != nil {
		t.Fatal(err)
	}
	prod, err := bus.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i, id := range ids {
		if err := prod.Send(ctx, topic, []byte("K"), msg(id, types[i]), nil); err != nil {
			t.Fatal(err)
		}
	}
	c, err := bus.NewConsumer(cfg, []string{topic}, func(ctx context.Context, m *bus.Message) error {
		_, err := p.Process(ctx, Input{Value: m.Value, Key: string(m.Key)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(90 * time.Second)
	for len(on("replies")) < len(ids) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var got []string
	for _, s := range on("replies") {
		var r message.Reply
		if err := json.Unmarshal(s.value, &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RequestID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("replies %v, want %v (the key's order)", got, ids)
	}
}
