package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/sync/semaphore"
)

// Message is one Kafka record as handed to a Handler.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	// Headers holds the record headers; when a name repeats, the last
	// value wins.
	Headers   map[string]string
	Timestamp time.Time
}

// Handler processes one message. The message counts as finished, and its
// offset may be committed, only when the handler returns nil (or, if the
// handler deferred the message with Defer, when its Later is done without
// error: the key's next message may then start before). On an error
// the consumer calls the handler again for the same message, after a
// backoff of 250ms doubling up to 10s, until it returns nil or the
// partition is released or the consumer stops; the message is then left
// unfinished and delivered again later. Handlers must be idempotent.
//
// Handlers run concurrently for different keys and one at a time, in offset
// order, for each key of a partition: a message that keeps failing holds
// only its own key (and the partition's commit point). Messages without a
// key are not ordered. A panic in a handler is not recovered.
//
// When the message's partition is released (a rebalance takes it away, or
// the consumer stops), a running handler may finish, but only for the
// release grace (Config.ReleaseGrace, 15s by default, at most half the
// group's rebalance timeout): its context is then cancelled, and it must
// return. A handler that returns nil within the grace finishes its message,
// which the partition's last commit includes. A handler that kept its
// partition longer than the rebalance timeout would have the member dropped
// from the group, and the partition's next owner would deliver the message
// again while the handler still runs. When the member learns it has
// already left the group (it missed its session timeout), the context is
// cancelled at once.
type Handler func(ctx context.Context, m *Message) error

// Consumer reads topics as a member of a consumer group and hands each
// message to a Handler.
//
// The committed offset of a partition moves past a message only after that
// message and every earlier message of the partition finished, so a crash
// at any point leads to redelivery, never to loss. When a partition is
// revoked or the consumer stops, messages whose handler has not started are
// dropped (the next owner gets them again), running handlers and deferred
// messages (Defer) are waited for, for the release grace at most
// (Config.ReleaseGrace; handlers are then cancelled: see Handler; deferred
// messages not done by then stay unfinished, even if acknowledged later:
// see Defer), and the finished prefix is committed.
type Consumer struct {
	cfg     Config
	sc      *sarama.Config
	topics  []string
	handler Handler
	log     *slog.Logger

	inFlight chan struct{} // one token per running handler
	buffered chan struct{} // one token per message read and not yet finished
	// bufBytes holds the key and value bytes of the messages read and not
	// yet finished (each message's weight, at most bufLimit).
	bufBytes *semaphore.Weighted
	bufLimit int64
	bufWaits atomic.Int64 // times reading paused on bufBytes (for tests)

	// releaseGrace is how long the handlers of a released partition may
	// run on before their context is cancelled: Config.ReleaseGrace, at
	// most half the group's rebalance timeout, so the member rejoins
	// within it.
	releaseGrace time.Duration

	ready   atomic.Bool
	running atomic.Bool
	// refused says why the last attempt to join the group failed when the
	// brokers' certificate was not trusted (see Refused); nil otherwise.
	refused atomic.Pointer[string]
	// refusedAlerted is when the last ALERT about a refusal was logged
	// (Run's goroutine only).
	refusedAlerted time.Time
	commits        atomic.Int64 // offset commits made while consuming (for tests)
	// now is the clock of the retry log (nil: time.Now; tests).
	now func() time.Time

	partsMu sync.Mutex
	parts   map[*partition]struct{} // claimed partitions being consumed

	// histMu guards the partitions to record in Config.History: those
	// claimed in the current session and not yet recorded (histTodo),
	// and those recorded by this process (histDone).
	histMu   sync.Mutex
	histTodo map[topicPartition]bool
	histDone map[topicPartition]bool
	// histWarned is set while recording fails, so the failure is logged
	// once, not at every commit.
	histWarned bool
}

type topicPartition struct {
	topic     string
	partition int32
}

// historyTimeout bounds each call to Config.History.
const historyTimeout = 10 * time.Second

// Hold is a partition's oldest unfinished message: the commit point of the
// partition cannot move past it until it finishes (its handler returned
// nil, or its Later is done: see Defer).
type Hold struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	// Since is when this message became the oldest unfinished one.
	Since time.Time
	// Waiting counts the messages read from the partition and not yet
	// committed, the held one included.
	Waiting int
}

// claimed returns the partitions claimed now, those read through client
// only unless it is nil.
func (c *Consumer) claimed(client sarama.Client) []*partition {
	c.partsMu.Lock()
	defer c.partsMu.Unlock()
	parts := make([]*partition, 0, len(c.parts))
	for p := range c.parts {
		if client == nil || p.h.client == client {
			parts = append(parts, p)
		}
	}
	return parts
}

