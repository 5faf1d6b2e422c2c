package hostsvc

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Limits bound what one plugin writes through the host services, so that
// a runaway or buggy adapter cannot starve the other plugins and sites of
// the events topic and the store. The rates are token buckets of this
// medgate instance (several instances each have their own): one of the
// plugin, shared by its sites, and, with the PerSite rates, one of each
// site under it, so that one site's burst cannot take every token of the
// plugin's from its other sites. Only the plugin's own calls count: the
// replies and DLQ records the pipeline publishes for it are never
// limited.
//
// The fields are the keys of the configuration (pluginLimits and
// plugins[].limits, see host/internal/config): -1 as a rate means no
// limit; every other value is at least 1.
type Limits struct {
	// PublishPerSecond is how many events (Publish) a second the plugin
	// may publish, sustained; PublishBurst how many at once after a quiet
	// spell (the size of the bucket).
	PublishPerSecond int
	PublishBurst     int
	// JournalPerSecond and JournalBurst are the same for journal entries
	// (Journal, and those a plugin returns with its Handle response).
	JournalPerSecond int
	JournalBurst     int
	// StateValueBytes bounds one state value (Put, CompareAndSet and each
	// write of WriteState).
	StateValueBytes int
	// PerSitePublishPerSecond and PerSitePublishBurst bound the events of
	// each one of the plugin's sites, by a bucket of the site under the
	// plugin's: an event takes a token of both, so one site's burst is
	// refused once it used its own bucket while the plugin's still has
	// tokens for the other sites, and the plugin's bucket bounds all its
	// sites together however many there are. NoLimit as the rate (the
	// default), or 0 (a Limits that does not set them): no bucket per
	// site, the sites share the plugin's.
	PerSitePublishPerSecond int
	PerSitePublishBurst     int
	// PerSiteJournalPerSecond and PerSiteJournalBurst are the same for
	// journal entries.
	PerSiteJournalPerSecond int
	PerSiteJournalBurst     int
	// StateWritesPerSecond and StateWritesBurst bound the plugin's state
	// writes: each Put, CompareAndSet and WriteState takes a token, a
	// WriteState one however many writes it makes (it is one transaction
	// of the store, and gRPC bounds its size). NoLimit or 0 (a Limits
	// that does not set them): no limit.
	StateWritesPerSecond int
	StateWritesBurst     int
	// PerSiteStateWritesPerSecond and PerSiteStateWritesBurst bound each
	// site's state writes under the plugin's, as PerSitePublishPerSecond
	// does its events.
	PerSiteStateWritesPerSecond int
	PerSiteStateWritesBurst     int
}

// DefaultLimits are the limits of a plugin the configuration says nothing
// about; config.DefaultPluginLimits holds the same values. The rates are
// well above what a plugin keeping pace with the pipeline needs (the
// pass-through benchmark handles about 10,000 messages a second: one
// event and one journal entry per message would be half the rate), so
// only a plugin writing in a loop meets them. State writes are counted by
// host call (a store transaction each): a 500-line GYU102 makes 2
// (WriteState, 5 writes in all), at most about 150 a second in the
// benchmarks, and the trace-code seeding of 1,000,000 codes about 4,000
// a second (64 codes to a WriteState), so 20,000 a second leaves a
// margin of five over the busiest. A state value is at most 1 MiB: gRPC
// carries at most 4 MiB to the host in one call, and larger data belongs
// in an artifact.
var DefaultLimits = Limits{
	PublishPerSecond: 50000, PublishBurst: 100000,
	JournalPerSecond: 50000, JournalBurst: 100000,
	StateValueBytes:         1 << 20,
	PerSitePublishPerSecond: NoLimit, PerSitePublishBurst: 100000,
	PerSiteJournalPerSecond: NoLimit, PerSiteJournalBurst: 100000,
	StateWritesPerSecond: 20000, StateWritesBurst: 40000,
	PerSiteStateWritesPerSecond: NoLimit, PerSiteStateWritesBurst: 40000,
}

// NoLimit as a rate (PublishPerSecond, JournalPerSecond) turns the limit
// off.
const NoLimit = -1

// ErrLimit: a plugin's write was refused by its limits (see LimitError).
var ErrLimit = errors.New("plugin write limit")

