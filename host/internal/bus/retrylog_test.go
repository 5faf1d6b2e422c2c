package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/sync/semaphore"
)

// retryMsg is the WARN a Consumer logs when it calls a handler again.
const retryMsg = "message not finished; calling its handler again"

// records is a slog.Handler keeping every record, safe for concurrent
// use.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }

func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// retries returns the attributes of each retry WARN logged, in order.
func (r *records) retries() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, rec := range r.recs {
		if rec.Level != slog.LevelWarn || len(rec.Message) < len(retryMsg) || rec.Message[:len(retryMsg)] != retryMsg {
			continue
		}
		attrs := map[string]any{}
		rec.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.Any()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

// errDiskFull stands for the store refusing writes (store.ErrRefused),
// which the daemon's RetryCause classes as one cause.
var errDiskFull = errors.New("the store refuses writes")

// TestRetryLogDoesNotFlood: while many messages of a partition fail for
// the same cause (the store refusing writes), the consumer logs the first
// retry, not one WARN per retry of every message, then one a minute with
// how many retries it did not log; a retry for another cause is still
// logged, and each line logged keeps what it said before (topic,
// partition, offset, attempt, the error, the wait).
func TestRetryLogDoesNotFlood(t *testing.T) {
	const n = 20
	cases := map[string]struct {
		retryCause func(error) string
		fail       func(offset int64) error // the first call's error of the message at offset
		wantLines  int                      // retry WARNs for the n messages
		unlogged   int                      // retriesSinceLastLog of the retry a minute later (0: none)
	}{
		"the same error for every message": {
			fail: func(int64) error {
				return errors.New("store: sqlite: the store refuses writes: disk full at /var/lib/medgate")
			},
			wantLines: 1,
			unlogged:  n - 1,
		},
		"errors RetryCause names as one cause": {
			retryCause: func(err error) string {
				if errors.Is(err, errDiskFull) {
					return "store refuses writes"
				}
				return ""
			},
			fail: func(o int64) error {
				return fmt.Errorf("message at t/0 offset %d: store: sqlite: %w since 10:0%d", o, errDiskFull, o%10)
			},
			wantLines: 1,
			unlogged:  n - 1,
		},
		"another error for every message": {
			fail:      func(o int64) error { return fmt.Errorf("plugin call for the message at offset %d timed out", o) },
			wantLines: n,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &records{}
			var mu sync.Mutex
			calls := map[int64]int{}
			finished := 0
			now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
			c := &Consumer{
				cfg: Config{RetryCause: tc.retryCause},
				handler: func(_ context.Context, m *Message) error {
					mu.Lock()
					defer mu.Unlock()
					calls[m.Offset]++
					if calls[m.Offset] == 1 {
						if m.Offset == n {
							return errors.New("the external system answered HTTP 502")
						}
						return tc.fail(m.Offset)
					}
					finished++
					return nil
				},
				now: func() time.Time {
					mu.Lock()
					defer mu.Unlock()
					return now
				},
				log:          slog.New(logs),
				inFlight:     make(chan struct{}, n+2),
				buffered:     make(chan struct{}, 2*n),
				bufBytes:     semaphore.NewWeighted(1 << 20),
				bufLimit:     1 << 20,
				releaseGrace: time.Minute,
			}
			sess := &offsetSession{marked: map[int32]int64{}, committed: map[int32]int64{}}
			h := &groupHandler{c: c, runCtx: t.Context()}
			if err := h.Setup(sess); err != nil {
				t.Fatal(err)
			}
			claim := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, n+2)}
			msg := func(o int64) *sarama.ConsumerMessage {
				return &sarama.ConsumerMessage{Topic: "t", Partition: 0, Offset: o, Key: fmt.Appendf(nil, "patient-%d", o), Value: []byte("{}")}
			}
			waitFinished := func(want int) {
				t.Helper()
				eventually(t, 10*time.Second, fmt.Sprintf("%d messages to finish", want), func() bool {
					mu.Lock()
					defer mu.Unlock()
					return finished == want
				})
			}
			// n messages of n keys failing once for the cause under test,
			// and one (offset n) failing for another, within a minute.
			for o := int64(0); o <= n; o++ {
				claim.msgs <- msg(o)
			}
			released := make(chan struct{})
			go func() {
				defer close(released)
				_ = h.ConsumeClaim(sess, claim)
			}()
			waitFinished(n + 1)
			// A minute later, one more for the cause under test.
			mu.Lock()
			now = now.Add(retryLogEvery)
			mu.Unlock()
			claim.msgs <- msg(n + 1)
			waitFinished(n + 2)
			close(claim.msgs)
			<-released
			if err := h.Cleanup(sess); err != nil {
				t.Fatal(err)
			}

			lines, other := 0, 0
			var last map[string]any
			for _, a := range logs.retries() {
				for _, k := range []string{"topic", "partition", "offset", "attempt", "err", "retryIn"} {
					if _, ok := a[k]; !ok {
						t.Errorf("retry WARN %v has no %s", a, k)
					}
				}
				switch a["offset"] {
				case int64(n):
					other++
				case int64(n + 1):
					last = a
				default:
					lines++
				}
			}
			if lines != tc.wantLines {
				t.Errorf("%d retry WARNs for %d messages retried once each, want %d", lines, n, tc.wantLines)
			}
			if other != 1 {
				t.Errorf("%d retry WARNs for the message failing for another cause, want 1", other)
			}
			if last == nil {
				t.Fatal("the retry a minute later was not logged")
			}
			got, _ := last["retriesSinceLastLog"].(int64)
			if int(got) != tc.unlogged {
				t.Errorf("the retry a minute later says retriesSinceLastLog=%v, want %d (%v)", last["retriesSinceLastLog"], tc.unlogged, last)
			}
		})
	}
}

