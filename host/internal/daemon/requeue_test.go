package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
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

// TestRequeueAtStart: a request the ingress recorded whose reference
// never reached the request topic (its receiving instance died in
// between) is queued and finished soon after medgate starts, once the
// consumer consumes, not one ingress.RequeueInterval later: the first
// sweep used to come only then, so such a record waited up to two
// minutes after the restart. The sweep at start takes the job's lease
// like any run: while another instance holds it, that instance sweeps,
// and this one does not.
func TestRequeueAtStart(t *testing.T) {
	t.Parallel()
	for _, leased := range []bool{false, true} {
		name := "lease free"
		if leased {
			name = "lease held by another instance"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := filepath.Join(dir, "medgate.db")
			st, err := store.Open(t.Context(), store.DriverSQLite, db)
			if err != nil {
				t.Fatal(err)
			}
			req := []byte(`{"id":"r1","site":"s1","type":"x.do","payload":{}}`)
			_, _, err = st.BeginMessage(t.Context(), store.Message{ID: "r1", Site: "s1", Type: "x.do", Key: "K", Request: req, ReceivedAt: time.Now().Add(-time.Hour)})
			held := time.Now().Add(time.Hour)
			if err == nil && leased {
				_, held, err = st.AcquireLease(t.Context(), "job/medgate/all/requeue", "start-2", time.Hour, time.Now())
			}
			if cerr := st.Close(); err != nil || cerr != nil {
				t.Fatalf("prepare the store: %v, %v", err, cerr)
			}
			cfg := filepath.Join(dir, "medgate.yaml")
			yaml := "node: start-1\n" +
				"kafka:\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, "kafka") + "\n  partitions: 1\n" +
				"store:\n  driver: sqlite\n  path: " + db + "\n" +
				"http:\n  listen: 127.0.0.1:0\n"
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := Start(t.Context(), cfg, Options{Out: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := d.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			// Well within the interval.
			wait := ingress.RequeueInterval / 2
			deadline := time.Now().Add(wait)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				m, err := d.Store().GetMessage(t.Context(), "r1")
				if err != nil {
					t.Fatal(err)
				}
				job := requeueStatus(t, d)
				switch {
				case !leased && m.Status == store.StatusDone:
					return
				case leased && !job.NextRun.Before(held.Add(-time.Second)):
					// The sweep at start found the lease held: it waits
					// for the holder's expiry, and ran nothing.
					if m.Status != store.StatusPending || m.Attempts != 0 || job.Runs != 0 {
						t.Errorf("with the lease held elsewhere the record is %s (%d attempts) after %d runs here; want it left to the holder", m.Status, m.Attempts, job.Runs)
					}
					return
				case time.Now().After(deadline):
					t.Fatalf("%s after start the recorded request is %s with %d attempts, the job %+v; want the sweep at start tried (and, the lease free, the request queued again and finished: answered invalid, site s1 is not configured)", wait, m.Status, m.Attempts, job)
				}
				select {
				case <-t.Context().Done():
					t.Fatal(t.Context().Err())
				case <-tick.C:
				}
			}
		})
	}
}

// requeueStatus is the scheduler's status of the requeue job.
func requeueStatus(t *testing.T, d *Daemon) scheduler.Status {
	t.Helper()
	for _, j := range d.Jobs() {
		if j.ID == "medgate/all/requeue" {
			return j
		}
	}
	t.Fatalf("no job medgate/all/requeue among %+v", d.Jobs())
	return scheduler.Status{}
}
