package hostsvc

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestEventSizeBound: an event with a payload of sdk.MaxEventPayloadBytes
// is published through a real producer; one byte more is refused before
// Kafka with the status the SDK reports as sdk.ErrTooLarge ("larger than
// max"), and so is a record the producer refuses, where before a plugin
// got a bare Kafka error it could not tell from a passing outage.
func TestEventSizeBound(t *testing.T) {
	if sdk.MaxEventPayloadBytes != config.MaxPayloadLimit {
		t.Fatalf("sdk.MaxEventPayloadBytes %d, host's payload limit %d: keep them equal", sdk.MaxEventPayloadBytes, config.MaxPayloadLimit)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "medgate.events"))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	p, err := bus.NewProducer(bus.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, "medgate.events")
	s.SetPublisher(p)
	a := s.For("a")

	// payload is a JSON string of n bytes in all.
	payload := func(n int) json.RawMessage {
		return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`)
	}
	headers := map[string]string{"x-long": strings.Repeat("h", 900)}
	cases := []struct {
		name    string
		payload json.RawMessage
		headers map[string]string
		refused bool
	}{
		{"at the bound", payload(sdk.MaxEventPayloadBytes), headers, false},
		{"one byte over", payload(sdk.MaxEventPayloadBytes + 1), nil, true},
		{"the record refused by the producer", payload(1000), map[string]string{"x-huge": strings.Repeat("h", bus.MaxRecordBytes)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Publish(t.Context(), "h1", sdk.Event{Type: "a.big", Key: "k", Payload: tc.payload, Headers: tc.headers})
			if !tc.refused {
				if err != nil {
					t.Fatalf("Publish = %v; want published", err)
				}
				return
			}
			st, _ := status.FromError(err)
			if err == nil || st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "larger than max") || !strings.Contains(st.Message(), "PutArtifact") {
				t.Fatalf("Publish = %v; want ResourceExhausted saying larger than max and what to do", err)
			}
		})
	}
}