// Holds lists, for every claimed partition holding unfinished messages,
// its oldest one, longest held first. A partition whose head stays for
// long has a message that does not finish (a slow external system, a
// handler retrying); later messages of other keys still run, but the
// partition's committed offset waits.
func (c *Consumer) Holds() []Hold {
	parts := c.claimed(nil)
	var out []Hold
	for _, p := range parts {
		if h, ok := p.hold(); ok {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// Lag is how far the consumer is behind in one claimed partition.
type Lag struct {
	Topic     string
	Partition int32
	// Lag counts the partition's records not read yet: its high-water
	// mark as of the consumer's last fetch from it or, if later, its last
	// refresh (every 30s), less the offset of the next record to read.
	// Records read and not yet finished are not in it (Holds tells of
	// those).
	Lag int64
}

// Lags lists the lag of every partition claimed now. A partition the
// consumer releases (a rebalance, or the consumer stopping) is not in it
// from the moment it stops reading it, nor one whose next offset is not
// known yet (claimed without a committed offset, nothing read yet), nor
// one whose high-water mark is not known to be current: neither its
// leader answered the refresh nor a record was read from it for
// lagStaleAfter (90s), as when its leader cannot be reached; its lag is
// unknown then, not the last value, which would stay still while records
// pile up unread (refreshLags logs a WARN when a lag becomes unknown). It
// costs no broker request: the high-water mark is the one sarama keeps
// from each fetch, or the one the consumer asks each claimed partition's
// leader for every 30s if that is later, so while the consumer fetches
// nothing from a partition (its buffer full) the records that arrive
// meanwhile are counted within 30s; the lag may read low by those
// records until then. Reading costs one store of the next offset per
// message, under the partition's lock it holds already.
func (c *Consumer) Lags() []Lag {
	parts := c.claimed(nil)
	out := make([]Lag, 0, len(parts))
	now, stale := time.Now(), c.lagStaleAfter()
	for _, p := range parts {
		if n, ok := p.lag(now, stale); ok {
			out = append(out, Lag{Topic: p.topic, Partition: p.id, Lag: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// LagsUnknown counts, for each topic the consumer reads, the partitions
// claimed now whose lag is unknown: left out of Lags because nothing
// confirmed their high-water mark for lagStaleAfter (90s), neither their
// leader's answer to the refresh nor a record read (refreshLags logs a WARN
// for each). Every topic is in it, at 0 when none is, so that an alert on
// it can tell "none unknown" from "not reported". A partition being
// released, or whose next offset is not known yet, is not counted: it is
// left out of Lags for another reason.
func (c *Consumer) LagsUnknown() map[string]int {
	out := make(map[string]int, len(c.topics))
	for _, t := range c.topics {
		out[t] = 0
	}
	now, stale := time.Now(), c.lagStaleAfter()
	for _, p := range c.claimed(nil) {
		if !p.isStopping() && p.hwmStale(now, stale) {
			out[p.topic]++
		}
	}
	return out
}

// lagRefreshEvery is how often the consumer asks the brokers for the
// high-water marks of its claimed partitions (refreshLags).
const lagRefreshEvery = 30 * time.Second

// lagStaleRefreshes is how many refresh intervals a partition's
// high-water mark may go unconfirmed (see partition.hwmAt) before its lag
// is unknown: one refresh may fail without the lag going.
const lagStaleRefreshes = 3

// lagEvery is the refresh interval of the high-water marks:
// lagRefreshEvery, or Config.lagRefresh in tests.
func (c *Consumer) lagEvery() time.Duration {
	if c.cfg.lagRefresh > 0 {
		return c.cfg.lagRefresh
	}
	return lagRefreshEvery
}

// lagStaleAfter is how long a partition's high-water mark stays good for
// Lags without being confirmed (90s).
func (c *Consumer) lagStaleAfter() time.Duration {
	return lagStaleRefreshes * c.lagEvery()
}

// refreshLags starts asking, every lagRefreshEvery (Config.lagRefresh in
// tests), the leaders of the partitions claimed through client for their
// high-water marks, so that Lags counts the records arriving while
// nothing is fetched from a partition (medgate's buffer full, its fetches
// failing). Each leader gets one request for all its partitions, in a
// goroutine of its own, and no new one while it has one under way, each
// bounded by the client's network timeouts: at most one goroutine per
// broker, whatever the number of partitions, and a leader that does not
// answer holds up no other leader's partitions. A request that fails
// leaves the last value (logged at debug) and has the client's metadata
// refreshed for the next try (the leader may have moved).
//
// At each tick, a partition from which records were read since the last
// one had a fetch answered: its high-water mark (the fetch's) is current
// too. A partition whose mark nothing confirmed for lagStaleAfter has an
// unknown lag (see Lags), logged as a WARN once, and at INFO when it is
// known again. The returned func stops it without waiting for a request
// under way (a leader not answering would hold the consumer's stop for
// the client's timeouts): call it before closing client, which ends that
// request.
func (c *Consumer) refreshLags(client sarama.Client) (stop func()) {
	every, stale := c.lagEvery(), c.lagStaleAfter()
	done := make(chan struct{})
	var (
		mu     sync.Mutex
		asking = map[int32]bool{} // leaders (broker ids) with a request under way
		// looking is set while the leaders of a tick's partitions are
		// looked up (which may ask the brokers for metadata).
		looking atomic.Bool
	)
	ask := func(b *sarama.Broker, parts []*partition) {
		defer func() {
			mu.Lock()
			delete(asking, b.ID())
			mu.Unlock()
		}()
		if err := c.askHighWaterMarks(client, b, parts); err != nil {
			select {
			case <-done: // the client closed under it
				return
			default:
			}
			c.log.Debug("kafka consumer: asking a partition leader for high-water marks failed; their lag stays as last known until the next try, and is unknown if it keeps failing",
				"group", c.cfg.GroupID, "broker", b.Addr(), "err", err, "retryIn", every)
		}
	}
	lookUp := func(parts []*partition) {
		defer looking.Store(false)
		byLeader := map[*sarama.Broker][]*partition{}
		for _, p := range parts {
			select {
			case <-done:
				return
			default:
			}
			b, err := client.Leader(p.topic, p.id)
			if err != nil {
				c.log.Debug("kafka consumer: the partition's leader is not known; its lag stays as last known until the next try, and is unknown if it stays so",
					"group", c.cfg.GroupID, "topic", p.topic, "partition", p.id, "err", err, "retryIn", every)
				continue
			}
			byLeader[b] = append(byLeader[b], p)
		}
		for b, ps := range byLeader {
			mu.Lock()
			busy := asking[b.ID()]
			asking[b.ID()] = true
			mu.Unlock()
			if !busy {
				go ask(b, ps)
			}
		}
	}
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		read := map[*partition]int64{} // the next offset of each at the last tick
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			now := time.Now()
			var parts []*partition
			seen := map[*partition]int64{}
			for _, p := range c.claimed(client) {
				if p.isStopping() {
					continue
				}
				next := p.nextOffset()
				if last, ok := read[p]; ok && next != last {
					p.hwmAt.Store(now.UnixNano())
				}
				seen[p] = next
				c.noteLagKnown(p, now, stale)
				parts = append(parts, p)
			}
			read = seen
			if len(parts) > 0 && looking.CompareAndSwap(false, true) {
				go lookUp(parts)
			}
		}
	}()
	return func() { close(done) }
}

// askHighWaterMarks asks b, the leader of parts, for their high-water
// marks, in one request, and keeps those it answers (partition.hwm,
// hwmAt). When the request or a partition's answer fails, it refreshes
// the client's metadata of their topics, as sarama's GetOffset does, so
// that the next request goes to their leader now, and returns the first
// error.
func (c *Consumer) askHighWaterMarks(client sarama.Client, b *sarama.Broker, parts []*partition) error {
	req := sarama.NewOffsetRequest(c.sc.Version)
	for _, p := range parts {
		req.AddBlock(p.topic, p.id, sarama.OffsetNewest, 1)
	}
	resp, err := b.GetAvailableOffsets(req)
	if err != nil {
		_ = b.Close() // as sarama's GetOffset does; the next request opens it again
		err = fmt.Errorf("ask broker %s for the high-water marks of %d partitions: %w", b.Addr(), len(parts), err)
	} else {
		now := time.Now().UnixNano()
		for _, p := range parts {
			blk := resp.GetBlock(p.topic, p.id)
			var bad error
			switch {
			case blk == nil:
				bad = sarama.ErrIncompleteResponse
			case !errors.Is(blk.Err, sarama.ErrNoError):
				bad = blk.Err
			case len(blk.Offsets) != 1:
				bad = sarama.ErrIncompleteResponse
			default:
				p.hwm.Store(blk.Offsets[0])
				p.hwmAt.Store(now)
				continue
			}
			if err == nil {
				err = fmt.Errorf("high-water mark of %s/%d from broker %s: %w", p.topic, p.id, b.Addr(), bad)
			}
		}
	}
	if err != nil {
		topics := map[string]bool{}
		var names []string
		for _, p := range parts {
			if !topics[p.topic] {
				topics[p.topic] = true
				names = append(names, p.topic)
			}
		}
		_ = client.RefreshMetadata(names...)
	}
	return err
}

// noteLagKnown logs, once each way, a partition's lag becoming unknown
// (nothing confirmed its high-water mark for stale until now) and known
// again. refreshLags' goroutine only.
func (c *Consumer) noteLagKnown(p *partition, now time.Time, stale time.Duration) {
	since := time.Unix(0, p.hwmAt.Load())
	unknown := p.hwmStale(now, stale)
	switch {
	case unknown && !p.lagUnknown:
		p.lagUnknown = true
		c.log.Warn("kafka consumer: the partition's lag is unknown (medgate_kafka_consumer_lag has no series for it): neither did its leader answer for its high-water mark nor was a record read from it lately, so records may be waiting unread; check that the partition has a leader and that medgate reaches it (the broker's log, kafka-topics.sh --describe); the lag comes back once the leader answers",
			"group", c.cfg.GroupID, "topic", p.topic, "partition", p.id, "lastKnown", since.UTC().Format(time.RFC3339), "unknownAfter", stale.String())
	case !unknown && p.lagUnknown:
		p.lagUnknown = false
		c.log.Info("kafka consumer: the partition's lag is known again", "group", c.cfg.GroupID, "topic", p.topic, "partition", p.id)
	}
}

// NewConsumer prepares a consumer of topics for the group cfg.GroupID. It
// does not connect; Run does.
func NewConsumer(cfg Config, topics []string, h Handler) (*Consumer, error) {
	if cfg.GroupID == "" {
		return nil, errors.New("no Kafka consumer group configured: set GroupID")
	}
	if len(topics) == 0 {
		return nil, errors.New("no topics to consume: give at least one topic")
	}
	if h == nil {
		return nil, errors.New("nil message handler")
	}
	// Refusals name the user and CA file in force (refusal).
	if cfg.Credentials == nil {
		var err error
		if cfg.Credentials, err = NewCredentials(cfg.SASL, cfg.TLS); err != nil {
			return nil, err
		}
	}
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = false
	sc.Consumer.Return.Errors = true
	// Never hand a handler a message of an aborted transaction.
	sc.Consumer.IsolationLevel = sarama.ReadCommitted
	sc.Consumer.Group.InstanceId = cfg.InstanceID
	// A fetch holds its broker connection for up to MaxWaitTime, and the
	// offset commit to the group coordinator waits for the same connection
	// when the coordinator leads a consumed partition. With sarama's 500ms
	// long poll, commits against Apache Kafka 4 were starved for minutes;
	// a short poll lets them through at once.
	sc.Consumer.MaxWaitTime = 100 * time.Millisecond
	if err := cfg.finish(sc); err != nil {
		return nil, err
	}
	n := cfg.maxInFlight()
	return &Consumer{
		cfg:          cfg,
		sc:           sc,
		topics:       append([]string(nil), topics...),
		handler:      h,
		log:          cfg.logger(),
		inFlight:     make(chan struct{}, n),
		buffered:     make(chan struct{}, max(1024, 16*n)),
		bufBytes:     semaphore.NewWeighted(cfg.maxBufferedBytes()),
		bufLimit:     cfg.maxBufferedBytes(),
		releaseGrace: cfg.releaseGrace(sc.Consumer.Group.Rebalance.Timeout),
	}, nil
}

// clock returns the current time (c.now, for tests).
func (c *Consumer) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// Ready reports whether the consumer has joined its group and is consuming.
// It stays true across ordinary rebalances and turns false while the
// consumer retries after an error and once Run has returned.
func (c *Consumer) Ready() bool { return c.ready.Load() }

// Run consumes until ctx is done, then waits for running handlers, commits
// and leaves the group. It rejoins the group after rebalances and retries
// transient failures (brokers unreachable, coordinator moving) with backoff;
// it returns nil once ctx is done, or the first error that retrying cannot
// fix (missing authorisation, an unsupported SASL mechanism, invalid
// configuration). Brokers that refuse the SASL credentials or present a
// certificate this consumer does not trust are retried too, since an
// operator may fix the brokers or the CA file, but loudly: an ALERT at the
// first refusal and then one a minute, the reason in Refused, and
// Config.OnRefused called at each attempt.
//
// Cancelling ctx stops the consumer as a rebalance releases partitions: it
// reads no more, drops the messages whose handler has not started, lets
// the running handlers and deferred messages finish for the release grace
// at most (Config.ReleaseGrace; their context is then cancelled), commits
// the finished prefix of each partition and leaves the group. Run may be
// called again after it returned, but not concurrently.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("consumer is already running: call Run once at a time")
	}
	defer c.running.Store(false)
	defer c.ready.Store(false)

	for attempt := 0; ; attempt++ {
		err := c.runGroup(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if c.ready.Load() {
			attempt = 0 // it had joined: this is a new failure, not the same one
			c.refusedAlerted = time.Time{}
		}
		if errors.Is(err, sarama.ErrFencedInstancedId) {
			return fmt.Errorf("consume %v as group %s: another running instance uses the instance id %q (the node name); give every instance its own node: %w", c.topics, c.cfg.GroupID, c.cfg.InstanceID, err)
		}
		if !transient(err) {
			if what := describe(c.cfg.Credentials, err); what != "" {
				return fmt.Errorf("consume %v as group %s: %s: %w", c.topics, c.cfg.GroupID, what, err)
			}
			return fmt.Errorf("consume %v as group %s: %w", c.topics, c.cfg.GroupID, err)
		}
		c.ready.Store(false)
		wait := backoff(attempt)
		if reason, what, ok := c.refusal(err); ok {
			c.refused.Store(&what)
			if c.cfg.OnRefused != nil {
				c.cfg.OnRefused(reason)
			}
			if now := time.Now(); c.refusedAlerted.IsZero() || now.Sub(c.refusedAlerted) >= refusedAlertEvery {
				c.refusedAlerted = now
				c.log.Error("ALERT: kafka consumer: "+what+"; retrying until fixed, nothing is consumed meanwhile (logged again every minute while it lasts)",
					"group", c.cfg.GroupID, "brokers", c.cfg.Brokers, "reason", reason, "err", err, "retryIn", wait)
			} else {
				c.log.Warn("kafka consumer refused by the brokers, retrying", "group", c.cfg.GroupID, "reason", reason, "err", err, "retryIn", wait)
			}
		} else {
			c.refused.Store(nil)
			c.log.Warn("kafka consumer failed, retrying", "group", c.cfg.GroupID, "topics", c.topics, "err", err, "retryIn", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// refusedAlertEvery is how often a lasting refusal is logged as an ALERT
// again.
const refusedAlertEvery = time.Minute

// Refused says why the consumer cannot join its group when the brokers
// refused it at the last attempt: their TLS certificate failed
// verification (which certificate, the configured CA file, how to fix it)
// or they refused the SASL credentials (the mechanism and user, never the
// password). It is "" when the last attempt failed otherwise or the
// consumer joined. The consumer
// keeps retrying meanwhile; /readyz shows the reason.
func (c *Consumer) Refused() string {
	if p := c.refused.Load(); p != nil {
		return *p
	}
	return ""
}

// refusal tells an error of joining the group caused by the brokers'
// certificate failing verification, the brokers refusing this client's
// certificate, or the brokers refusing the SASL credentials (see
// refusal).
func (c *Consumer) refusal(err error) (reason, what string, ok bool) {
	return refusal(c.cfg.Credentials, err)
}

// runGroup joins the group and consumes until ctx ends or a session fails.
func (c *Consumer) runGroup(ctx context.Context) error {
	client, err := sarama.NewClient(c.cfg.Brokers, c.sc)
	if err != nil {
		return fmt.Errorf("connect to %v: %w", c.cfg.Brokers, withCause(err, c.cfg.Brokers, c.sc))
	}
	defer func() {
		if err := client.Close(); err != nil {
			c.log.Warn("close kafka client", "group", c.cfg.GroupID, "err", err)
		}
	}()
	stopLags := c.refreshLags(client)
	defer stopLags() // before the client closes (defers run last first)
	group, err := sarama.NewConsumerGroupFromClient(c.cfg.GroupID, client)
	if err != nil {
		return fmt.Errorf("connect to %v: %w", c.cfg.Brokers, err)
	}
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for err := range group.Errors() {
			var ce *sarama.ConsumerError
			if errors.Is(err, sarama.ErrOffsetOutOfRange) && errors.As(err, &ce) {
				// sarama stops reading the partition and ends the
				// session; the next one reads on from the committed
				// offset (checkReset raises it if that is out of range
				// too).
				c.log.Error("ALERT: kafka consumer: the partition's read position is outside its log: the broker lost records past it (an unclean leader election, the embedded broker's data lost) or deleted records not yet read (retention); rejoining the group to read on from the committed offset; see README \"Kafka data loss\"",
					"group", c.cfg.GroupID, "topic", ce.Topic, "partition", ce.Partition, "err", err)
				continue
			}
			c.log.Warn("kafka consumer error", "group", c.cfg.GroupID, "err", err)
		}
	}()
	defer func() {
		if err := group.Close(); err != nil {
			c.log.Warn("close kafka consumer group", "group", c.cfg.GroupID, "err", err)
		}
		<-errsDone
	}()

	gh := &groupHandler{c: c, runCtx: ctx, client: client}
	for {
		err := group.Consume(ctx, c.topics, gh)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		// A nil error means a rebalance ended the session: rejoin.
	}
}

// permanentErrors cannot be fixed by retrying: they need a change of
// configuration, credentials or authorisation. Credentials the brokers
// refuse (sarama.ErrSASLAuthenticationFailed) are not among them: the
// user may be created or fixed on the brokers, so the consumer retries,
// loudly (see refusal).
var permanentErrors = []error{
	sarama.ErrUnsupportedSASLMechanism, sarama.ErrIllegalSASLState,
	sarama.ErrTopicAuthorizationFailed, sarama.ErrGroupAuthorizationFailed, sarama.ErrClusterAuthorizationFailed,
	sarama.ErrInvalidGroupId, sarama.ErrInvalidTopic, sarama.ErrUnsupportedVersion, sarama.ErrInconsistentGroupProtocol,
	sarama.ErrInvalidSessionTimeout, sarama.ErrGroupMaxSizeReached, sarama.ErrFencedInstancedId,
	errSCRAM,
}

// transient reports whether retrying can fix err. Network failures,
// unreachable brokers, moving coordinators and rebalances are transient;
// authentication, authorisation and configuration errors are not.
func transient(err error) bool {
	for _, p := range permanentErrors {
		if errors.Is(err, p) {
			return false
		}
	}
	var cfgErr sarama.ConfigurationError
	return !errors.As(err, &cfgErr)
}

// groupHandler serves one Run call. runCtx is Run's context: handlers run
// under its values, not under the session's context nor its cancellation,
// so that a rebalance (which ends the session context) and stopping the
// consumer (which ends runCtx, and so the session) both let them finish,
// for Consumer.releaseGrace.
type groupHandler struct {
	c      *Consumer
	runCtx context.Context
	// commits is the commit loop of the current session: set by Setup,
	// before sarama starts the session's ConsumeClaim calls, and stopped
	// by Cleanup, after they all returned.
	commits *committer
	// client is the group's client, for checking committed offsets.
	client sarama.Client

	// cluster is the id of the Kafka cluster client talks to, once a
	// broker said it (clusterID).
	clusterMu sync.Mutex
	cluster   string
}

// clusterID returns the id of the Kafka cluster (its cluster.id), asking
// a broker for the metadata of topic the first time; "" when no broker
// says. It is asked once per group session, not per message.
func (h *groupHandler) clusterID(topic string) string {
	h.clusterMu.Lock()
	defer h.clusterMu.Unlock()
	if h.cluster != "" {
		return h.cluster
	}
	for _, b := range h.client.Brokers() {
		if err := b.Open(h.c.sc); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
			continue
		}
		resp, err := b.GetMetadata(sarama.NewMetadataRequest(h.c.sc.Version, []string{topic}))
		if err == nil && resp.ClusterID != nil && *resp.ClusterID != "" {
			h.cluster = *resp.ClusterID
			break
		}
	}
	return h.cluster
}

func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	var after func()
	if h.c.cfg.History != nil {
		after = func() { h.recordConsumed(sess.Context()) }
	}
	h.commits = startCommitter(h.c, sess, after)
	h.c.refused.Store(nil)
	h.c.ready.Store(true)
	return nil
}

// Cleanup runs once every ConsumeClaim of the session returned, each
// after its partition's last commit. It commits once more: with
// auto-commit off, sarama does not flush marks when it closes the
// session, so the marks of a last commit that failed (the coordinator
// moving, a broker restarting) would be lost and their messages delivered
// again. With nothing left to send, the commit makes no request.
func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	if h.commits != nil {
		h.commits.close()
	}
	sess.Commit()
	if h.c.cfg.History != nil {
		// The last commit may be a partition's first: record it even
		// though the session (or the consumer) is ending.
		h.recordConsumed(context.WithoutCancel(sess.Context()))
		h.c.histMu.Lock()
		clear(h.c.histTodo)
		h.c.histMu.Unlock()
	}
	return nil
}

// toRecord notes a partition claimed in this session for recording in
// Config.History, unless this process recorded it already: one whose
// claim started from a committed offset, or one whose first offset was
// marked for commit.
func (c *Consumer) toRecord(tp topicPartition) {
	c.histMu.Lock()
	defer c.histMu.Unlock()
	if c.histDone[tp] {
		return
	}
	if c.histTodo == nil {
		c.histTodo = map[topicPartition]bool{}
	}
	c.histTodo[tp] = true
}

// recordConsumed records in Config.History the partitions noted by
// toRecord whose offsets the group has committed. The committer calls it
// after each commit; it asks the brokers only while some are left, which
// is once or twice per partition in a process's life: no call is made
// per message.
func (h *groupHandler) recordConsumed(ctx context.Context) {
	c := h.c
	c.histMu.Lock()
	byTopic := map[string][]int32{}
	for tp := range c.histTodo {
		byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
	}
	c.histMu.Unlock()
	if len(byTopic) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	var failed error
	admin, err := sarama.NewClusterAdminFromClient(h.client) // not closed: that would close the group's client
	var resp *sarama.OffsetFetchResponse
	if err == nil {
		resp, err = admin.ListConsumerGroupOffsets(c.cfg.GroupID, byTopic)
	}
	if err != nil {
		failed = fmt.Errorf("read the group's committed offsets: %w", err)
	}
	for topic, parts := range byTopic {
		for _, partition := range parts {
			if failed != nil {
				break
			}
			b := resp.GetBlock(topic, partition)
			if b == nil || !errors.Is(b.Err, sarama.ErrNoError) || b.Offset < 0 {
				continue // nothing committed yet: try after the next commit
			}
			if err := c.cfg.History.RecordConsumed(ctx, Consumption{Group: c.cfg.GroupID, Cluster: h.clusterID(topic)}, topic, partition); err != nil {
				failed = fmt.Errorf("record partition %s/%d: %w", topic, partition, err)
				break
			}
			tp := topicPartition{topic, partition}
			c.histMu.Lock()
			delete(c.histTodo, tp)
			if c.histDone == nil {
				c.histDone = map[topicPartition]bool{}
			}
			c.histDone[tp] = true
			c.histMu.Unlock()
		}
	}
	c.histMu.Lock()
	warn := failed != nil && !c.histWarned
	c.histWarned = failed != nil
	c.histMu.Unlock()
	if warn {
		c.log.Warn("kafka consumer: cannot record which partitions have committed offsets; retrying after each commit; until it succeeds, a group losing its offsets (expired, deleted or renamed) goes unnoticed; check the store and the brokers",
			"group", c.cfg.GroupID, "err", failed)
	}
}

func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	// Not cancelled with runCtx: stopping the consumer lets the running
	// handlers go on for the release grace (see consume), as a rebalance
	// does.
	ctx, cancel := context.WithCancel(context.WithoutCancel(h.runCtx))
	defer cancel()
	p := &partition{
		h:      h,
		ctx:    ctx,
		cancel: cancel,
		sess:   sess,
		topic:  claim.Topic(),
		id:     claim.Partition(),
		claim:  claim,
		next:   claim.InitialOffset(),
		keys:   make(map[string]*keyQueue),
		stopCh: make(chan struct{}),
	}
	p.hwmAt.Store(time.Now().UnixNano()) // as good as unknown, for lagStaleAfter at most
	c := h.c
	c.partsMu.Lock()
	if c.parts == nil {
		c.parts = map[*partition]struct{}{}
	}
	c.parts[p] = struct{}{}
	c.partsMu.Unlock()
	defer func() {
		c.partsMu.Lock()
		delete(c.parts, p)
		c.partsMu.Unlock()
	}()
	if claim.InitialOffset() < 0 {
		h.checkReset(claim.Topic(), claim.Partition())
	}
	if c.cfg.History != nil {
		if claim.InitialOffset() >= 0 {
			// The group has committed an offset for it.
			c.toRecord(topicPartition{claim.Topic(), claim.Partition()})
		} else {
			// Once it has (see advance). A partition that never
			// gets a message is never recorded.
			p.record = true
		}
	}
	p.consume(claim.Messages())
	return nil
}

// checkReset is called when sarama starts a claim from the oldest record
// (Consumer.Offsets.Initial) rather than from a committed offset: either
// the group has none for the partition, or the committed offset was
// outside the partition's log and sarama reset it
// (Consumer.Group.ResetInvalidOffsets), which it does silently. The
// second is raised as an ALERT: committed beyond the log end, the broker
// lost records (an unclean leader election, the embedded broker's
// directory lost) and the whole retained log is delivered again;
// committed before the log start, records were deleted (retention) before
// medgate read them. Without a committed offset, checkLost tells the
// group's first start from lost offsets.
func (h *groupHandler) checkReset(topic string, partition int32) {
	c := h.c
	log := c.log.With("group", c.cfg.GroupID, "topic", topic, "partition", partition)
	admin, err := sarama.NewClusterAdminFromClient(h.client) // not closed: that would close the group's client
	var resp *sarama.OffsetFetchResponse
	if err == nil {
		resp, err = admin.ListConsumerGroupOffsets(c.cfg.GroupID, map[string][]int32{topic: {partition}})
	}
	if err != nil {
		log.Warn("kafka consumer: cannot tell whether the partition starts from its oldest record because its committed offset was out of range; check the broker logs for data loss", "err", err)
		return
	}
	b := resp.GetBlock(topic, partition)
	if b == nil || !errors.Is(b.Err, sarama.ErrNoError) || b.Offset < 0 {
		h.checkLost(log, topic, partition)
		return
	}
	oldest, err1 := h.client.GetOffset(topic, partition, sarama.OffsetOldest)
	newest, err2 := h.client.GetOffset(topic, partition, sarama.OffsetNewest)
	if err := errors.Join(err1, err2); err != nil {
		log.Warn("kafka consumer: read the partition's offsets", "committedOffset", b.Offset, "err", err)
	}
	attrs := []any{"committedOffset", b.Offset, "newOffset", oldest, "logEndOffset", newest}
	if b.Offset < oldest {
		log.Error("ALERT: kafka consumer: the partition's committed offset is before its oldest record: records were deleted (retention) before medgate read them, and the requests among them are lost; reading from the oldest record; ask the platform to send the requests of that period again (see README \"Kafka data loss\")", attrs...)
	} else {
		log.Error("ALERT: kafka consumer: the partition's committed offset is beyond its log end: the broker lost records (an unclean leader election, or the embedded broker's data directory lost); reading the whole retained log again from the oldest record: requests whose outcome the store still keeps (retention.messages) get their stored reply and nothing is sent out again, others are processed anew; see README \"Kafka data loss\"", attrs...)
	}
	if c.cfg.OnOffsetReset != nil {
		c.cfg.OnOffsetReset(topic, partition, ResetOutOfRange)
	}
}

// checkLost is called for a claim that starts from the oldest record
// because the group has no committed offset for the partition. That is
// the group's first start, unless Config.History says the partition was
// consumed before. Consumed before on another Kafka cluster (a new
// installation reusing the store), or by another group (kafka.groupId
// was changed): a planned change, logged as a WARN (see groupChanged),
// not an ALERT, and not counted as a reset. Consumed before by this
// group on this cluster (or one not recorded), the
// group lost its offsets (they expired while every instance was down
// longer than the broker's offsets.retention.minutes, or the group was
// deleted), and the whole retained log is delivered again, which is
// raised as an ALERT.
func (h *groupHandler) checkLost(log *slog.Logger, topic string, partition int32) {
	c := h.c
	if c.cfg.History == nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.runCtx, historyTimeout)
	defer cancel()
	previous, consumed, err := c.cfg.History.Consumed(ctx, topic, partition)
	if err != nil {
		log.Warn("kafka consumer: the group has no committed offset for the partition, which is read from its oldest record; cannot tell whether medgate consumed it before (the group's offsets lost) because the partition history cannot be read; check the store, and see README \"Kafka data loss\"", "err", err)
		return
	}
	if !consumed {
		return // the group's first start
	}
	oldest, err1 := h.client.GetOffset(topic, partition, sarama.OffsetOldest)
	newest, err2 := h.client.GetOffset(topic, partition, sarama.OffsetNewest)
	if err := errors.Join(err1, err2); err != nil {
		log.Warn("kafka consumer: read the partition's offsets", "err", err)
	}
	if cluster := h.clusterID(topic); previous.Cluster != "" && cluster != "" && previous.Cluster != cluster {
		log.Warn("kafka consumer: the brokers are another Kafka cluster than the one the partition was last consumed on (a new installation reusing the store, or the cluster replaced): the group has no committed offset on it, and the partition is read from its oldest record, which holds only this cluster's records; nothing is read again. Requests the platform wrote to the old cluster that medgate had not read are not in this one: if the old cluster was lost rather than retired, compare the platform's sent log with GET /admin/messages and have it send the missing ones again; see README \"Kafka data loss\"",
			"cluster", cluster, "previousCluster", previous.Cluster, "previousGroup", previous.Group, "newOffset", oldest, "logEndOffset", newest)
		return
	}
	if previous.Group != "" && previous.Group != c.cfg.GroupID {
		h.groupChanged(log, previous.Group, topic, partition, oldest, newest)
		return
	}
	log.Error("ALERT: kafka consumer: the group has no committed offset for a partition it consumed before: its offsets expired while every instance was down longer than the broker's offsets.retention.minutes (7 days by default), or the group was deleted; reading the whole retained log again from the oldest record: requests whose outcome the store still keeps (retention.messages) get their stored reply published again and nothing is sent out again, older ones are processed anew and may reach the external system a second time; see README \"Kafka data loss\"",
		"previousGroup", previous.Group, "newOffset", oldest, "logEndOffset", newest)
	if c.cfg.OnOffsetReset != nil {
		c.cfg.OnOffsetReset(topic, partition, ResetOffsetsLost)
	}
}

// groupChanged logs, as a WARN, a partition that another group, previous,
// consumed last: kafka.groupId was changed (or a new installation reuses
// the store under another group). The new group has no offsets, so the
// partition is read again from its oldest record; the WARN says what that
// does, gives the previous group's committed offset when it still has
// one, and how an admin carries it over or goes back.
func (h *groupHandler) groupChanged(log *slog.Logger, previous, topic string, partition int32, oldest, newest int64) {
	prevOffset := "none (the previous group has no committed offset left for the partition)"
	admin, err := sarama.NewClusterAdminFromClient(h.client) // not closed: that would close the group's client
	var resp *sarama.OffsetFetchResponse
	if err == nil {
		resp, err = admin.ListConsumerGroupOffsets(previous, map[string][]int32{topic: {partition}})
	}
	if err != nil {
		prevOffset = "unknown (" + err.Error() + ")"
	} else if b := resp.GetBlock(topic, partition); b != nil && errors.Is(b.Err, sarama.ErrNoError) && b.Offset >= 0 {
		prevOffset = strconv.FormatInt(b.Offset, 10)
	}
	log.Warn("kafka consumer: kafka.groupId changed since the partition was last consumed (by previousGroup): the new group has no committed offset, so the partition is read again from its oldest record: requests whose outcome the store still keeps (retention.messages) get their stored reply published again and nothing is sent out again, older ones are processed anew and may reach the external system a second time. "+
		"If the change was a mistake, stop medgate and set kafka.groupId back to previousGroup. To have a new group go on where the old one stopped, give it the old group's offsets before its first start: kafka-consumer-groups.sh --group <new group> --topic <topic>:<partition> --reset-offsets --to-offset <previousGroupOffset> --execute; see README \"Kafka data loss\"",
		"previousGroup", previous, "previousGroupOffset", prevOffset, "newOffset", oldest, "logEndOffset", newest)
}
