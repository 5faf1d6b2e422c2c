package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
)

// topic keeps the records sent to it.
type topic struct {
	mu   sync.Mutex
	refs []string // HeaderStoredRequest of each record
}

func (p *topic) Send(_ context.Context, _ string, _, _ []byte, h map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refs = append(p.refs, h[pipeline.HeaderStoredRequest])
	return nil
}

// TestRequeueJob: the scheduled requeue job queues a reference to an HTTP
// request the ingress recorded whose reference never reached the request
// topic (its receiving instance died in between), every
// ingress.RequeueInterval.
func TestRequeueJob(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), store.DriverSQLite, filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	req := []byte(`{"id":"r1","site":"s1","type":"x.do","payload":{}}`)
	if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "r1", Site: "s1", Type: "x.do", Key: "K", Request: req, ReceivedAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	pub := &topic{}
	d := &Daemon{ingress: ingress.New(ingress.Options{Store: st, Publisher: pub, Topic: "requests", MaxPayloadBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})}
	j := d.requeueJob()
	if err := j.Run(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if j.Interval != ingress.RequeueInterval || len(pub.refs) != 1 || pub.refs[0] != "r1" {
		t.Errorf("job every %s queued references to %q; want every %s, one to r1", j.Interval, pub.refs, ingress.RequeueInterval)
	}
}
