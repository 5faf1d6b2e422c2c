package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

type sent struct {
	topic, key string
	value      []byte
}

type memPub struct {
	mu   sync.Mutex
	recs []sent
	fail error
}

func (p *memPub) Send(_ context.Context, topic string, key, value []byte, _ map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.recs = append(p.recs, sent{topic, string(key), value})
	return nil
}

func (p *memPub) on(topic string) []sent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []sent
	for _, r := range p.recs {
		if r.topic == topic {
			out = append(out, r)
		}
	}
	return out
}

// scripted answers Handle calls from a list, recording the requests.
type scripted struct {
	mu      sync.Mutex
	answers []func(*sdk.HandleRequest) (*sdk.HandleResponse, error)
	calls   []sdk.HandleRequest
}

func (s *scripted) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, *req)
	i := len(s.calls) - 1
	if i >= len(s.answers) {
		i = len(s.answers) - 1
	}
	return s.answers[i](req)
}

func ok(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"done":true}`)}, nil
}

func transient(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: "timeout"}}}, nil
}

func broken(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return nil, errors.New("connection is shut down")
}

func newProc(t *testing.T, h Handler, upload bool) (*Processor, *memPub, store.Store) {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub := &memPub{}
	p, err := New(Options{Store: st, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxPayloadBytes: 1 << 10, MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		CallTimeout: time.Second, UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.SetRoutes(&Routes{
		Sites:    map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do", Upload: upload}}}}},
		Disabled: map[string]map[string]bool{"s1": {"off": true}},
	})
	return p, pub, st
}

func msg(id, typ string) []byte {
	return []byte(`{"id":"` + id + `","site":"s1","type":"` + typ + `","occurredAt":"` + time.Now().Format(time.RFC3339) + `","payload":{"a":1}}`)
}

func TestProcessOutcomes(t *testing.T) {
	t.Parallel()
	type errKey struct{ Field, Rule string }
	cases := map[string]struct {
		value     []byte
		answers   []func(*sdk.HandleRequest) (*sdk.HandleResponse, error)
		status    string
		attempts  int
		errs      []errKey
		calls     int
		dlq       int
		recovered []bool
	}{
		"ok": {value: msg("a", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}, status: "ok", attempts: 1, calls: 1, recovered: []bool{false}},
		"transient then ok": {value: msg("b", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient, broken, ok},
			status: "ok", attempts: 3, calls: 3, recovered: []bool{false, true, true}},
		"gives up after max attempts": {value: msg("c", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient},
			status: "failed", attempts: 4, calls: 4, dlq: 1, errs: []errKey{{"", "transient"}, {"", "retries"}}, recovered: []bool{false, true, true, true}},
		"rejected is final": {value: msg("d", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
			return &sdk.HandleResponse{Status: sdk.StatusRejected, External: &sdk.External{Code: "E1"}}, nil
		}}, status: "rejected", attempts: 1, calls: 1, recovered: []bool{false}},
		"not json":      {value: []byte(`{"id":`), status: "invalid", dlq: 1, errs: []errKey{{"$", "syntax"}}},
		"too large":     {value: append([]byte(`{"id":"big","x":"`), make([]byte, 2000)...), status: "invalid", dlq: 1, errs: []errKey{{"$", "size"}}},
		"unknown field": {value: []byte(`{"id":"e","site":"s1","type":"x.do","payload":{},"extra":1}`), status: "invalid", dlq: 1, errs: []errKey{{"$", "syntax"}}},
		"every envelope problem at once": {value: []byte(`{"id":"f","type":"nodot","occurredAt":"yesterday","format":"xml","payload":{}}`), status: "invalid", dlq: 1,
			errs: []errKey{{"$.format", "enum"}, {"$.occurredAt", "format"}, {"$.site", "required"}, {"$.type", "format"}}},
		"unknown site":                 {value: []byte(`{"id":"g","site":"zz","type":"x.do","payload":{}}`), status: "invalid", dlq: 1, errs: []errKey{{"$.site", "unknown"}}},
		"disabled plugin":              {value: []byte(`{"id":"h","site":"s1","type":"off.do","payload":{}}`), status: "invalid", dlq: 1, errs: []errKey{{"$.type", "disabled"}}},
		"unknown operation":            {value: []byte(`{"id":"i","site":"s1","type":"x.nope","payload":{}}`), status: "invalid", dlq: 1, errs: []errKey{{"$.type", "unknown"}}},
		"hl7 payload must be a string": {value: []byte(`{"id":"j","site":"s1","type":"x.do","format":"hl7v2","payload":{"a":1}}`), status: "invalid", dlq: 1, errs: []errKey{{"$.payload", "type"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &scripted{answers: tc.answers}
			if h.answers == nil {
				h.answers = []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}
			}
			p, pub, _ := newProc(t, h, false)
			r, err := p.Process(t.Context(), Input{Value: tc.value, Key: "k"})
			if err != nil {
				t.Fatal(err)
			}
			var got []errKey
			for _, e := range r.Errors {
				got = append(got, errKey{e.Field, e.Rule})
				if e.Message == "" {
					t.Errorf("error %s/%s has no message", e.Field, e.Rule)
				}
			}
			if diff := cmp.Diff(tc.errs, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if r.Status != tc.status || r.Attempts != tc.attempts {
				t.Errorf("status %s attempts %d, want %s %d", r.Status, r.Attempts, tc.status, tc.attempts)
			}
			if len(h.calls) != tc.calls {
				t.Errorf("%d plugin calls, want %d", len(h.calls), tc.calls)
			}
			var rec []bool
			for _, c := range h.calls {
				rec = append(rec, c.Recovering)
			}
			if diff := cmp.Diff(tc.recovered, rec); diff != "" {
				t.Errorf("Recovering flags (-want +got):\n%s", diff)
			}
			if n := len(pub.on("replies")); n != 1 {
				t.Errorf("%d replies published, want 1", n)
			}
			if n := len(pub.on("dlq")); n != tc.dlq {
				t.Errorf("%d DLQ records, want %d", n, tc.dlq)
			}
		})
	}
}

// TestRedeliveryReplaysStoredReply: the second delivery of an id gets the
// same reply and no plugin call.
func TestRedeliveryReplaysStoredReply(t *testing.T) {
	t.Parallel()
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	p, pub, _ := newProc(t, h, false)
	first, err := p.Process(t.Context(), Input{Value: msg("dup", "x.do"), Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Process(t.Context(), Input{Value: msg("dup", "x.do"), Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("replayed reply differs (-first +second):\n%s", diff)
	}
	if len(h.calls) != 1 {
		t.Errorf("plugin called %d times, want 1", len(h.calls))
	}
	if n := len(pub.on("replies")); n != 2 {
		t.Errorf("%d replies published, want 2 (the replay too)", n)
	}
}

// TestPendingMessageIsReconciled: a message left pending by a crash (after
// the plugin may have acted) is handed to the plugin with Recovering set.
func TestPendingMessageIsReconciled(t *testing.T) {
	t.Parallel()
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	p, _, st := newProc(t, h, false)
	if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "crashed", Site: "s1", Type: "x.do", Key: "k", ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAttempt(t.Context(), "crashed"); err != nil {
		t.Fatal(err)
	}
	r, err := p.Process(t.Context(), Input{Value: msg("crashed", "x.do"), Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "ok" || len(h.calls) != 1 || !h.calls[0].Recovering || h.calls[0].Attempt != 2 {
		t.Fatalf("reply %+v calls %+v: want one recovering call, attempt 2", r, h.calls)
	}
}

// TestShutdownLeavesMessagePending: when the context ends mid-retry the
// message is not finished and Process says so.
func TestShutdownLeavesMessagePending(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		cancel()
		return nil, context.Canceled
	}}}
	p, pub, st := newProc(t, h, false)
	_, err := p.Process(ctx, Input{Value: msg("stop", "x.do"), Key: "k"})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	m, err := st.GetMessage(t.Context(), "stop")
	if err != nil || m.Status != store.StatusPending {
		t.Fatalf("stored %+v %v, want pending", m, err)
	}
	if len(pub.on("replies")) != 0 {
		t.Fatal("a reply was published for an unfinished message")
	}
}

// TestPublishFailureIsReported: if the reply cannot be published the
// message is not finished (the caller must not commit), but the outcome is
// stored so the redelivery replays it without calling the plugin.
func TestPublishFailureIsReported(t *testing.T) {
	t.Parallel()
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	p, pub, _ := newProc(t, h, false)
	pub.fail = errors.New("broker down")
	if _, err := p.Process(t.Context(), Input{Value: msg("pf", "x.do"), Key: "k"}); err == nil {
		t.Fatal("publish failure not reported")
	}
	pub.fail = nil
	r, err := p.Process(t.Context(), Input{Value: msg("pf", "x.do"), Key: "k"})
	if err != nil || r.Status != "ok" || len(h.calls) != 1 {
		t.Fatalf("retry: %+v %v, %d calls; want the stored ok and 1 call", r, err, len(h.calls))
	}
}

// TestUploadDeadline: an upload is never given up on. Past its 30-minute
// deadline it goes on being retried, late, until the external system
// answers; an ordinary message with the same failures fails after
// MaxAttempts.
func TestUploadDeadline(t *testing.T) {
	t.Parallel()
	late := time.Now().Add(-45 * time.Minute).Format(time.RFC3339Nano)
	answers := []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient, broken, transient, transient, broken, ok}
	cases := map[string]struct {
		upload bool
		status string
		calls  int
	}{
		"late upload is delivered late":            {upload: true, status: "ok", calls: 6},
		"ordinary message fails after MaxAttempts": {upload: false, status: "failed", calls: 4},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &scripted{answers: answers}
			p, pub, _ := newProc(t, h, tc.upload)
			v, _ := json.Marshal(map[string]any{"id": "late", "site": "s1", "type": "x.do", "occurredAt": late, "payload": map[string]any{}})
			r, err := p.Process(t.Context(), Input{Value: v, Key: "k"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.status || len(h.calls) != tc.calls {
				t.Fatalf("status %s after %d calls; want %s after %d", r.Status, len(h.calls), tc.status, tc.calls)
			}
			if dlq := len(pub.on("dlq")); (tc.status == "failed") != (dlq == 1) {
				t.Errorf("%d DLQ records for a %s message", dlq, r.Status)
			}
		})
	}
}

// TestCircuitBreaker: after the threshold of transient failures the plugin
// is not called again until the cooldown has passed.
// TestPluginCrashDoesNotOpenTheCircuit: calls failing because the plugin
// process is gone (the host relaunches it) are retried but do not open the
// circuit, which would pause every call to a healthy external system.
func TestPluginCrashDoesNotOpenTheCircuit(t *testing.T) {
	t.Parallel()
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){broken, broken, broken, broken, ok}}
	p, _, _ := newProc(t, h, false)
	p.opts.MaxAttempts = 5
	p.brk = newBreaker(2, time.Hour)
	r, err := p.Process(t.Context(), Input{Value: msg("crash-1", "x.do"), Key: "k"})
	if err != nil || r.Status != "ok" || len(h.calls) != 5 {
		t.Fatalf("reply %+v %v after %d calls; want ok after 5 (the circuit stays closed)", r, err, len(h.calls))
	}
}