// LimitError is the answer to a plugin's host-service write its Limits
// refuse. Nothing was written. It travels to the plugin as gRPC
// ResourceExhausted: the plugin's call fails, and the host retries its
// message (or puts it in the DLQ with this reason), so no message is
// dropped. It never names a state key, which may hold personal data.
type LimitError struct {
	Plugin string
	Site   string
	// Key is the configuration key of the limit ("publishPerSecond",
	// "journalPerSecond", "stateWritesPerSecond",
	// "perSitePublishPerSecond", "perSiteJournalPerSecond",
	// "perSiteStateWritesPerSecond", "stateValueBytes"), under
	// plugins[].limits or pluginLimits.
	Key string
	// Value is the limit in force; Burst the bucket of a rate.
	Value, Burst int
	// What was refused ("event ledger.tick", "state value of 2097152 bytes").
	What string
}

func (e *LimitError) Error() string {
	if e.Key == keyStateValueBytes {
		// "larger than max" makes the SDK report sdk.ErrTooLarge, which
		// is what it is: more than the host takes in one call.
		return fmt.Sprintf("plugin %q at site %q: the %s is larger than max %d bytes, the plugin's limit stateValueBytes: refused, nothing written; "+
			"keep large data in an artifact (PutArtifact) and its reference in state, or split the value over several keys; "+
			"if the plugin needs such values, raise limits.stateValueBytes under the plugin's entry in plugins: (or pluginLimits.stateValueBytes for every plugin, at most 4194304) and reload",
			e.Plugin, e.Site, e.What, e.Value)
	}
	kind, burst, whose := "events", keyPublishBurst, "its limit"
	switch e.Key {
	case keyJournalPerSecond:
		kind, burst = "journal entries", keyJournalBurst
	case keyPerSitePublishPerSecond:
		burst, whose = keyPerSitePublishBurst, "the limit of each of its sites"
	case keyPerSiteJournalPerSecond:
		kind, burst, whose = "journal entries", keyPerSiteJournalBurst, "the limit of each of its sites"
	case keyStateWritesPerSecond:
		kind, burst = "state", keyStateWritesBurst
	case keyPerSiteStateWritesPerSecond:
		kind, burst, whose = "state", keyPerSiteStateWritesBurst, "the limit of each of its sites"
	}
	return fmt.Sprintf("plugin %q at site %q wrote %s faster than %s %s of %d a second (%s %d): the %s was refused, nothing written, and the call fails so that it is tried again later; "+
		"if the plugin writes this much on purpose, raise limits.%s (and %s) under the plugin's entry in plugins: (or pluginLimits.%s for every plugin) and reload; otherwise the plugin writes in a loop: have its vendor fix it",
		e.Plugin, e.Site, kind, whose, e.Key, e.Value, burst, e.Burst, e.What, e.Key, burst, e.Key)
}

// Is makes a LimitError ErrLimit.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// GRPCStatus is the status the plugin receives.
func (e *LimitError) GRPCStatus() *status.Status {
	return status.New(codes.ResourceExhausted, e.Error())
}

// The configuration keys of the limits, as a LimitError names them.
const (
	keyPublishPerSecond = "publishPerSecond"
	keyPublishBurst     = "publishBurst"
	keyJournalPerSecond = "journalPerSecond"
	keyJournalBurst     = "journalBurst"
	keyStateValueBytes  = "stateValueBytes"

	keyPerSitePublishPerSecond = "perSitePublishPerSecond"
	keyPerSitePublishBurst     = "perSitePublishBurst"
	keyPerSiteJournalPerSecond = "perSiteJournalPerSecond"
	keyPerSiteJournalBurst     = "perSiteJournalBurst"

	keyStateWritesPerSecond        = "stateWritesPerSecond"
	keyStateWritesBurst            = "stateWritesBurst"
	keyPerSiteStateWritesPerSecond = "perSiteStateWritesPerSecond"
	keyPerSiteStateWritesBurst     = "perSiteStateWritesBurst"
)

// refusalLogEvery is how often a plugin's refused writes are logged at
// most: one line, then a count of the refusals not logged.
const refusalLogEvery = time.Minute

// bucket is a token bucket: rate tokens a second, at most burst held.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(rate, burst int) *bucket {
	if rate == NoLimit {
		return nil
	}
	return &bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// refill adds the tokens due at now (a nil bucket needs none).
func (b *bucket) refill(now time.Time) {
	if b == nil {
		return
	}
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
}

