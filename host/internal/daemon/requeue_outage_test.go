package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// stepClock is a scheduler.Clock that moves only when told to.
type stepClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []stepWaiter
}

type stepWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, stepWaiter{c.now.Add(d), ch})
	return ch
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = keep
}

func (c *stepClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// downTopic is a request topic on a Kafka that does not answer: a Send
// waits for the acknowledgement until its context ends, as bus.Producer's
// can while the brokers cannot be reached (sarama retries the record,
// each time waiting for a connection up to its dial timeout).
type downTopic struct{ sending chan struct{} }

func (p *downTopic) Send(ctx context.Context, topic string, _, _ []byte, _ map[string]string) error {
	select {
	case p.sending <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return fmt.Errorf("send to topic %s: outcome unknown, the message may still be written: %w", topic, ctx.Err())
}

// answeredLeases is the store's leases, counting the calls not answered
// yet: the test moves the clock only between them, as a store that
// answers at once, so that no renewal times out on the test's clock.
type answeredLeases struct {
	scheduler.Leases
	waiting atomic.Int32
}

func (l *answeredLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	return l.Leases.AcquireLease(ctx, name, holder, ttl, now)
}

// syncLog collects a logger's text output, safe for concurrent use.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRequeueOverrunDuringKafkaOutage: while Kafka cannot be reached
// (the consumer is out of its group, which /readyz reports), a requeue
// run blocked on the broker past its bound is cancelled as any overrun,
// but logged as a warning naming the outage, not as an ALERT blaming a
// hung job: the outage is reported already, the cancellation cannot end
// it, and the next run blocks the same way, so an ALERT every few
// minutes of the outage would be noise.
func TestRequeueOverrunDuringKafkaOutage(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), store.DriverSQLite, filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clock := &stepClock{now: time.Now()}
	req := []byte(`{"id":"r1","site":"s1","type":"x.do","payload":{}}`)
	if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "r1", Site: "s1", Type: "x.do", Key: "K", Request: req, ReceivedAt: clock.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	pub := &downTopic{sending: make(chan struct{}, 1)}
	logs := &syncLog{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	// No consumer: Kafka is not ready, as /readyz reports it.
	d := &Daemon{log: log, ingress: ingress.New(ingress.Options{Store: st, Publisher: pub, Topic: "requests", MaxPayloadBytes: 1 << 20, Logger: log})}
	leases := &answeredLeases{Leases: st}
	sched := scheduler.New(leases, "n1", clock, log)
	job := d.requeueJob()
	sched.SetJobs([]scheduler.Job{job})
	done := make(chan error, 1)
	go func() { done <- sched.Trigger(t.Context(), job.ID()) }()
	select {
	case <-pub.sending:
	case <-t.Context().Done():
		t.Fatal("the requeue run never sent the reference")
	}
	// Step the clock while the run's lease renewal waits on it, until the
	// run ends (at its bound: its Send never returns before).
	start := clock.Now()
	deadline := time.Now().Add(10 * time.Second)
	var runErr error
	for ran := false; !ran; {
		if time.Now().After(deadline) {
			t.Fatalf("the run blocked on the broker did not end within %s of the clock; log:\n%s", clock.Now().Sub(start), logs)
		}
		if clock.pending() > 0 && leases.waiting.Load() == 0 {
			clock.advance(10 * time.Second)
		}
		select {
		case runErr = <-done:
			ran = true
		case <-time.After(time.Millisecond):
		}
	}
	if !errors.Is(runErr, scheduler.ErrOverran) {
		t.Fatalf("the blocked run ended with %v, want it cancelled at its bound (ErrOverran)", runErr)
	}
	out := logs.String()
	if strings.Contains(out, "ALERT") {
		t.Errorf("a run blocked by the Kafka outage raised an ALERT:\n%s", out)
	}
	found := false
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "lasted longer than its bound") && strings.Contains(line, "Kafka") && strings.Contains(line, "job=medgate/all/requeue") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning names the overrun and the Kafka outage:\n%s", out)
	}
}