func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient}}
	p, _, _ := newProc(t, h, false)
	p.opts.MaxAttempts = 3
	p.brk = newBreaker(3, time.Hour)
	r, err := p.Process(t.Context(), Input{Value: msg("cb-1", "x.do"), Key: "k"})
	if err != nil || r.Status != "failed" || len(h.calls) != 3 {
		t.Fatalf("first message: %+v %v after %d calls", r, err, len(h.calls))
	}
	p.opts.RetryBudget = 50 * time.Millisecond
	r, err = p.Process(t.Context(), Input{Value: msg("cb-2", "x.do"), Key: "k2"})
	if err != nil || r.Status != "failed" {
		t.Fatalf("second message: %+v %v", r, err)
	}
	if len(h.calls) != 3 {
		t.Fatalf("plugin called %d times; the open circuit must stop calls", len(h.calls))
	}
	if r.Errors[0].Rule != "circuit" {
		t.Fatalf("errors = %+v, want the circuit named", r.Errors)
	}
}

func TestBreakerHalfOpen(t *testing.T) {
	t.Parallel()
	b := newBreaker(2, time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.done("p", true, now)
	b.done("p", true, now)
	if b.allow("p", now.Add(time.Second)) || !b.open("p", now) {
		t.Fatal("circuit must be open after 2 failures")
	}
	if !b.allow("p", now.Add(2*time.Minute)) {
		t.Fatal("one probe must pass after the cooldown")
	}
	if b.allow("p", now.Add(2*time.Minute)) {
		t.Fatal("only one probe at a time")
	}
	b.done("p", false, now.Add(2*time.Minute))
	if !b.allow("p", now.Add(2*time.Minute)) {
		t.Fatal("a successful probe closes the circuit")
	}
}

// TestCircuitProbeStoppedBeforeTheCall: the one call let through a
// half-open circuit may never go out (the delivery stops while it waits to
// enter the plugin); the circuit must then let another probe through, not
// stay open for good.
func TestCircuitProbeStoppedBeforeTheCall(t *testing.T) {
	t.Parallel()
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient, ok}}
	p, _, _ := newProc(t, h, false)
	p.opts.MaxAttempts = 1
	p.opts.RetryBudget = 200 * time.Millisecond
	p.brk = newBreaker(1, 10*time.Millisecond)
	if r, err := p.Process(t.Context(), Input{Value: msg("probe-1", "x.do"), Key: "k1"}); err != nil || r.Status != "failed" {
		t.Fatalf("first message: %+v %v", r, err)
	}
	waitFor(t, "the cooldown to pass", func() bool { return !p.brk.open("x/s1", p.now()) })

	// Another message is alone in the plugin: the probe waits at the gate
	// and its delivery ends there, once it holds the probe. (A delivery
	// ended by a 50 ms timeout instead could end in the store, before the
	// breaker, on a loaded machine.)
	g := p.gates.get("x")
	g.mu.Lock()
	g.alone = true
	g.mu.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	probing := func() bool {
		p.brk.mu.Lock()
		defer p.brk.mu.Unlock()
		c := p.brk.state["x/s1"]
		return c != nil && c.probing
	}
	go func() {
		// Polled here, not with waitFor, which may not fail the test from
		// this goroutine; a probe never let through fails the check below.
		for end := time.Now().Add(time.Minute); !probing() && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := p.Process(ctx, Input{Value: msg("probe-2", "x.do"), Key: "k2"}); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped delivery: %v, want ErrStopped", err)
	}
	g.leave(func() { g.alone = false })

	r, err := p.Process(t.Context(), Input{Value: msg("probe-3", "x.do"), Key: "k3"})
	if err != nil || r.Status != "ok" {
		t.Fatalf("after the stopped probe: %+v %v; want ok (a new probe goes out)", r, err)
	}
}

