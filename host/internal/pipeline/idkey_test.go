package pipeline

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestIDPendingUnderAnotherKey: a message whose id is pending under another
// key is answered invalid (rule RuleIDInUse) under its own key, with no
// plugin call, and the pending record is left as it was for the delivery
// that began it; under the record's own key the message is reconciled as
// before, and a done record answers any key with its stored reply.
func TestIDPendingUnderAnotherKey(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		typ    string // of the delivered message
		value  []byte // the delivered message (default msg("x", typ))
		done   bool   // the record of x under K1 is done (ok), not pending
		key    string // of the delivery
		status string
		errs   []errKey
		calls  int
		dlq    int
		// stored is the record of x afterwards: status, outcome, attempts.
		stored [3]any
	}{
		"pending under another key": {typ: "x.do", key: "K2", status: message.StatusInvalid, errs: []errKey{{"$.id", RuleIDInUse}}, dlq: 1,
			stored: [3]any{store.StatusPending, "", 1}},
		"pending query under another key": {typ: "x.check", key: "K2", status: message.StatusInvalid, errs: []errKey{{"$.id", RuleIDInUse}}, dlq: 1,
			stored: [3]any{store.StatusPending, "", 1}},
		"pending under another key, with envelope errors": {key: "K2", value: []byte(`{"id":"x","site":"s1","type":"x.do","format":"xml","payload":{}}`),
			status: message.StatusInvalid, errs: []errKey{{"$.format", "enum"}, {"$.id", RuleIDInUse}}, dlq: 1,
			stored: [3]any{store.StatusPending, "", 1}},
		"pending under its own key is reconciled": {typ: "x.do", key: "K1", status: message.StatusOK, calls: 1,
			stored: [3]any{store.StatusDone, message.StatusOK, 2}},
		"done under another key replays the stored reply": {typ: "x.do", done: true, key: "K2", status: message.StatusOK,
			stored: [3]any{store.StatusDone, message.StatusOK, 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
			p, pub, _ := queryProc(t, st, h)
			ctx := t.Context()
			// The delivery under K1 began x (and called the plugin once).
			if _, _, err := st.BeginMessage(ctx, store.Message{ID: "x", Site: "s1", Type: "x.do", Key: "K1", Request: msg("x", "x.do"), Attempts: 1}); err != nil {
				t.Fatal(err)
			}
			if tc.done {
				data, _ := json.Marshal(&message.Reply{ID: "r1", RequestID: "x", Site: "s1", Type: "x.do", Status: message.StatusOK, Attempts: 1})
				if err := st.FinishMessage(ctx, "x", message.StatusOK, data, 1); err != nil {
					t.Fatal(err)
				}
			}
			value := tc.value
			if value == nil {
				value = msg("x", tc.typ)
			}
			r, err := p.Process(ctx, Input{Value: value, Key: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			checkDelivery(t, r, tc.status, tc.errs, len(h.calls), tc.calls, pub, tc.key, tc.dlq)
			m, err := st.GetMessage(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			if got := [3]any{m.Status, m.Outcome, m.Attempts}; got != tc.stored || m.Key != "K1" {
				t.Errorf("stored record %v under key %s, want %v under K1", got, m.Key, tc.stored)
			}
		})
	}
}

// TestIDUnderTwoKeysAtTwoInstances: one id delivered under two keys to two
// instances sharing the store at once (each instance's key lock covers
// its own key only) reaches the plugin once. The delivery whose insert
// created the record calls the plugin and stores its outcome; the other,
// arriving while the first is in the plugin, is answered invalid without
// a call and without touching the record.
func TestIDUnderTwoKeysAtTwoInstances(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	entered, release := make(chan struct{}), make(chan struct{})
	first := ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return ok(req)
	})
	second := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	pa, pubA, _ := queryProc(t, st, first)
	pb, pubB, _ := queryProc(t, st, second)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	type result struct {
		r   *message.Reply
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := pa.Process(ctx, Input{Value: msg("twice", "x.do"), Key: "K1"})
		done <- result{r, err}
	}()
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("the first delivery never reached the plugin")
	}
	rb, err := pb.Process(ctx, Input{Value: msg("twice", "x.do"), Key: "K2"})
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Status != message.StatusInvalid || len(rb.Errors) != 1 || rb.Errors[0].Rule != RuleIDInUse {
		t.Errorf("second delivery: %s %+v; want invalid with rule %s", rb.Status, rb.Errors, RuleIDInUse)
	}
	if n := len(second.calls); n != 0 {
		t.Errorf("the second instance called the plugin %d times while the first was in it; want 0", n)
	}
	ra := <-done
	if ra.err != nil || ra.r.Status != message.StatusOK || ra.r.Attempts != 1 {
		t.Fatalf("first delivery: %+v, %v; want ok after 1 attempt", ra.r, ra.err)
	}
	m, err := st.GetMessage(t.Context(), "twice")
	if err != nil {
		t.Fatal(err)
	}
	var stored message.Reply
	if err := json.Unmarshal(m.Reply, &stored); err != nil {
		t.Fatal(err)
	}
	if m.Status != store.StatusDone || m.Key != "K1" || stored.ID != ra.r.ID {
		t.Errorf("stored %s under %s with reply %s; want done under K1 with the first delivery's reply %s", m.Status, m.Key, stored.ID, ra.r.ID)
	}
	if a, b := pubA.on("replies"), pubB.on("replies"); len(a) != 1 || a[0].key != "K1" || len(b) != 1 || b[0].key != "K2" {
		t.Errorf("replies: first instance %+v, second %+v; want one each under its key", a, b)
	}
}