// has reports whether a token is left (a nil bucket always has one).
func (b *bucket) has() bool { return b == nil || b.tokens >= 1 }

// spend takes a token has reported.
func (b *bucket) spend() {
	if b != nil {
		b.tokens--
	}
}

// limiter applies one plugin's Limits.
type limiter struct {
	limits Limits

	mu      sync.Mutex
	publish *bucket // nil: no limit
	journal *bucket
	state   *bucket
	// sites holds each site's buckets (nil: no per-site rate) and its
	// refusals' log state, made at the site's first write that needs
	// them. The sites are the plugin's configured ones: pluginhost
	// refuses a call for any other.
	sites map[string]*siteLimiter
}

// siteLimiter is one site's part of a plugin's limiter.
type siteLimiter struct {
	publish *bucket // nil: no per-site limit
	journal *bucket
	state   *bucket
	logged  time.Time // when a refusal was last logged
	quiet   int       // refusals since, not logged
}

func newLimiter(l Limits) *limiter {
	return &limiter{limits: l, publish: newBucket(l.PublishPerSecond, l.PublishBurst), journal: newBucket(l.JournalPerSecond, l.JournalBurst),
		state: newSiteBucket(l.StateWritesPerSecond, l.StateWritesBurst)}
}

// perSite reports whether l has a per-site rate.
func (l *limiter) perSite() bool {
	return l.limits.PerSitePublishPerSecond > 0 || l.limits.PerSiteJournalPerSecond > 0 || l.limits.PerSiteStateWritesPerSecond > 0
}

// newSiteBucket is newBucket for a rate where 0 is no limit too (a
// per-site rate, or the state-write rate of a Limits that does not set
// it).
func newSiteBucket(rate, burst int) *bucket {
	if rate <= 0 {
		return nil
	}
	return newBucket(rate, burst)
}

// site returns site's part of l, made if new; l.mu is held.
func (l *limiter) site(site string) *siteLimiter {
	sl := l.sites[site]
	if sl == nil {
		if l.sites == nil {
			l.sites = map[string]*siteLimiter{}
		}
		sl = &siteLimiter{
			publish: newSiteBucket(l.limits.PerSitePublishPerSecond, l.limits.PerSitePublishBurst),
			journal: newSiteBucket(l.limits.PerSiteJournalPerSecond, l.limits.PerSiteJournalBurst),
			state:   newSiteBucket(l.limits.PerSiteStateWritesPerSecond, l.limits.PerSiteStateWritesBurst),
		}
		l.sites[site] = sl
	}
	return sl
}

// SetLimits sets each plugin's limits, by name; a plugin not named has
// DefaultLimits. A plugin whose limits are unchanged keeps its buckets; a
// changed one starts with full buckets. Limits apply to calls made from
// now on, also of plugins already running (a reload).
func (s *Services) SetLimits(byPlugin map[string]Limits) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	next := make(map[string]*limiter, len(byPlugin))
	for name, l := range byPlugin {
		if old := s.limiters[name]; old != nil && old.limits == l {
			next[name] = old
			continue
		}
		next[name] = newLimiter(l)
	}
	s.limiters = next
}

// SetRefusals says where refused writes go: log receives one line per
// plugin and site per minute at most (with how many were refused since
// without a line), refused is called for every one (a metric: plugin and the
// limit's key). Either may be nil.
func (s *Services) SetRefusals(log *slog.Logger, refused func(plugin, limit string)) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.log, s.refused = log, refused
}

// limiter returns plugin's limiter.
func (s *Services) limiter(plugin string) *limiter {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	l := s.limiters[plugin]
	if l == nil {
		if s.limiters == nil {
			s.limiters = map[string]*limiter{}
		}
		l = newLimiter(DefaultLimits)
		s.limiters[plugin] = l
	}
	return l
}

func (s *Services) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// writeKind is what a write through the host services is, for its
// limits.
type writeKind int

const (
	writeEvent writeKind = iota
	writeJournal
	writeState
)

