package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// refusingPub plays a Kafka that refuses records above limit bytes (key
// and value) and topics it cannot write, the way bus.Producer reports it.
type refusingPub struct {
	limit    int
	unusable map[string]bool
	mu       sync.Mutex
	recs     []sent
	headers  []map[string]string
}

func (p *refusingPub) Send(_ context.Context, topic string, key, value []byte, headers map[string]string) error {
	if p.unusable[topic] {
		return fmt.Errorf("send to topic %s: %w: unknown topic", topic, bus.ErrTopicUnusable)
	}
	if len(key)+len(value) > p.limit {
		return fmt.Errorf("send to topic %s: %w: message too large", topic, bus.ErrRecordRefused)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recs = append(p.recs, sent{topic, string(key), value})
	p.headers = append(p.headers, headers)
	return nil
}

func (p *refusingPub) on(topic string) []sent {
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

// TestUnpublishableRecordsFinish: a reply or DLQ record that Kafka cannot
// take as it is gets truncated or redirected and the message finishes
// (Process returns no error, so the offset is committed), instead of
// being retried for ever while its partition waits.
func TestUnpublishableRecordsFinish(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 6000)
	okBig := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"data":"` + big + `"}`)}, nil
	}
	manyErrors := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		var ds sdk.Diagnostics
		for i := range 500 {
			ds = append(ds, sdk.Diagnostic{Severity: sdk.SeverityError, Field: fmt.Sprintf("$.fee[%d].qty", i), Rule: "required", Summary: "qty is required"})
		}
		return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
	}
	manyWarnings := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		var ds sdk.Diagnostics
		for i := range 500 {
			ds.Warn(fmt.Sprintf("$.fee[%d].qty", i), "line-refused", "the national system refused this line", strings.Repeat("w", 100))
		}
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{}`), Diagnostics: ds}, nil
	}
	env := func(id, extra string) []byte {
		return []byte(`{"id":"` + id + `","site":"s1","type":"x.do"` + extra + `,"payload":{"a":1}}`)
	}
	cases := map[string]struct {
		value      []byte
		key        string
		answer     func(*sdk.HandleRequest) (*sdk.HandleResponse, error)
		limit      int
		maxRecord  int // Options.MaxRecordBytes; 0: limit+1000
		unusable   map[string]bool
		status     string
		replyTopic string // where the reply lands ("" for nowhere)
		truncated  bool   // the published reply is the truncated one
		dlq        int
		dlqCut     bool
		lost       int64
		rule       string // a rule the reply must carry
	}{
		"reply payload larger than a record": {value: env("big-reply", ""), answer: okBig, limit: 4000,
			status: "ok", replyTopic: "replies", truncated: true, rule: "truncated"},
		"reply larger than the broker takes": {value: env("refused-reply", ""), answer: okBig, limit: 3000, maxRecord: 1 << 20,
			status: "ok", replyTopic: "replies", truncated: true, rule: "truncated"},
		"invalid reply with many errors, DLQ too large": {value: env("many-errors", ""), answer: manyErrors, limit: 8000,
			status: "invalid", replyTopic: "replies", truncated: true, dlq: 1, dlqCut: true, rule: "required"},
		"ok reply with many warnings": {value: env("many-warnings", ""), answer: manyWarnings, limit: 8000,
			status: "ok", replyTopic: "replies", truncated: true, rule: "truncated"},
		"replyTo not allowed": {value: env("foreign-reply", `,"replyTo":"payments.commands"`), answer: ok, limit: 1 << 20,
			status: "invalid", replyTopic: "replies", dlq: 1, rule: "allowed"},
		"allowed replyTo that cannot be written": {value: env("missing-reply-topic", `,"replyTo":"his.replies"`), answer: ok, limit: 1 << 20,
			unusable: map[string]bool{"his.replies": true}, status: "ok", replyTopic: "replies", truncated: true, rule: "truncated"},
		"allowed replyTo": {value: env("own-reply-topic", `,"replyTo":"his.replies"`), answer: ok, limit: 1 << 20,
			status: "ok", replyTopic: "his.replies"},
		"refused even truncated": {value: env("nothing-fits", ""), answer: okBig, limit: 100,
			status: "ok", lost: 1},
		"key with a NUL byte": {value: env("nul-key", ""), key: "visit\x00", answer: ok, limit: 1 << 20,
			status: "invalid", replyTopic: "replies", dlq: 1, rule: "key"},
		"key longer than a business key": {value: env("long-key", ""), key: strings.Repeat("k", message.MaxKeyBytes+1), answer: ok, limit: 1 << 20,
			status: "invalid", replyTopic: "replies", dlq: 1, rule: "key"},
		"site with control characters": {value: []byte(`{"id":"ctl-site","site":"s1\u0000\n","type":"x.do","payload":{}}`), answer: ok, limit: 1 << 20,
			status: "invalid", replyTopic: "replies", dlq: 1, rule: "unknown"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			maxRecord := tc.maxRecord
			if maxRecord == 0 {
				maxRecord = tc.limit + 1000
			}
			pub := &refusingPub{limit: tc.limit, unusable: tc.unusable}
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){tc.answer}}
			p, err := New(Options{Store: st, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				MaxPayloadBytes: 1 << 20, MaxRecordBytes: maxRecord, ReplyTopics: []string{"his.replies"},
				MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
				CallTimeout: time.Second, UploadDeadline: time.Minute, RetryBudget: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
			key := tc.key
			if key == "" {
				key = "visit-1"
			}
			r, err := p.Process(t.Context(), Input{Value: tc.value, Key: key})
			if err != nil {
				t.Fatalf("Process = %v; a record Kafka refuses for good must not leave the message unfinished", err)
			}
			if r.Status != tc.status {
				t.Fatalf("status %q, want %q (errors %+v)", r.Status, tc.status, r.Errors)
			}
			if tc.rule != "" && !hasRule(r.Errors, tc.rule) && !hasRule(lastReply(t, pub, tc.replyTopic).Errors, tc.rule) {
				t.Errorf("no error with rule %q in %+v", tc.rule, r.Errors)
			}
			all := len(pub.on("replies")) + len(pub.on("his.replies"))
			switch {
			case tc.replyTopic == "" && all != 0:
				t.Errorf("%d replies published, want none", all)
			case tc.replyTopic != "":
				got := pub.on(tc.replyTopic)
				if len(got) != 1 || all != 1 {
					t.Fatalf("%d replies on %s and %d in all, want exactly 1 on %s", len(got), tc.replyTopic, all, tc.replyTopic)
				}
				pr := lastReply(t, pub, tc.replyTopic)
				if pr.RequestID != r.RequestID || pr.ID != r.ID || pr.Status != r.Status {
					t.Errorf("published reply %+v does not keep id, requestId and status of %+v", pr, r)
				}
				if cut := hasRule(pr.Errors, "truncated"); cut != tc.truncated {
					t.Errorf("published reply truncated = %v, want %v: %+v", cut, tc.truncated, pr.Errors)
				}
				if tc.truncated && (len(pr.Payload) != 0 || len(pr.Errors) > maxKeptErrors+1) {
					t.Errorf("truncated reply keeps its payload (%d bytes) or %d errors", len(pr.Payload), len(pr.Errors))
				}
				if want := key; message.CheckKey(key) != nil {
					if got[0].key != r.RequestID {
						t.Errorf("reply keyed %q, want the request id %q (the key %q is unusable)", got[0].key, r.RequestID, want)
					}
				}
			}
			dl := pub.on("dlq")
			if len(dl) != tc.dlq {
				t.Fatalf("%d DLQ records, want %d", len(dl), tc.dlq)
			}
			if tc.dlq > 0 {
				var d message.DeadLetter
				if err := json.Unmarshal(dl[0].value, &d); err != nil {
					t.Fatal(err)
				}
				if d.Truncated != tc.dlqCut || d.Reply == nil || d.Reply.RequestID != r.RequestID {
					t.Errorf("DLQ record truncated=%v reply=%+v, want truncated=%v with the reply", d.Truncated, d.Reply, tc.dlqCut)
				}
			}
			if _, lost := p.Unpublishable(); lost != tc.lost {
				t.Errorf("lost records %d, want %d", lost, tc.lost)
			}
			if m, err := st.GetMessage(t.Context(), r.RequestID); err == nil {
				var stored message.Reply
				if err := json.Unmarshal(m.Reply, &stored); err != nil || stored.Status != r.Status || hasRule(stored.Errors, "truncated") {
					t.Errorf("stored reply %s (%v): want the complete reply", m.Reply, err)
				}
				if strings.ContainsFunc(m.Site, func(r rune) bool { return r < 0x20 }) {
					t.Errorf("stored site %q holds control characters", m.Site)
				}
			} else if message.CheckKey(key) == nil {
				t.Errorf("message not stored: %v", err)
			}
		})
	}
}

