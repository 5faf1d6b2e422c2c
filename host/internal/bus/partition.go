package bus

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// partition processes one claimed topic partition for one group session:
// a queue per key feeding handlers, and the list of messages read but not
// yet committed, in offset order, from which the commit point advances.
type partition struct {
	h    *groupHandler
	sess sarama.ConsumerGroupSession
	// ctx is the handlers' context: the consumer's, cancelled
	// Consumer.releaseGrace after the partition stops (see consume).
	ctx    context.Context
	cancel context.CancelFunc
	topic  string
	id     int32
	// claim is the partition's claim, whose high-water mark (as of its
	// last fetch) Lags compares with next.
	claim sarama.ConsumerGroupClaim
	// hwm is the high-water mark the consumer last asked the broker for
	// (refreshLags), 0 until then: Lags uses it when it is above the
	// claim's, which stays as of the last fetch while nothing is fetched.
	hwm atomic.Int64
	// hwmAt is when the partition's high-water mark was last known to be
	// current (Unix nanoseconds): its claim's start, refreshLags' last
	// answer from the leader, or refreshLags' last tick that found
	// records read since the one before (a fetch answered, with its
	// mark). Its lag is unknown once that is older than
	// Consumer.lagStaleAfter (see lag).
	hwmAt atomic.Int64
	// lagUnknown is set while the lag is unknown and logged so
	// (refreshLags' goroutine only).
	lagUnknown bool

	mu sync.Mutex
	// next is the offset of the next record to read: the claim's initial
	// offset, then one past the last message enqueued; negative while
	// unknown (the claim starts from the oldest record and nothing was
	// read yet). See lag.
	next           int64
	pending        []*entry             // read, not yet committed, in offset order
	headSince      time.Time            // when pending[0] became the oldest unfinished message
	keys           map[string]*keyQueue // keys with queued or running messages
	abandoned      int                  // queued messages dropped on stop
	abandonedBytes int64                // their weight in Consumer.bufBytes
	workers        sync.WaitGroup
	stopCh         chan struct{} // closed when no more handlers may start
	// laters counts the deferred messages (see Defer) not done yet.
	laters int
	// latersIdle, set by consume once no handler runs (so laters only
	// falls), is closed when laters reaches zero.
	latersIdle chan struct{}
	// record is set while the partition is to be noted for
	// Config.History at its first mark (see advance and toRecord).
	record bool
	// cut is set when the partition's release grace has passed: a
	// deferred message done after it (Done(nil)) is no longer finished,
	// since the partition's last commit no longer waits for it.
	cut bool
	// retries keeps the WARNs of handler retries from flooding the log.
	retries retryLog
	// running counts the handlers running now (see work), reported with
	// the deferred messages when the release grace cuts them off.
	running atomic.Int32
}

type entry struct {
	// msg is the message until it finishes, then nil: a finished message
	// may wait in pending for long behind an unfinished one (a handler
	// retrying), and only its offset is needed then, not its key and
	// value (slices of the fetch response they came in).
	msg    *Message
	offset int64
	done   bool
	weight int64 // held in Consumer.bufBytes until the message finishes
}

type keyQueue struct {
	items []*entry // items[0] is running or next to run
}

