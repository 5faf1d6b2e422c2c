package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/testenv"
)

// writeLog is a store that notes every write of a message record, in
// order ("begin m1", "attempt m1", "finish m1", "finish m1+begin m2",
// "record m1"), and fails the outcome write of the ids in lose as the
// host dying before it would (nothing stored).
type writeLog struct {
	store.Store
	mu     sync.Mutex
	writes []string
	lose   map[string]bool
}

func (w *writeLog) note(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, fmt.Sprintf(format, args...))
}

func (w *writeLog) lost(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lose[id]
}

func (w *writeLog) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

func (w *writeLog) BeginMessage(ctx context.Context, m store.Message) (*store.Message, bool, error) {
	w.note("begin %s", m.ID)
	return w.Store.BeginMessage(ctx, m)
}

func (w *writeLog) AddAttempt(ctx context.Context, id string) (int, error) {
	w.note("attempt %s", id)
	return w.Store.AddAttempt(ctx, id)
}

func (w *writeLog) FinishMessage(ctx context.Context, id, outcome string, reply []byte, attempts int, journal ...store.Exchange) error {
	if w.lost(id) {
		return errors.New("the host died")
	}
	w.note("finish %s", id)
	return w.Store.FinishMessage(ctx, id, outcome, reply, attempts, journal...)
}

func (w *writeLog) FinishAndBegin(ctx context.Context, id, outcome string, reply []byte, attempts int, next store.Message) (*store.Message, bool, error) {
	if w.lost(id) {
		return nil, false, errors.New("the host died")
	}
	w.note("finish %s+begin %s", id, next.ID)
	return w.Store.FinishAndBegin(ctx, id, outcome, reply, attempts, next)
}

func (w *writeLog) RecordFinished(ctx context.Context, m store.Message, journal ...store.Exchange) (*store.Message, error) {
	if w.lost(m.ID) {
		return nil, errors.New("the host died")
	}
	w.note("record %s", m.ID)
	return w.Store.RecordFinished(ctx, m, journal...)
}