func waiting(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return sdk.Wait(sdk.Problem("$.month", "state", "uploads of the month have no outcome yet", "retried by itself")), nil
}

// byID answers each message with its own script.
type byID map[string]*scripted

func (b byID) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return b[req.MessageID].Handle(ctx, req)
}

func answers(fs ...func(*sdk.HandleRequest) (*sdk.HandleResponse, error)) []func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return fs
}

func repeat(n int, f func(*sdk.HandleRequest) (*sdk.HandleResponse, error)) []func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
	out := make([]func(*sdk.HandleRequest) (*sdk.HandleResponse, error), n)
	for i := range out {
		out[i] = f
	}
	return out
}

// TestWaitingDoesNotOpenTheCircuit: a message that waits on purpose
// (sdk.Wait, a precondition of the plugin's own) is retried, but its
// answers are left out of the circuit breaker: repeated more than the
// threshold they do not open the circuit, so another message of the site
// goes through at once, and between ordinary retryable failures they do
// not close it either (the run of failures goes on). Ordinary retryable
// failures still open it. Each first message is given up after its
// answers (MaxAttempts), so that none waits for the cooldown.
func TestWaitingDoesNotOpenTheCircuit(t *testing.T) {
	t.Parallel()
	const threshold = 2
	cases := map[string]struct {
		first      []func(*sdk.HandleRequest) (*sdk.HandleResponse, error)
		status     string   // of the first message
		errs       []string // rules of its reply
		open       bool
		otherCalls int
	}{
		"waiting more than the threshold": {
			first:  append(repeat(threshold+2, waiting), ok),
			status: "ok", otherCalls: 1,
		},
		"waiting to the end is replied as today": {
			first:  repeat(threshold+3, waiting),
			status: "failed", errs: []string{"retries", "state"}, otherCalls: 1,
		},
		"retryable failures": {
			first:  repeat(threshold, transient),
			status: "failed", errs: []string{"transient", "retries"}, open: true,
		},
		"waits between failures neither close nor reset the run": {
			first:  append(append(answers(transient), repeat(threshold+1, waiting)...), transient),
			status: "failed", errs: []string{"transient", "retries"}, open: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := byID{"first": {answers: tc.first}, "other": {answers: answers(ok)}}
			p, _, _ := newProc(t, h, false)
			p.opts.MaxAttempts = len(tc.first)
			// Only a circuit opened too early makes the first message
			// wait: it then fails after this budget.
			p.opts.RetryBudget = 5 * time.Second
			p.brk = newBreaker(threshold, time.Hour)
			r, err := p.Process(t.Context(), Input{Value: msg("first", "x.do"), Key: "k1"})
			if err != nil {
				t.Fatal(err)
			}
			if rules := rulesOf(r); r.Status != tc.status || r.Attempts != len(tc.first) || len(h["first"].calls) != len(tc.first) || !cmp.Equal(rules, tc.errs) {
				t.Fatalf("first message: %s %v after %d attempts, %d calls; want %s %v after %d", r.Status, rules, r.Attempts, len(h["first"].calls), tc.status, tc.errs, len(tc.first))
			}
			if got := p.brk.open("x/s1", p.now()); got != tc.open {
				t.Fatalf("circuit open = %v, want %v", got, tc.open)
			}
			p.opts.RetryBudget = 50 * time.Millisecond
			r, err = p.Process(t.Context(), Input{Value: msg("other", "x.do"), Key: "k2"})
			if err != nil {
				t.Fatal(err)
			}
			want := []string(nil)
			if tc.open {
				want = []string{"circuit", "retries"}
			}
			if n := len(h["other"].calls); n != tc.otherCalls || !cmp.Equal(rulesOf(r), want) {
				t.Fatalf("the other message: %s %v after %d calls; want %d calls and %v", r.Status, rulesOf(r), n, tc.otherCalls, want)
			}
		})
	}
}

