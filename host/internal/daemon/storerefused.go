package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/store"
)

// storeAlertEvery is how often, at most, the ALERT that the store refuses
// writes is logged while it lasts.
const storeAlertEvery = time.Minute

// storeRefusals hears of the writes the store refuses (store.WithRefusals:
// its disk full, its files or server read-only, writing to disk failing)
// and makes them loud, once per interval rather than once per message: an
// ALERT at the first refusal, then at most one every storeAlertEvery while
// writes keep being refused, with the cause, where, and the fix and how
// many writes were refused since the last one; and
// medgate_store_refused_total{reason} counting every refused write.
// /readyz says it too (store.Store.Ping). A refusal after none for
// store.RefusalWindow starts a new outage, ALERTed at once.
type storeRefusals struct {
	log   *slog.Logger
	now   func() time.Time
	count *prometheus.CounterVec

	mu      sync.Mutex
	last    time.Time // the last refusal heard
	alerted time.Time // when the last ALERT was logged
	since   int       // refused writes since the last ALERT
	total   int       // refused writes since the first of this outage
}

func newStoreRefusals(log *slog.Logger, now func() time.Time) *storeRefusals {
	return &storeRefusals{log: log, now: now, count: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medgate_store_refused_total",
		Help: "Writes the store's database refused, by reason: disk_full (no free space: SQLite's disk, or the PostgreSQL server's, 53100), read_only (the database's files or the server accept only reads: SQLITE_READONLY, a standby, 25006) or io_error (writing to disk failed). Messages wait unfinished, their offsets not committed, and are processed once writes succeed again; the medgate log has an ALERT saying what to fix, /readyz too.",
	}, []string{"reason"})}
}

// register adds medgate_store_refused_total to reg.
func (r *storeRefusals) register(reg prometheus.Registerer) error {
	if err := reg.Register(r.count); err != nil {
		return fmt.Errorf("register medgate_store_refused_total: %w", err)
	}
	return nil
}

// heard is the store's WithRefusals: err is a refused write.
func (r *storeRefusals) heard(err error) {
	kind, why, ok := store.Refusal(err)
	if !ok {
		kind, why = "other", err.Error()
	}
	r.count.WithLabelValues(kind).Inc()
	now := r.now()
	r.mu.Lock()
	first := r.last.IsZero() || now.Sub(r.last) > store.RefusalWindow
	r.last = now
	if first {
		r.since, r.total = 0, 0
	}
	r.since++
	r.total++
	if !first && now.Sub(r.alerted) < storeAlertEvery {
		r.mu.Unlock()
		return
	}
	n, total := r.since, r.total
	r.alerted, r.since = now, 0
	r.mu.Unlock()
	what := "the store refuses writes: "
	if !first {
		what = "the store still refuses writes: "
	}
	r.log.Error("ALERT: "+what+why+"; messages wait unfinished (their Kafka offsets are not committed, HTTP clients are answered 503) and are processed once writes succeed again (logged again every minute while it lasts; /readyz reports it until no write was refused for "+store.RefusalWindow.String()+")",
		"reason", kind, "refusedWrites", n, "refusedInAll", total, "err", err)
}

// storeRetryCause is the consumer's bus.Config.RetryCause: every message
// failing because the store refuses writes (store.ErrRefused) fails for
// one cause, whatever its message, write and times, so that its retries
// are logged once a minute per partition, not each (the ALERT above says
// the cause and the fix). Any other error is its own text ("").
func storeRetryCause(err error) string {
	if errors.Is(err, store.ErrRefused) {
		return "the store refuses writes"
	}
	return ""
}
