package ingress

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
)

// TestErrorsNameTheirDependency checks that each error of Process and
// Replay caused by Kafka or the store is marked with that dependency
// (DependencyError), so the HTTP answer can tell a passing outage of it
// from a fault of medgate, while errors.Is still finds the store's
// sentinels and the text stays the same.
func TestErrorsNameTheirDependency(t *testing.T) {
	t.Parallel()
	kafkaDown := errors.New("send to topic requests: kafka: client has run out of available brokers to talk to")
	large := func(id string) pipeline.Input {
		return pipeline.Input{Value: []byte(`{"id":"` + id + `","site":"s1","type":"ledger.noop","payload":{"pad":"` + strings.Repeat("x", 300) + `"}}`)}
	}
	cases := map[string]struct {
		run  func(t *testing.T, g *Ingress, pub *publisher, cs *countingStore) error
		dep  string
		is   error  // also found by errors.Is
		text string // in the error's text
	}{
		"Kafka does not take the request": {dep: Kafka, is: kafkaDown, text: `queue message "d1" on requests`,
			run: func(t *testing.T, g *Ingress, pub *publisher, _ *countingStore) error {
				pub.err = kafkaDown
				_, err := g.Process(t.Context(), request("d1"))
				return err
			}},
		"too large, the store cannot record it": {dep: Store, text: "it was not accepted",
			run: func(t *testing.T, g *Ingress, pub *publisher, cs *countingStore) error {
				pub.limit = 200
				g.store = beginFailing{cs}
				_, err := g.Process(t.Context(), large("d2"))
				return err
			}},
		"too large, the reference not queued": {dep: Kafka, is: bus.ErrRecordRefused, text: "recorded in the store and will be completed",
			run: func(t *testing.T, g *Ingress, pub *publisher, _ *countingStore) error {
				pub.err = fmt.Errorf("%w: message too large", bus.ErrRecordRefused)
				_, err := g.Process(t.Context(), large("d3"))
				return err
			}},
		"replay, Kafka does not take it": {dep: Kafka, is: kafkaDown, text: "the message stays failed",
			run: func(t *testing.T, g *Ingress, pub *publisher, cs *countingStore) error {
				if _, _, err := cs.BeginMessage(t.Context(), store.Message{ID: "d4", Site: "s1", Type: "ledger.noop", Key: "d4", Request: request("d4").Value, ReceivedAt: time.Now(), Attempts: 1}); err != nil {
					t.Fatal(err)
				}
				if err := finish(cs, &message.Reply{ID: "r4", RequestID: "d4", Site: "s1", Type: "ledger.noop", Status: message.StatusFailed}); err != nil {
					t.Fatal(err)
				}
				pub.err = kafkaDown
				return g.Replay(t.Context(), "d4")
			}},
		"no usable id, its answer not published": {dep: Kafka, is: kafkaDown, text: "publish the reply",
			run: func(t *testing.T, g *Ingress, _ *publisher, _ *countingStore) error {
				g.proc = failingProcessor{fmt.Errorf("pipeline: publish the reply: %w", kafkaDown)}
				_, err := g.Process(t.Context(), pipeline.Input{Value: []byte(`{"site":"s1","type":"ledger.noop"}`)})
				return err
			}},
		"replay, no such message": {dep: Store, is: store.ErrNotFound,
			run: func(t *testing.T, g *Ingress, _ *publisher, _ *countingStore) error {
				return g.Replay(t.Context(), "d5")
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pub := &publisher{}
			g, cs := newIngress(t, pub)
			err := tc.run(t, g, pub, cs)
			de, ok := errors.AsType[*DependencyError](err)
			if !ok || de.Dependency != tc.dep {
				t.Fatalf("error %v (%T); want it marked as %s's (DependencyError)", err, err, tc.dep)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v does not wrap %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q; want it to say %q", err, tc.text)
			}
		})
	}
}

// failingProcessor answers every request with err.
type failingProcessor struct{ err error }

func (p failingProcessor) Process(context.Context, pipeline.Input) (*message.Reply, error) {
	return nil, p.err
}