func rulesOf(r *message.Reply) []string {
	var rules []string
	for _, e := range r.Errors {
		rules = append(rules, e.Rule)
	}
	return rules
}

// TestWaitingProbe: a waiting answer to the one call a half-open circuit
// lets through says nothing of the external system. It neither closes the
// circuit (the next retryable failure opens it again at once) nor keeps the
// probe's place (the next call is let through).
func TestWaitingProbe(t *testing.T) {
	t.Parallel()
	h := byID{"fail": {answers: repeat(2, transient)}, "wait": {answers: answers(waiting)}, "probe": {answers: answers(transient)}, "held": {answers: answers(ok)}}
	p, _, _ := newProc(t, h, false)
	var (
		mu    sync.Mutex
		ahead time.Duration // the test's clock runs ahead of the real one
	)
	p.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(ahead) })
	// The budget must hold the first message's two calls even on a loaded
	// machine (50 ms did not: that message then gave up after one call);
	// the last message, held by the open circuit, waits it out.
	p.opts.RetryBudget = time.Second
	p.brk = newBreaker(2, time.Hour)
	steps := []struct {
		id    string
		calls int
		rules []string
	}{
		{"fail", 2, []string{"transient", "retries"}},  // opens the circuit
		{"wait", 1, []string{"retries", "state"}},      // after the cooldown: the probe, waiting
		{"probe", 1, []string{"transient", "retries"}}, // let through; opens it again at once
		{"held", 0, []string{"circuit", "retries"}},
	}
	for i, s := range steps {
		if i == 1 {
			mu.Lock()
			ahead = 2 * time.Hour
			mu.Unlock()
		}
		p.opts.MaxAttempts = max(s.calls, 1)
		r, err := p.Process(t.Context(), Input{Value: msg(s.id, "x.do"), Key: s.id})
		if err != nil {
			t.Fatal(err)
		}
		if got := rulesOf(r); r.Status != "failed" || !cmp.Equal(got, s.rules) || len(h[s.id].calls) != s.calls {
			t.Fatalf("message %s: %s %v after %d calls; want failed %v after %d", s.id, r.Status, got, len(h[s.id].calls), s.rules, s.calls)
		}
	}
}