// buckets returns the plugin's bucket of kind and the site's (nil when it
// has none; site made if new), with the keys, rates and bursts that
// refuse from each; l.mu is held.
func (l *limiter) buckets(site string, kind writeKind) (b, sb *bucket, key string, rate, burst int, siteKey string, siteRate, siteBurst int) {
	var sl *siteLimiter
	if l.perSite() {
		sl = l.site(site)
	}
	switch kind {
	case writeJournal:
		b, key, rate, burst = l.journal, keyJournalPerSecond, l.limits.JournalPerSecond, l.limits.JournalBurst
		siteKey, siteRate, siteBurst = keyPerSiteJournalPerSecond, l.limits.PerSiteJournalPerSecond, l.limits.PerSiteJournalBurst
		if sl != nil {
			sb = sl.journal
		}
	case writeState:
		b, key, rate, burst = l.state, keyStateWritesPerSecond, l.limits.StateWritesPerSecond, l.limits.StateWritesBurst
		siteKey, siteRate, siteBurst = keyPerSiteStateWritesPerSecond, l.limits.PerSiteStateWritesPerSecond, l.limits.PerSiteStateWritesBurst
		if sl != nil {
			sb = sl.state
		}
	default:
		b, key, rate, burst = l.publish, keyPublishPerSecond, l.limits.PublishPerSecond, l.limits.PublishBurst
		siteKey, siteRate, siteBurst = keyPerSitePublishPerSecond, l.limits.PerSitePublishPerSecond, l.limits.PerSitePublishBurst
		if sl != nil {
			sb = sl.publish
		}
	}
	return b, sb, key, rate, burst, siteKey, siteRate, siteBurst
}

// allow takes a token of the plugin's bucket of kind (events, journal
// entries, state writes) and of its site's, if it has one, or returns the
// refusal: the site's limit when its own bucket is empty, else the
// plugin's. A refused write takes no token of either. what says what was
// refused; it is called only then.
func (h *hostServices) allow(site string, kind writeKind, what func() string) error {
	l := h.s.limiter(h.plugin)
	now := h.s.clock()
	l.mu.Lock()
	b, sb, key, rate, burst, siteKey, siteRate, siteBurst := l.buckets(site, kind)
	b.refill(now)
	sb.refill(now)
	switch {
	case !sb.has():
		key, rate, burst = siteKey, siteRate, siteBurst
	case b.has():
		b.spend()
		sb.spend()
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	return h.refuse(l, &LimitError{Plugin: h.plugin, Site: site, Key: key, Value: rate, Burst: burst, What: what()})
}

// checkState refuses a state write (Put, CompareAndSet, WriteState) of
// values larger than the plugin's limit, or past its state-write rate; a
// write refused for its size takes no token.
func (h *hostServices) checkState(site string, value []byte) error {
	if err := h.checkValues(site, value); err != nil {
		return err
	}
	return h.allowState(site)
}

// allowState takes a token of the plugin's state-write rate (and its
// site's) for one Put, CompareAndSet or WriteState, or refuses it.
func (h *hostServices) allowState(site string) error {
	return h.allow(site, writeState, func() string { return "state write" })
}

// checkValues refuses state values larger than the plugin's limit.
func (h *hostServices) checkValues(site string, values ...[]byte) error {
	l := h.s.limiter(h.plugin)
	for _, v := range values {
		if len(v) > l.limits.StateValueBytes {
			return h.refuse(l, &LimitError{Plugin: h.plugin, Site: site, Key: keyStateValueBytes, Value: l.limits.StateValueBytes,
				What: fmt.Sprintf("state value of %d bytes", len(v))})
		}
	}
	return nil
}

// refuse counts e, logs it unless the last refusal of the plugin at the
// site was logged less than refusalLogEvery ago, and returns it.
func (h *hostServices) refuse(l *limiter, e *LimitError) error {
	h.s.lmu.Lock()
	log, refused := h.s.log, h.s.refused
	h.s.lmu.Unlock()
	if refused != nil {
		refused(e.Plugin, e.Key)
	}
	now := h.s.clock()
	l.mu.Lock()
	sl := l.site(e.Site)
	quiet := sl.quiet
	logNow := sl.logged.IsZero() || now.Sub(sl.logged) >= refusalLogEvery
	if logNow {
		sl.logged, sl.quiet = now, 0
	} else {
		sl.quiet++
	}
	l.mu.Unlock()
	if logNow && log != nil {
		log.Warn("plugin write refused by its limits; further refusals of the plugin at the site are logged at most once a minute (metric medgate_plugin_writes_refused_total counts each)",
			"plugin", e.Plugin, "site", e.Site, "limit", e.Key, "value", e.Value, "refusedUnlogged", quiet, "err", e.Error())
	}
	return e
}