// consume reads the claim until it is revoked or the session ends, then
// waits for running handlers and commits the finished prefix.
func (p *partition) consume(msgs <-chan *sarama.ConsumerMessage) {
	sessDone := p.sess.Context().Done()
read:
	for {
		select {
		case <-sessDone:
			break read
		case cm, ok := <-msgs:
			if !ok {
				break read
			}
			// Bound the messages read but unfinished: a stuck key may
			// hold back reading, but only after many messages.
			select {
			case p.h.c.buffered <- struct{}{}:
			case <-sessDone:
				break read // cm was never queued; it is after the commit point
			}
			// And bound their bytes: a burst of large messages waits in
			// Kafka, not in memory.
			w := min(int64(len(cm.Key)+len(cm.Value)), p.h.c.bufLimit)
			if !p.h.c.bufBytes.TryAcquire(w) {
				p.h.c.bufWaits.Add(1)
				if err := p.h.c.bufBytes.Acquire(p.sess.Context(), w); err != nil {
					<-p.h.c.buffered
					break read // the session ended; cm was never queued
				}
			}
			p.enqueue(toMessage(cm), w)
		}
	}

	close(p.stopCh)
	// Running handlers and deferred messages may finish, whether the
	// partition is revoked or the consumer stops: a plugin call cut off
	// mid-flight leaves an outcome to reconcile with the external system,
	// while one that ends has its outcome stored, its reply published and
	// its offset committed here, and is not delivered again. But not past
	// the release grace (Config.ReleaseGrace), at most half the group's
	// rebalance timeout: a member that has not rejoined by then is
	// dropped, and the partition's next owner would deliver their
	// messages again while they still run; the other half leaves time
	// for the last commit. A deferred message still waiting then (a
	// broker slow to acknowledge its reply) stays unfinished even if it
	// is acknowledged later (Later.Done after the cut): its offset is not
	// committed here, and the next owner delivers it again and gets its
	// stored outcome.
	//
	// A member that learnt it is no longer in the group (its heartbeat
	// answered with an unknown member id or an old generation: it missed
	// its session timeout, a pause or a network cut) has no grace: its
	// partitions are another member's already, which delivers their
	// messages from the committed offset, so the handlers here are
	// cancelled at once.
	grace := p.h.c.releaseGrace
	if cause := context.Cause(p.sess.Context()); membershipLost(cause) {
		grace = 0
		p.h.c.log.Warn("left the Kafka consumer group before releasing the partition; its running handlers are cancelled at once, since its next owner may deliver their messages already",
			"topic", p.topic, "partition", p.id, "cause", cause)
	}
	graceOver := make(chan struct{})
	giveUp := time.AfterFunc(grace, func() {
		p.mu.Lock()
		p.cut = true
		unfinished := int(p.running.Load()) + p.laters
		p.mu.Unlock()
		if unfinished > 0 {
			p.h.c.log.Warn("partition released with messages unfinished when its release grace passed; their plugin calls are cancelled (or their replies' acknowledgements given up), and each is delivered again and reconciled with the external system before any resend: if this recurs, raise kafka.releaseGrace or find out why the calls take long (GET /admin/exchanges)",
				"topic", p.topic, "partition", p.id, "unfinished", unfinished, "grace", grace.String())
			if f := p.h.c.cfg.OnReleaseCut; f != nil {
				f(p.topic, p.id, unfinished)
			}
		}
		close(graceOver)
		p.cancel()
	})
	p.workers.Wait()
	// No handler runs now, so no message is deferred any more: laters
	// only falls.
	idle := make(chan struct{})
	p.mu.Lock()
	if p.laters == 0 {
		close(idle)
	}
	p.latersIdle = idle
	p.mu.Unlock()
	select {
	case <-idle:
		// What is acknowledged by now is finished, the rest gave up
		// (Later.Stopping) and is delivered again.
	case <-graceOver:
		p.mu.Lock()
		if left := p.laters; left > 0 {
			p.h.c.log.Warn("partition released while replies still wait for their acknowledgement; their messages are delivered again to its next owner",
				"topic", p.topic, "partition", p.id, "waiting", left, "grace", p.h.c.releaseGrace.String())
		}
		p.mu.Unlock()
	}
	giveUp.Stop()

	// Messages whose handler never started stay uncommitted and give back
	// their buffer tokens.
	p.mu.Lock()
	abandoned, abandonedBytes := p.abandoned, p.abandonedBytes
	p.mu.Unlock()
	for range abandoned {
		<-p.h.c.buffered
	}
	p.h.c.bufBytes.Release(abandonedBytes)

	p.sess.Commit()
}

// membershipLost reports whether a group session ended because the member
// is no longer in the group (cause is the session context's).
func membershipLost(cause error) bool {
	return errors.Is(cause, sarama.ErrUnknownMemberId) || errors.Is(cause, sarama.ErrIllegalGeneration) ||
		errors.Is(cause, sarama.ErrFencedInstancedId)
}

