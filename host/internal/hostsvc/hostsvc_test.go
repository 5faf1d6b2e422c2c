package hostsvc

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

type sent struct {
	topic, key string
	value      []byte
	headers    map[string]string
}

type recorder struct{ recs []sent }

func (r *recorder) Send(_ context.Context, topic string, key, value []byte, headers map[string]string) error {
	r.recs = append(r.recs, sent{topic, string(key), value, headers})
	return nil
}

// TestServices: each plugin's state is its own per site, and an event
// waits for Kafka, then goes to the events topic keyed by its business key
// with the host's headers.
func TestServices(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, "medgate.events")
	a, b := s.For("a"), s.For("b")
	if _, err := a.Put(t.Context(), "h1", "k", []byte("va")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "h1", "k"); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("plugin b reads a's state: %v; want sdk.ErrNotFound", err)
	}
	if _, err := a.Get(t.Context(), "h2", "k"); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("site h2 reads h1's state: %v; want sdk.ErrNotFound", err)
	}
	if e, err := a.Get(t.Context(), "h1", "k"); err != nil || string(e.Value) != "va" {
		t.Errorf("Get = %+v, %v; want va", e, err)
	}

	ev := sdk.Event{Type: "a.done", Key: "visit-1", Payload: json.RawMessage(`{"n":1}`), Headers: map[string]string{"x-a": "1"}}
	if err := a.Publish(t.Context(), "h1", ev); err == nil || !strings.Contains(err.Error(), "Kafka is not connected yet") {
		t.Fatalf("Publish before Kafka = %v", err)
	}
	var pub recorder
	s.SetPublisher(&pub)
	if err := a.Publish(t.Context(), "h1", ev); err != nil {
		t.Fatal(err)
	}
	if len(pub.recs) != 1 {
		t.Fatalf("%d records published, want 1", len(pub.recs))
	}
	r := pub.recs[0]
	var got message.Event
	if err := json.Unmarshal(r.value, &got); err != nil {
		t.Fatal(err)
	}
	if r.topic != "medgate.events" || r.key != "visit-1" || got.Site != "h1" || got.Type != "a.done" || got.ID == "" || string(got.Payload) != `{"n":1}` {
		t.Errorf("published %s/%s %+v", r.topic, r.key, got)
	}
	if r.headers[message.HeaderType] != "a.done" || r.headers[message.HeaderPlugin] != "a" || r.headers[message.HeaderEventID] != got.ID || r.headers["x-a"] != "1" {
		t.Errorf("headers %v", r.headers)
	}
}