// queryProc is a processor on st whose plugin x offers x.do, an upload,
// and x.check, a pure query (sdk.Operation.Query); its store notes the
// writes.
func queryProc(t *testing.T, st store.Store, h Handler) (*Processor, *memPub, *writeLog) {
	t.Helper()
	wl := &writeLog{Store: st, lose: map[string]bool{}}
	pub := &memPub{}
	p, err := New(Options{Store: wl, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxPayloadBytes: 1 << 10, MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		CallTimeout: time.Second, UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{
		"x.do":    {Type: "x.do", Upload: true},
		"x.check": {Type: "x.check", Query: true},
	}}}}})
	return p, pub, wl
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestQueryStoresOneWrite: a message of an operation declared a query is
// stored once, with its outcome (no pending record before the call), and
// its redelivery gets the stored reply without a call; an upload keeps
// its pending record before the call.
func TestQueryStoresOneWrite(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	p, pub, wl := queryProc(t, st, h)
	// The HTTP ingress is handed the reply once the outcome is stored,
	// before it is published.
	var early []*message.Reply
	value := msg("q1", "x.check")
	p.opts.Stored = func(r *message.Reply, request []byte) {
		if r.RequestID == "q1" && !bytes.Equal(request, value) {
			t.Errorf("the reply was handed over with request %s; want the query's, %s", request, value)
		}
		if len(pub.on("replies")) == 0 {
			early = append(early, r)
		}
	}
	first, err := p.Process(t.Context(), Input{Value: value, Key: "k"})
	if err != nil || first.Status != message.StatusOK || first.Attempts != 1 {
		t.Fatalf("query: %+v, %v; want ok after 1 attempt", first, err)
	}
	if len(early) != 1 || early[0] != first {
		t.Errorf("the ingress was handed %d replies before publication, want the query's one", len(early))
	}
	if diff := cmp.Diff([]string{"record q1"}, wl.log()); diff != "" {
		t.Fatalf("store writes of a query (-want +got):\n%s", diff)
	}
	if c := h.calls[0]; c.Attempt != 1 || c.Recovering {
		t.Errorf("the query's call: attempt %d, recovering %v; want 1, false", c.Attempt, c.Recovering)
	}
	m, err := st.GetMessage(t.Context(), "q1")
	if err != nil || m.Status != store.StatusDone || m.Outcome != "ok" || m.Attempts != 1 || m.Key != "k" || m.Type != "x.check" || string(m.Request) != string(value) {
		t.Fatalf("stored query: %+v, %v; want done, ok, 1 attempt, its key, type and request", m, err)
	}

	second, err := p.Process(t.Context(), Input{Value: value, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("the redelivered query's reply differs (-first +second):\n%s", diff)
	}
	if len(h.calls) != 1 || len(wl.log()) != 1 || len(pub.on("replies")) != 2 {
		t.Errorf("after the redelivery: %d calls, writes %v, %d replies; want 1 call, 1 write, 2 replies (the stored one again)", len(h.calls), wl.log(), len(pub.on("replies")))
	}

	if _, err := p.Process(t.Context(), Input{Value: msg("u1", "x.do"), Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"record q1", "begin u1", "finish u1"}, wl.log()); diff != "" {
		t.Errorf("store writes of an upload after the query (-want +got):\n%s", diff)
	}
}

// TestQueryAnsweredBeforeItsWrite: the waiting HTTP client (Stored) has a
// query's reply before the query's outcome is written, while the reply on
// Kafka still waits for the write; an upload's reply reaches the client
// only once its outcome is stored. When the write does not happen (the
// host dies before it), nothing is published, the delivery ends with an
// error, and the redelivery runs the query again and publishes that run's
// reply.
func TestQueryAnsweredBeforeItsWrite(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	p, pub, wl := queryProc(t, st, h)
	type handed struct {
		id        string
		writes    []string
		published int
	}
	var got []handed
	p.opts.Stored = func(r *message.Reply, _ []byte) {
		got = append(got, handed{r.RequestID, wl.log(), len(pub.on("replies"))})
	}
	if _, err := p.Process(t.Context(), Input{Value: msg("q1", "x.check"), Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(t.Context(), Input{Value: msg("u1", "x.do"), Key: "k"}); err != nil {
		t.Fatal(err)
	}
	want := []handed{
		{"q1", nil, 0},
		{"u1", []string{"record q1", "begin u1", "finish u1"}, 1},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(handed{})); diff != "" {
		t.Fatalf("what the store and Kafka had when the client was handed each reply (-want +got):\n%s", diff)
	}

	// The host dies before the query's write: the client has its answer,
	// Kafka none; the redelivery runs the query again.
	wl.mu.Lock()
	wl.lose["q2"] = true
	wl.mu.Unlock()
	if _, err := p.Process(t.Context(), Input{Value: msg("q2", "x.check"), Key: "k"}); err == nil {
		t.Fatal("Process succeeded although the query's outcome was not stored")
	}
	if len(got) != 3 || got[2].id != "q2" {
		t.Fatalf("the client was handed %+v; want q2's reply third", got)
	}
	if n := len(pub.on("replies")); n != 2 {
		t.Fatalf("%d replies published; want 2 (q1, u1): q2's outcome is not stored", n)
	}
	wl.mu.Lock()
	delete(wl.lose, "q2")
	wl.mu.Unlock()
	r, err := p.Process(t.Context(), Input{Value: msg("q2", "x.check"), Key: "k"})
	if err != nil || r.Status != message.StatusOK {
		t.Fatalf("redelivered q2: %+v, %v; want ok", r, err)
	}
	if c := h.calls[len(h.calls)-1]; len(h.calls) != 4 || c.Attempt != 1 || c.Recovering {
		t.Errorf("%d calls, the last attempt %d recovering %v; want q2 run again as new (4 calls, attempt 1)", len(h.calls), c.Attempt, c.Recovering)
	}
	if rs := pub.on("replies"); len(rs) != 3 {
		t.Errorf("%d replies published; want 3", len(rs))
	}
}

// TestQueryRetriedWithoutRecord: the calls of a query without record are
// counted in memory and the count stored with its outcome; its failure is
// stored and dead-lettered as any message's.
func TestQueryRetriedWithoutRecord(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		answers  []func(*sdk.HandleRequest) (*sdk.HandleResponse, error)
		status   string
		attempts int
		dlq      int
	}{
		"transient then ok": {[]func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient, broken, ok}, "ok", 3, 0},
		"gives up":          {[]func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient}, "failed", 4, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			h := &scripted{answers: tc.answers}
			p, pub, wl := queryProc(t, st, h)
			r, err := p.Process(t.Context(), Input{Value: msg("q", "x.check"), Key: "k"})
			if err != nil || r.Status != tc.status || r.Attempts != tc.attempts {
				t.Fatalf("reply %+v, %v; want %s after %d attempts", r, err, tc.status, tc.attempts)
			}
			var attempts []int
			for _, c := range h.calls {
				attempts = append(attempts, c.Attempt)
			}
			if len(attempts) != tc.attempts || attempts[0] != 1 || attempts[len(attempts)-1] != tc.attempts {
				t.Errorf("calls with attempts %v; want 1 … %d", attempts, tc.attempts)
			}
			if diff := cmp.Diff([]string{"record q"}, wl.log()); diff != "" {
				t.Errorf("store writes (-want +got):\n%s", diff)
			}
			if m, err := st.GetMessage(t.Context(), "q"); err != nil || m.Outcome != tc.status || m.Attempts != tc.attempts {
				t.Errorf("stored %+v, %v; want %s, %d attempts", m, err, tc.status, tc.attempts)
			}
			if n := len(pub.on("dlq")); n != tc.dlq {
				t.Errorf("%d DLQ records, want %d", n, tc.dlq)
			}
		})
	}
}