// TestRetryLogNote: retryLog.note logs the first retry of a cause, then
// one per retryLogEvery with the count of those it did not log; causes are
// kept apart; when it cannot tell more causes apart it forgets those not
// logged for retryLogEvery, and logs rather than hides what it has no
// room for.
func TestRetryLogNote(t *testing.T) {
	type step struct {
		cause    string
		after    time.Duration // since the start
		log      bool
		unlogged int
	}
	cases := map[string]struct {
		fill  int // causes noted at the start, each logged then
		steps []step
	}{
		"one cause": {steps: []step{
			{"refused", 0, true, 0},
			{"refused", time.Second, false, 0},
			{"refused", 59 * time.Second, false, 0},
			{"refused", time.Minute, true, 2},
			{"refused", time.Minute + time.Second, false, 0},
			{"refused", 5 * time.Minute, true, 1},
			{"refused", 7 * time.Minute, true, 0},
		}},
		"two causes": {steps: []step{
			{"refused", 0, true, 0},
			{"timeout", time.Second, true, 0},
			{"refused", 2 * time.Second, false, 0},
			{"timeout", 3 * time.Second, false, 0},
			{"timeout", 4 * time.Second, false, 0},
			{"refused", time.Minute, true, 1},
			{"timeout", time.Minute, false, 0},
			{"timeout", time.Minute + time.Second, true, 3},
		}},
		"full, nothing to forget": {fill: maxRetryCauses, steps: []step{
			{"new", time.Second, true, 0},
			{"new", 2 * time.Second, true, 0},
			{"cause-0", 3 * time.Second, false, 0},
		}},
		"full, the old causes forgotten": {fill: maxRetryCauses, steps: []step{
			{"new", time.Minute, true, 0},
			{"new", time.Minute + time.Second, false, 0},
			{"cause-0", time.Minute + 2*time.Second, true, 0},
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
			var l retryLog
			for i := range tc.fill {
				if log, _ := l.note(fmt.Sprintf("cause-%d", i), start); !log {
					t.Fatalf("cause-%d: the first retry was not logged", i)
				}
			}
			for i, s := range tc.steps {
				log, unlogged := l.note(s.cause, start.Add(s.after))
				if log != s.log || unlogged != s.unlogged {
					t.Errorf("step %d (%s at +%s): log %v, %d not logged; want %v, %d", i, s.cause, s.after, log, unlogged, s.log, s.unlogged)
				}
			}
		})
	}
}