func hasRule(errs []message.ReplyError, rule string) bool {
	for _, e := range errs {
		if e.Rule == rule {
			return true
		}
	}
	return false
}

func lastReply(t *testing.T, pub *refusingPub, topic string) message.Reply {
	t.Helper()
	recs := pub.on(topic)
	if len(recs) == 0 {
		return message.Reply{}
	}
	var r message.Reply
	if err := json.Unmarshal(recs[len(recs)-1].value, &r); err != nil {
		t.Fatalf("reply on %s is not JSON: %v", topic, err)
	}
	return r
}

func TestNewNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	topics := Topics{Replies: "replies", DLQ: "dlq"}
	cases := map[string]struct {
		o    Options
		want []string
	}{
		"nothing":      {o: Options{}, want: []string{"Store", "Publisher", "Topics.Replies"}},
		"no publisher": {o: Options{Store: st, Topics: topics}, want: []string{"Publisher"}},
		"no dlq topic": {o: Options{Store: st, Publisher: &memPub{}, Topics: Topics{Replies: "r"}}, want: []string{"Topics.DLQ"}},
		"all required": {o: Options{Store: st, Publisher: &memPub{}, Topics: topics}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := New(tc.o)
			if len(tc.want) == 0 {
				if err != nil || p == nil {
					t.Fatalf("New = %v, %v; want a processor", p, err)
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded; want an error naming what is missing")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestMalformedHugeIDStillAnswered: an envelope too broken to have a usable
// id, whose id field alone is larger than a record, still gets its invalid
// reply published (truncated, keyed by nothing) and finishes.
func TestMalformedHugeIDStillAnswered(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub := &refusingPub{limit: 4000}
	p, err := New(Options{Store: st, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxPayloadBytes: 1 << 20, MaxRecordBytes: 4000, MaxAttempts: 1, CallTimeout: time.Second, RetryBudget: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	value := []byte(`{"id":"` + strings.Repeat("\u00e9", 5000) + `","site":"s1"}`)
	r, err := p.Process(t.Context(), Input{Value: value})
	if err != nil || r.Status != message.StatusInvalid {
		t.Fatalf("Process = %+v, %v; want an invalid reply and no error", r, err)
	}
	got := pub.on("replies")
	if len(got) != 1 || got[0].key != "" {
		t.Fatalf("%d replies (key %q), want 1 without a key", len(got), got)
	}
	if _, lost := p.Unpublishable(); lost != 0 {
		t.Errorf("%d records lost, want 0", lost)
	}
}