// TestCrashBeforeTheOutcome: the host dies after the plugin call and
// before the outcome is stored. After a restart, the redelivered query is
// run again as a new message (attempt 1, no reconciliation: it had no
// external effect), while the upload, pending, is reconciled before any
// resend (Recovering).
func TestCrashBeforeTheOutcome(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		typ        string
		attempt    int
		recovering bool
		writes     []string // after the restart
	}{
		"query":  {"x.check", 1, false, []string{"record m"}},
		"upload": {"x.do", 2, true, []string{"begin m", "attempt m", "finish m"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
			p, pub, wl := queryProc(t, st, h)
			wl.lose["m"] = true
			if _, err := p.Process(t.Context(), Input{Value: msg("m", tc.typ), Key: "k"}); err == nil {
				t.Fatal("Process reported a message finished whose outcome was not stored")
			}
			if len(h.calls) != 1 || len(pub.on("replies")) != 0 {
				t.Fatalf("before the crash: %d calls, %d replies; want 1 call, no reply", len(h.calls), len(pub.on("replies")))
			}

			h2 := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
			p2, pub2, wl2 := queryProc(t, st, h2)
			r, err := p2.Process(t.Context(), Input{Value: msg("m", tc.typ), Key: "k"})
			if err != nil || r.Status != message.StatusOK {
				t.Fatalf("redelivery: %+v, %v", r, err)
			}
			if len(h2.calls) != 1 || h2.calls[0].Attempt != tc.attempt || h2.calls[0].Recovering != tc.recovering {
				t.Fatalf("redelivery's calls %+v; want one, attempt %d, recovering %v", h2.calls, tc.attempt, tc.recovering)
			}
			if diff := cmp.Diff(tc.writes, wl2.log()); diff != "" {
				t.Errorf("store writes of the redelivery (-want +got):\n%s", diff)
			}
			if m, err := st.GetMessage(t.Context(), "m"); err != nil || m.Status != store.StatusDone || m.Attempts != tc.attempt {
				t.Errorf("stored %+v, %v; want done after %d attempts", m, err, tc.attempt)
			}
			if len(pub2.on("replies")) != 1 {
				t.Errorf("%d replies after the redelivery, want 1", len(pub2.on("replies")))
			}
		})
	}
}

// TestQueryWithPendingRecord: a query whose id has a pending record (it
// was begun while its operation was not declared a query, and the host
// stopped) is handled as today: the plugin reconciles.
func TestQueryWithPendingRecord(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "old", Site: "s1", Type: "x.check", Key: "k", Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	p, _, wl := queryProc(t, st, h)
	r, err := p.Process(t.Context(), Input{Value: msg("old", "x.check"), Key: "k"})
	if err != nil || r.Status != message.StatusOK || r.Attempts != 2 {
		t.Fatalf("reply %+v, %v; want ok after 2 attempts", r, err)
	}
	if len(h.calls) != 1 || !h.calls[0].Recovering || h.calls[0].Attempt != 2 {
		t.Fatalf("calls %+v; want one recovering call, attempt 2", h.calls)
	}
	if diff := cmp.Diff([]string{"attempt old", "finish old"}, wl.log()); diff != "" {
		t.Errorf("store writes (-want +got):\n%s", diff)
	}
}