// TestIDReusedForAnotherMessage: a message whose id has a record of
// another message (another site, type, format or payload) is not that
// message's redelivery: it gets an invalid reply (rule RuleIDReused)
// under its own key, with no plugin call and a DLQ record, and the record
// is left as it was; the stored reply of the other message is not handed
// back as if it were this one's outcome. The same message sent again,
// even written differently (spacing, member order, another occurredAt or
// key), still gets the stored reply.
func TestIDReusedForAnotherMessage(t *testing.T) {
	t.Parallel()
	const stored = `{"id":"x","site":"s1","type":"x.do","occurredAt":"2026-12-04T08:00:00+08:00","payload":{"a":1,"b":[1,2]}}`
	reused := []errKey{{"$.id", RuleIDReused}}
	cases := map[string]struct {
		pending bool // the record of x is pending (a crashed delivery), not done
		key     string
		value   string
		status  string
		errs    []errKey
		calls   int
		dlq     int
		want    [2]string // status and outcome of the record afterwards
	}{
		"the same message": {key: "K1", value: stored, status: message.StatusOK, want: [2]string{store.StatusDone, message.StatusOK}},
		"the same message written differently": {key: "K2",
			value:  `{ "payload": {"b":[1, 2], "a":1.0}, "type":"x.do","site":"s1","id":"x","format":"json","occurredAt":"2026-12-04T09:00:00+08:00"}`,
			status: message.StatusOK, want: [2]string{store.StatusDone, message.StatusOK}},
		"another payload": {key: "K1", value: `{"id":"x","site":"s1","type":"x.do","payload":{"a":2,"b":[1,2]}}`,
			status: message.StatusInvalid, errs: reused, dlq: 1, want: [2]string{store.StatusDone, message.StatusOK}},
		"another type": {key: "K1", value: `{"id":"x","site":"s1","type":"x.check","payload":{"a":1,"b":[1,2]}}`,
			status: message.StatusInvalid, errs: reused, dlq: 1, want: [2]string{store.StatusDone, message.StatusOK}},
		"another site": {key: "K1", value: `{"id":"x","site":"s2","type":"x.do","payload":{"a":1,"b":[1,2]}}`,
			status: message.StatusInvalid, errs: reused, dlq: 1, want: [2]string{store.StatusDone, message.StatusOK}},
		"another format": {key: "K1", value: `{"id":"x","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|A"}`,
			status: message.StatusInvalid, errs: reused, dlq: 1, want: [2]string{store.StatusDone, message.StatusOK}},
		"pending, another payload": {pending: true, key: "K1", value: `{"id":"x","site":"s1","type":"x.do","payload":{"a":2}}`,
			status: message.StatusInvalid, errs: reused, dlq: 1, want: [2]string{store.StatusPending, ""}},
		"pending, the same message is reconciled": {pending: true, key: "K1", value: stored, status: message.StatusOK, calls: 1,
			want: [2]string{store.StatusDone, message.StatusOK}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
			p, pub, _ := queryProc(t, st, h)
			ctx := t.Context()
			if _, _, err := st.BeginMessage(ctx, store.Message{ID: "x", Site: "s1", Type: "x.do", Key: "K1", Request: []byte(stored), Attempts: 1}); err != nil {
				t.Fatal(err)
			}
			if !tc.pending {
				data, _ := json.Marshal(&message.Reply{ID: "r1", RequestID: "x", Site: "s1", Type: "x.do", Status: message.StatusOK, Attempts: 1})
				if err := st.FinishMessage(ctx, "x", message.StatusOK, data, 1); err != nil {
					t.Fatal(err)
				}
			}
			r, err := p.Process(ctx, Input{Value: []byte(tc.value), Key: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			checkDelivery(t, r, tc.status, tc.errs, len(h.calls), tc.calls, pub, tc.key, tc.dlq)
			m, err := st.GetMessage(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			if got := [2]string{m.Status, m.Outcome}; got != tc.want || string(m.Request) != stored {
				t.Errorf("stored record %v with request %s, want %v with the first request", got, m.Request, tc.want)
			}
		})
	}
}

// errKey is a reply error's path and rule.
type errKey struct{ Field, Rule string }

// checkDelivery checks what the pipeline did with one delivery under key:
// its reply's status and errors, the plugin calls made, one reply
// published under key, and dlq DLQ records.
func checkDelivery(t *testing.T, r *message.Reply, status string, errs []errKey, calls, wantCalls int, pub *memPub, key string, dlq int) {
	t.Helper()
	var got []errKey
	for _, e := range r.Errors {
		got = append(got, errKey{e.Field, e.Rule})
	}
	if r.Status != status || !cmp.Equal(got, errs) {
		t.Errorf("reply %s %v, want %s %v", r.Status, got, status, errs)
	}
	if calls != wantCalls {
		t.Errorf("%d plugin calls, want %d", calls, wantCalls)
	}
	if rs := pub.on("replies"); len(rs) != 1 || rs[0].key != key {
		t.Errorf("replies %+v, want one under the delivery's key %s", rs, key)
	}
	if n := len(pub.on("dlq")); n != dlq {
		t.Errorf("%d DLQ records, want %d", n, dlq)
	}
}