func (p *partition) enqueue(m *Message, weight int64) {
	e := &entry{msg: m, offset: m.Offset, weight: weight}
	p.mu.Lock()
	p.next = m.Offset + 1
	if len(p.pending) == 0 {
		p.headSince = time.Now()
	}
	p.pending = append(p.pending, e)
	if len(m.Key) == 0 {
		// No key, no order: the message gets a queue of its own.
		q := &keyQueue{items: []*entry{e}}
		p.workers.Add(1)
		p.mu.Unlock()
		go p.work("", q, false)
		return
	}
	key := string(m.Key)
	if q := p.keys[key]; q != nil {
		q.items = append(q.items, e)
		p.mu.Unlock()
		return
	}
	q := &keyQueue{items: []*entry{e}}
	p.keys[key] = q
	p.workers.Add(1)
	p.mu.Unlock()
	go p.work(key, q, true)
}

// work runs the handler for the messages of one key, one at a time, until
// the queue is empty or the partition stops.
func (p *partition) work(key string, q *keyQueue, keyed bool) {
	defer p.workers.Done()
	for {
		p.mu.Lock()
		if len(q.items) == 0 {
			if keyed {
				delete(p.keys, key)
			}
			p.mu.Unlock()
			return
		}
		if p.isStopping() {
			// Leave the rest for the partition's next owner.
			p.abandoned += len(q.items)
			for _, e := range q.items {
				p.abandonedBytes += e.weight
			}
			if keyed {
				delete(p.keys, key)
			}
			p.mu.Unlock()
			return
		}
		e := q.items[0]
		p.mu.Unlock()

		select {
		case p.h.c.inFlight <- struct{}{}:
		case <-p.stopCh:
			continue // the check above abandons the queue
		}
		if p.isStopping() {
			<-p.h.c.inFlight
			continue
		}
		p.running.Add(1)
		finished, later := p.call(e, q)
		p.running.Add(-1)
		<-p.h.c.inFlight
		if later == nil {
			p.release(e)
		}

		p.mu.Lock()
		q.items[0] = nil
		q.items = q.items[1:]
		if finished && later == nil {
			e.finish()
			p.advance()
		}
		p.mu.Unlock()
	}
}

// finish marks e finished and lets go of its message. The caller holds
// p.mu.
func (e *entry) finish() {
	e.done = true
	e.msg = nil
}

// release gives back the buffer tokens of a message that ended, finished
// or not.
func (p *partition) release(e *entry) {
	<-p.h.c.buffered
	p.h.c.bufBytes.Release(e.weight)
}

// hold describes the partition's oldest unfinished message, if any.
func (p *partition) hold() (Hold, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return Hold{}, false
	}
	head := p.pending[0].msg
	return Hold{Topic: p.topic, Partition: p.id, Offset: head.Offset, Key: string(head.Key), Since: p.headSince, Waiting: len(p.pending)}, true
}

// lag returns how many records of the partition the consumer has not
// read yet: the partition's high-water mark, the later of the last
// fetch's and the last refreshLags', less the next offset to read; false
// while the next offset is not known, once the partition is being
// released (its next owner reports it), and while the high-water mark
// is not known to be current, nothing having confirmed it (hwmAt) in
// stale until now: the lag is unknown then. It asks the broker nothing:
// sarama keeps the high-water mark of each fetch response, refreshLags
// the one it asked for.
func (p *partition) lag(now time.Time, stale time.Duration) (int64, bool) {
	if p.isStopping() || p.hwmStale(now, stale) {
		return 0, false
	}
	hwm := max(p.claim.HighWaterMarkOffset(), p.hwm.Load())
	next := p.nextOffset()
	if next < 0 {
		return 0, false
	}
	return max(hwm-next, 0), true
}

// hwmStale reports whether nothing confirmed the partition's high-water
// mark (hwmAt) in stale until now: its lag is unknown then.
func (p *partition) hwmStale(now time.Time, stale time.Duration) bool {
	return now.Sub(time.Unix(0, p.hwmAt.Load())) > stale
}

// nextOffset returns the offset of the next record to read (next).
func (p *partition) nextOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// isStopping reports whether handlers may no longer start: the partition
// is being released or the session has ended.
func (p *partition) isStopping() bool {
	select {
	case <-p.stopCh:
		return true
	default:
		return p.sess.Context().Err() != nil
	}
}

