package hostsvc

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// upper plays the outbound mappings: it maps events of type a.mapped of
// site h1, seeing medgate's event JSON, and sets a header.
type upper struct{ docs []message.Event }

func (u *upper) Outbound(kind, site, typ string, doc []byte, headers map[string]string) []byte {
	var ev message.Event
	_ = json.Unmarshal(doc, &ev)
	u.docs = append(u.docs, ev)
	if kind != "event" || site != "h1" || typ != "a.mapped" {
		return doc
	}
	headers[message.HeaderFormat] = "hl7v2"
	return []byte("MSH|^~\\&|" + ev.ID + "\r")
}

// TestPublishMapsEvents: events pass through the outbound mappings with
// medgate's event JSON, and what they return is published.
func TestPublishMapsEvents(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, "medgate.events")
	var pub recorder
	var out upper
	s.SetPublisher(&pub)
	s.SetOutbound(&out)
	a := s.For("a")
	for _, typ := range []string{"a.mapped", "a.other"} {
		if err := a.Publish(t.Context(), "h1", sdk.Event{ID: typ + "/1", Type: typ, Payload: json.RawMessage(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(out.docs) != 2 || out.docs[0].Site != "h1" || out.docs[0].ID != "a.mapped/1" || string(out.docs[0].Payload) != `{"n":1}` {
		t.Fatalf("the mappings saw %+v", out.docs)
	}
	if got := string(pub.recs[0].value); got != "MSH|^~\\&|a.mapped/1\r" || pub.recs[0].headers[message.HeaderFormat] != "hl7v2" {
		t.Errorf("mapped event published as %q %v", got, pub.recs[0].headers)
	}
	var ev message.Event
	if err := json.Unmarshal(pub.recs[1].value, &ev); err != nil || ev.Type != "a.other" || pub.recs[1].headers[message.HeaderFormat] != "" {
		t.Errorf("unmapped event published as %s %v", pub.recs[1].value, pub.recs[1].headers)
	}
}