// TestQueryRecordedMeanwhile: while a query without record runs, another
// delivery of its id records it (another instance that took over the
// partition). A done record stands: its reply is the one published and
// returned. A pending one is left to its delivery: this one ends with an
// error, to be delivered again.
func TestQueryRecordedMeanwhile(t *testing.T) {
	t.Parallel()
	other := []byte(`{"id":"r-other","requestId":"q","site":"s1","type":"x.check","status":"rejected","attempts":1,"completedAt":"2026-01-01T00:00:00Z"}`)
	cases := map[string]struct {
		meanwhile func(ctx context.Context, st store.Store) error
		wantErr   bool
		status    string // stored afterwards
	}{
		"done": {func(ctx context.Context, st store.Store) error {
			_, err := st.RecordFinished(ctx, store.Message{ID: "q", Site: "s1", Type: "x.check", Key: "k", Outcome: "rejected", Reply: other, Attempts: 1})
			return err
		}, false, store.StatusDone},
		"pending": {func(ctx context.Context, st store.Store) error {
			_, _, err := st.BeginMessage(ctx, store.Message{ID: "q", Site: "s1", Type: "x.check", Key: "k", Attempts: 1})
			return err
		}, true, store.StatusPending},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			h := ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
				if err := tc.meanwhile(ctx, st); err != nil {
					return nil, err
				}
				return ok(req)
			})
			p, pub, _ := queryProc(t, st, h)
			r, err := p.Process(t.Context(), Input{Value: msg("q", "x.check"), Key: "k"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Process error %v, want an error: %v", err, tc.wantErr)
			}
			m, gerr := st.GetMessage(t.Context(), "q")
			if gerr != nil || m.Status != tc.status {
				t.Fatalf("stored %+v, %v; want %s", m, gerr, tc.status)
			}
			if tc.wantErr {
				if len(pub.on("replies")) != 0 {
					t.Error("a reply was published for a message left to another delivery")
				}
				return
			}
			if r.ID != "r-other" || r.Status != "rejected" {
				t.Errorf("reply %+v; want the one stored by the other delivery", r)
			}
			if rs := pub.on("replies"); len(rs) != 1 || string(rs[0].value) != string(other) {
				t.Errorf("published %d replies; want the stored one", len(rs))
			}
		})
	}
}

// TestQueriesAndTheNextRecord: through a real Kafka consumer, a key's
// uploads and queries interleaved. An upload's record is still written
// with the previous message's outcome (FinishAndBegin); a query's never
// is, nor begun at all: each query is one write, its outcome. Every
// message reaches the plugin once and the replies keep the key's order.
func TestQueriesAndTheNextRecord(t *testing.T) {
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
		// Let the consumer read the key's next message first, so that
		// the outcome may carry its record.
		deadline := time.Now().Add(30 * time.Second)
		for req.MessageID != "u3" && bus.Next(ctx) == nil && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		calls[req.MessageID]++
		mu.Unlock()
		return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
	})
	st := openStore(t)
	p, pub, wl := queryProc(t, st, h)

	ids := []string{"u1", "q1", "q2", "u2", "u3"}
	types := []string{"x.do", "x.check", "x.check", "x.do", "x.do"}
	keyOrder(t, brokers, p, pub.on, ids, types)
	mu.Lock()
	for _, id := range ids {
		if calls[id] != 1 {
			t.Errorf("message %s reached the plugin %d times, want once", id, calls[id])
		}
	}
	mu.Unlock()
	// u1 begun in its turn; its outcome alone (q1 is a query); q1 and q2
	// recorded with their outcomes; u2 begun in its turn, its outcome
	// with u3's record; u3's outcome alone.
	want := []string{"begin u1", "finish u1", "record q1", "record q2", "begin u2", "finish u2+begin u3", "finish u3"}
	if diff := cmp.Diff(want, wl.log()); diff != "" {
		t.Errorf("store writes (-want +got):\n%s", diff)
	}
	for _, id := range ids {
		if m, err := st.GetMessage(t.Context(), id); err != nil || m.Status != store.StatusDone || m.Key != "K" {
			t.Errorf("message %s in the store: %+v, %v; want done", id, m, err)
		}
	}
}