// advance drops the finished prefix of pending and marks the offset after
// it. The caller holds p.mu, so marks happen in increasing order.
func (p *partition) advance() {
	n := 0
	for n < len(p.pending) && p.pending[n].done {
		n++
	}
	if n == 0 {
		return
	}
	next := p.pending[n-1].offset + 1
	clear(p.pending[:n])
	p.pending = p.pending[n:]
	p.headSince = time.Now()
	p.sess.MarkOffset(p.topic, p.id, next, "")
	if p.record {
		// Its first commit is on the way: have the committer record
		// the partition once the group has it.
		p.record = false
		p.h.c.toRecord(topicPartition{p.topic, p.id})
	}
	p.h.commits.marked()
}

// commitInterval is the shortest time between two offset commits of a
// group session. Marks made meanwhile, on any of its partitions, go into
// the next commit. Without it a busy consumer commits after every few
// messages, each commit a request the broker appends to its offsets log
// and that holds the coordinator's connection, on which the next fetch
// waits: under load that is broker and client CPU taken from the messages,
// and a delay for the records that arrive meanwhile. A crash redelivers at
// most the messages finished during the last interval, which get their
// stored replies; no message is committed before it is finished.
var commitInterval = 100 * time.Millisecond // a variable for tests

// recommitInterval is how often a group session commits again while
// nothing new is marked. sarama keeps a mark whose commit failed (the
// coordinator moving, a broker restarting, offsets still loading) for the
// next commit, and without a next mark there would be none: the committed
// offset of a partition gone quiet would stay behind its finished
// messages, and a restart would deliver them again, long after the fact
// (sarama's own auto-commit, off here, retries on its interval too). A
// commit with nothing left to send makes no request.
var recommitInterval = time.Second // a variable for tests

// committer commits a group session's marked offsets as they advance: at
// once after a quiet spell, then at most once per commitInterval while
// marks keep coming; and once per recommitInterval whatever happens, so
// that marks whose commit failed are sent again. One per session, not one per partition: a commit
// (sarama's ConsumerGroupSession.Commit) takes every partition's marks, so
// partitions committing on their own clocks sent up to one request per
// partition per interval, each with little in it. A partition that stops
// (revoked, the session ending) still commits its last marks itself,
// before it returns, and the session's Cleanup commits once more.
type committer struct {
	c    *Consumer
	sess sarama.ConsumerGroupSession
	// after, when set, runs after each commit (see recordConsumed).
	after func()
	ch    chan struct{} // capacity 1: "a new offset was marked"
	stop  chan struct{}
	done  chan struct{}
}

// startCommitter starts the commit loop of sess; after, when not nil,
// runs after each commit, in the loop.
func startCommitter(c *Consumer, sess sarama.ConsumerGroupSession, after func()) *committer {
	m := &committer{c: c, sess: sess, after: after, ch: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go m.loop()
	return m
}

// marked says an offset was marked; it never blocks.
func (m *committer) marked() {
	select {
	case m.ch <- struct{}{}:
	default: // a commit is already due; it will include this mark
	}
}

// close stops the loop and waits for it; marks left are committed by the
// partitions as they stop.
func (m *committer) close() {
	close(m.stop)
	<-m.done
}

func (m *committer) loop() {
	defer close(m.done)
	pace := time.NewTimer(commitInterval)
	pace.Stop()
	retry := time.NewTicker(recommitInterval)
	defer retry.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-retry.C:
			// Marks a failed commit left behind, if any; nothing is
			// sent otherwise (not counted in commits).
			m.sess.Commit()
			if m.after != nil {
				m.after()
			}
			continue
		case <-m.ch:
			m.sess.Commit()
			m.c.commits.Add(1)
			if m.after != nil {
				m.after()
			}
		}
		pace.Reset(commitInterval)
		select {
		case <-m.stop:
			pace.Stop()
			return
		case <-pace.C:
		}
	}
}

