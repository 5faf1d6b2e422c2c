package hostsvc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// safeRecorder records what the pipeline publishes (replies, DLQ).
type safeRecorder struct {
	mu   sync.Mutex
	recs map[string][][]byte
}

func (r *safeRecorder) Send(_ context.Context, topic string, _, value []byte, _ map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recs == nil {
		r.recs = map[string][][]byte{}
	}
	r.recs[topic] = append(r.recs[topic], value)
	return nil
}

func (r *safeRecorder) on(topic string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recs[topic]
}

// publisher is a plugin handler that publishes one event per message
// through the host services, failing its call when the host refuses, as
// the shipped adapters do.
type publisher struct{ host sdkhost.HostServer }

func (p publisher) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	if err := p.host.Publish(ctx, req.Site, sdk.Event{Type: "p.done", Key: req.Key}); err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// TestLimitsLeaveRepliesAlone: the pipeline's replies and DLQ records for
// a plugin are not counted against its publish limit (more replies go out
// than the plugin's burst), and a message whose event the limit refuses
// is not dropped: its call fails, it is retried, and past its retry
// budget it is answered failed and goes to the DLQ with the refusal,
// naming the key that raises the limit.
func TestLimitsLeaveRepliesAlone(t *testing.T) {
	t.Parallel()
	s, events, _, st := limited(t, Limits{PublishPerSecond: 1, PublishBurst: 2, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10})
	out := &safeRecorder{}
	p, err := pipeline.New(pipeline.Options{Store: st, Publisher: out, Topics: pipeline.Topics{Replies: "replies", DLQ: "dlq"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Journal: s,
		MaxPayloadBytes: 1 << 10, MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		CallTimeout: time.Second, UploadDeadline: time.Minute, RetryBudget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"p": {
		Plugin:     "p",
		Handler:    publisher{host: s.For("p")},
		Operations: map[string]sdk.Operation{"p.do": {Type: "p.do"}, "p.noop": {Type: "p.noop"}},
	}}}})
	const n = 5
	for i := range n {
		v := `{"id":"m` + string(rune('0'+i)) + `","site":"s1","type":"p.do","occurredAt":"` + time.Now().Format(time.RFC3339) + `","payload":{}}`
		if _, err := p.Process(t.Context(), pipeline.Input{Value: []byte(v), Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	replies := out.on("replies")
	if len(replies) != n {
		t.Fatalf("%d replies published, want %d: replies are not the plugin's events and must not be limited", len(replies), n)
	}
	if len(events.recs) != 2 {
		t.Errorf("%d events published, want 2 (the burst)", len(events.recs))
	}
	for i, v := range replies {
		var r message.Reply
		if err := json.Unmarshal(v, &r); err != nil {
			t.Fatal(err)
		}
		switch {
		case i < 2 && r.Status != message.StatusOK:
			t.Errorf("reply %d: %s %+v, want ok (within the burst)", i, r.Status, r.Errors)
		case i >= 2 && (r.Status != message.StatusFailed || r.Attempts != 3 || len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "publishPerSecond")):
			t.Errorf("reply %d: %s after %d attempts %+v, want failed after 3 attempts, naming publishPerSecond", i, r.Status, r.Attempts, r.Errors)
		}
	}
	if got := len(out.on("dlq")); got != n-2 {
		t.Errorf("%d DLQ records, want %d: a refused message goes to the DLQ with the reason", got, n-2)
	}
}

// statePutter is a plugin handler that writes one state value per message
// through the host services, failing its call when the host refuses, as
// the shipped adapters do.
type statePutter struct{ host sdkhost.HostServer }

func (p statePutter) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	if _, err := p.host.Put(ctx, req.Site, "done/"+req.MessageID, []byte("1")); err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// TestStateWriteLimitFailsTheCall: a message whose state write the
// plugin's stateWritesPerSecond refuses is not lost: its call fails, it
// is retried, and past its retry budget it is answered failed and goes to
// the DLQ with the refusal, naming the key that raises the limit; each
// refusal is counted under that key.
func TestStateWriteLimitFailsTheCall(t *testing.T) {
	t.Parallel()
	s, _, _, st := limited(t, Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: NoLimit, JournalBurst: 1, StateValueBytes: 10,
		StateWritesPerSecond: 1, StateWritesBurst: 2})
	var mu sync.Mutex
	counted := map[string]int{}
	s.SetRefusals(slog.New(slog.NewTextHandler(io.Discard, nil)), func(plugin, limit string) {
		mu.Lock()
		defer mu.Unlock()
		counted[plugin+"/"+limit]++
	})
	out := &safeRecorder{}
	p, err := pipeline.New(pipeline.Options{Store: st, Publisher: out, Topics: pipeline.Topics{Replies: "replies", DLQ: "dlq"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Journal: s,
		MaxPayloadBytes: 1 << 10, MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		CallTimeout: time.Second, UploadDeadline: time.Minute, RetryBudget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"p": {
		Plugin: "p", Handler: statePutter{host: s.For("p")}, Operations: map[string]sdk.Operation{"p.do": {Type: "p.do"}},
	}}}})
	const n = 4
	for i := range n {
		v := `{"id":"m` + string(rune('0'+i)) + `","site":"s1","type":"p.do","occurredAt":"` + time.Now().Format(time.RFC3339) + `","payload":{}}`
		if _, err := p.Process(t.Context(), pipeline.Input{Value: []byte(v), Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	replies := out.on("replies")
	if len(replies) != n {
		t.Fatalf("%d replies, want %d", len(replies), n)
	}
	for i, v := range replies {
		var r message.Reply
		if err := json.Unmarshal(v, &r); err != nil {
			t.Fatal(err)
		}
		switch {
		case i < 2 && r.Status != message.StatusOK:
			t.Errorf("reply %d: %s %+v, want ok (within the burst)", i, r.Status, r.Errors)
		case i >= 2 && (r.Status != message.StatusFailed || r.Attempts != 3 || len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "stateWritesPerSecond")):
			t.Errorf("reply %d: %s after %d attempts %+v, want failed after 3 attempts, naming stateWritesPerSecond", i, r.Status, r.Attempts, r.Errors)
		}
	}
	if got := len(out.on("dlq")); got != n-2 {
		t.Errorf("%d DLQ records, want %d: a refused message goes to the DLQ with the reason", got, n-2)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := counted["p/stateWritesPerSecond"]; got != 3*(n-2) {
		t.Errorf("refusals counted %v, want %d under p/stateWritesPerSecond (3 attempts of %d messages)", counted, 3*(n-2), n-2)
	}
}