// call runs the handler until it returns nil and reports whether the
// message finished: false when the partition stopped or the consumer's
// context ended before the handler succeeded. When the handler deferred the
// message (Defer), later is its Later, which finishes it (or not) instead.
func (p *partition) call(e *entry, q *keyQueue) (finished bool, later *Later) {
	h := p.h
	m := e.msg
	for attempt := 0; ; attempt++ {
		d := &delivery{p: p, m: m, e: e, q: q}
		ctx := context.WithValue(p.ctx, deliveryKey{}, d)
		err := h.c.handler(ctx, m)
		p.mu.Lock()
		later = d.later
		d.ended = true
		p.mu.Unlock()
		if later != nil {
			if err != nil {
				// Defer promised a nil return: the Later decides.
				h.c.log.Error("message handler deferred the message, then failed; the deferred work decides whether it finishes",
					"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			}
			return true, later
		}
		if err == nil {
			return true, nil
		}
		if h.runCtx.Err() != nil || p.isStopping() {
			return false, nil
		}
		wait := backoff(attempt)
		p.logRetry(m, attempt, err, wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-h.runCtx.Done():
			t.Stop()
			return false, nil
		case <-p.stopCh:
			t.Stop()
			return false, nil
		case <-p.sess.Context().Done():
			t.Stop()
			return false, nil
		}
	}
}

// logRetry logs that the handler of m failed (err) at attempt and is
// called again after wait: the first retry of a cause, then at most one
// a minute per partition and cause, with how many were not logged
// meanwhile (see retryLog).
func (p *partition) logRetry(m *Message, attempt int, err error, wait time.Duration) {
	c := p.h.c
	log, unlogged := p.retries.note(c.cfg.retryCause(err), c.clock())
	if !log {
		return
	}
	args := []any{"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "attempt", attempt + 1, "err", err, "retryIn", wait.String()}
	if unlogged > 0 {
		args = append(args, "retriesSinceLastLog", unlogged)
	}
	c.log.Warn("message not finished; calling its handler again (its key and the partition's commit point wait); further retries of the partition's messages failing for the same cause are logged at most once a minute, with how many were not (retriesSinceLastLog)", args...)
}

func toMessage(cm *sarama.ConsumerMessage) *Message {
	m := &Message{
		Topic:     cm.Topic,
		Partition: cm.Partition,
		Offset:    cm.Offset,
		Key:       cm.Key,
		Value:     cm.Value,
		Timestamp: cm.Timestamp,
	}
	if len(cm.Headers) > 0 {
		m.Headers = make(map[string]string, len(cm.Headers))
		for _, rh := range cm.Headers {
			if rh != nil {
				m.Headers[string(rh.Key)] = string(rh.Value)
			}
		}
	}
	return m
}

// deliveryKey is the context key of the *delivery a handler runs for.
type deliveryKey struct{}

// delivery is the message a handler call is for, with its key's queue.
type delivery struct {
	p *partition
	m *Message
	e *entry
	q *keyQueue
	// later and ended are guarded by p.mu: the Later the handler took,
	// and whether the handler returned.
	later *Later
	ended bool
}

// Current returns the message the consumer's handler was called for with
// ctx, or nil when ctx does not come from a Consumer. Each delivery of a
// record is a Message of its own: a record delivered again (after a
// rebalance or a restart) is another *Message.
func Current(ctx context.Context) *Message {
	if d, ok := ctx.Value(deliveryKey{}).(*delivery); ok {
		return d.m
	}
	return nil
}

// Next returns the message of the same key and partition queued right
// behind the one the handler was called for with ctx: the message the
// consumer hands to the handler next for that key, unless the partition is
// released first. It returns nil when none is queued yet, for messages
// without a key, and when ctx does not come from a Consumer.
func Next(ctx context.Context) *Message {
	d, ok := ctx.Value(deliveryKey{}).(*delivery)
	if !ok || len(d.m.Key) == 0 {
		return nil
	}
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	if len(d.q.items) < 2 || d.q.items[0].msg != d.m {
		return nil
	}
	return d.q.items[1].msg
}

// Later is a message whose handler returned while the message is not
// finished yet: the rest of its work (in medgate, the acknowledgement of
// its reply) goes on in the background. See Defer.
type Later struct {
	p    *partition
	e    *entry
	once sync.Once
}

// Defer, called by a handler with the context it was called with, tells
// the consumer that the message is finished only when the returned Later's
// Done is called with nil, not when the handler returns. The handler must
// then return nil; the consumer hands the key's next message to the
// handler at once, while the partition's commit point stays before this
// message until Done(nil). So a handler may overlap the slow end of a
// message (waiting for an acknowledgement) with its key's next message;
// keeping the key's order in that end is the handler's business.
//
// The deferred work must end, by calling Done exactly once: with nil when
// the message is finished, or with an error when it gives up, which it
// must do only once Stopping is closed (the message is then delivered
// again to the partition's next owner, like one whose handler failed).
// When the partition is released or the consumer stops, the consumer waits
// for every Later of the partition before its last commit, but only for
// the release grace (Config.ReleaseGrace, as for running handlers, see
// Handler): a Later done after that is not finished even with Done(nil),
// its offset is not committed, and the partition's next owner delivers
// the message again.
//
// Defer returns nil when ctx does not come from a Consumer or when the
// handler already returned. Calling it twice in a handler call returns the
// same Later.
func Defer(ctx context.Context) *Later {
	d, ok := ctx.Value(deliveryKey{}).(*delivery)
	if !ok {
		return nil
	}
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	if d.ended {
		return nil
	}
	if d.later == nil {
		d.later = &Later{p: d.p, e: d.e}
		d.p.laters++
	}
	return d.later
}

// Stopping is closed when the deferred work must give up rather than
// retry: the partition is being released or the consumer is stopping.
// Work already under way (an acknowledgement on its way) may still end
// with Done(nil), and so finish the message, within the release grace
// (Config.ReleaseGrace, see Defer).
func (l *Later) Stopping() <-chan struct{} { return l.p.stopCh }

// Done ends the deferred message: finished when err is nil (its offset may
// then be committed once every earlier message of the partition is
// finished), left for redelivery otherwise. Calls after the first do
// nothing.
func (l *Later) Done(err error) {
	l.once.Do(func() {
		p := l.p
		m := l.e.msg
		p.release(l.e)
		p.mu.Lock()
		cut := p.cut
		if err == nil && !cut {
			l.e.finish()
			p.advance()
		}
		p.laters--
		if p.laters == 0 && p.latersIdle != nil {
			close(p.latersIdle)
		}
		p.mu.Unlock()
		switch {
		case err != nil:
			p.h.c.log.Warn("deferred message not finished; it is delivered again to the partition's next owner",
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		case cut:
			p.h.c.log.Warn("deferred message done after its partition was released (the release grace, kafka.releaseGrace, had passed); not committed, it is delivered again to the partition's next owner",
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset)
		}
	})
}

// Released returns a channel closed when the partition of the message the
// handler was called for with ctx is being released or the consumer is
// stopping: a handler waiting for something else (another message's work)
// should then give up; work of its own may go on for the release grace
// (Config.ReleaseGrace), until ctx is cancelled. It returns nil (never
// closed) when ctx does not come from a Consumer.
func Released(ctx context.Context) <-chan struct{} {
	if d, ok := ctx.Value(deliveryKey{}).(*delivery); ok {
		return d.p.stopCh
	}
	return nil
}

// EarlierUnfinished reports whether a message of the same key and
// partition read before the one the handler was called for with ctx is
// not finished: deferred still (Defer), or left for redelivery (its
// handler failed, or its Later gave up, as they may while the partition
// is released). A handler that publishes something whose order per key
// matters (a reply) while its partition is released (Released) should
// then publish nothing: the earlier message is delivered again to the
// partition's next owner, with this one, and publishing now would put
// this one first. It returns false for a message without a key and when
// ctx does not come from a Consumer.
func EarlierUnfinished(ctx context.Context) bool {
	d, ok := ctx.Value(deliveryKey{}).(*delivery)
	if !ok || len(d.m.Key) == 0 {
		return false
	}
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	for _, e := range d.p.pending {
		if e.offset >= d.e.offset {
			break
		}
		// An unfinished entry keeps its message (entry.finish).
		if !e.done && string(e.msg.Key) == string(d.m.Key) {
			return true
		}
	}
	return false
}
