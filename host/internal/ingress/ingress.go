// Package ingress is the HTTP ingress through Kafka: a request sent to
// POST /v1/messages (or from the console) is written to the request topic
// like any Kafka request and its caller waits for the outcome, handed over
// by this instance's consumer or read from the shared store. A failed
// message replayed by an administrator goes back on the request topic the
// same way. A request too large for a Kafka record is recorded in the
// store and a reference to it is written to the topic in its place
// (pipeline.HeaderStoredRequest): nothing is processed outside Kafka.
//
// When the store cannot tell whether a reference reached Kafka (the
// instance died between Kafka's acknowledgement and the mark of it,
// markQueued), Requeue queues another: a reference lost must not leave
// its message pending for ever. The message is then delivered twice; the
// pipeline processes it once and publishes its reply once, from the
// delivery that finished it (pipeline.ReferenceTakersNS).
//
// An error of Process or Replay caused by Kafka or the store is marked
// with that dependency (DependencyError), so the HTTP answer can tell a
// passing outage (503 with Retry-After) from a fault of medgate (500).
package ingress

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
)

// Processor processes a message at once (a *pipeline.Processor).
type Processor interface {
	Process(ctx context.Context, in pipeline.Input) (*message.Reply, error)
}

// Options configure an Ingress.
type Options struct {
	// Store holds the outcomes other instances finished.
	Store store.Store
	// Publisher writes requests to Topic (a *bus.Producer).
	Publisher pipeline.Publisher
	// Processor answers at once what cannot be queued: a request without
	// a usable id, over MaxPayloadBytes or with an unusable key.
	Processor Processor
	// Topic is the request topic requests are queued on.
	Topic string
	// MaxPayloadBytes is processing.maxPayloadBytes: a larger request is
	// answered invalid at once.
	MaxPayloadBytes int
	// Logger notes requests queued by reference because Kafka refused
	// them as too large.
	Logger *slog.Logger
}

// Ingress queues HTTP requests (and replayed messages) on the request
// topic and waits for their outcome.
type Ingress struct {
	store      store.Store
	pub        pipeline.Publisher
	proc       Processor
	topic      string
	maxPayload int
	log        *slog.Logger
	waiters    waiters

	reqMu sync.Mutex // one Requeue at a time
	// unmarked holds the ids of the references this instance queued
	// whose mark could not be written (markQueued), and when: Requeue
	// leaves them alone here for RequeueAgain.
	unmarkedMu sync.Mutex
	unmarked   map[string]time.Time
}

// New returns an Ingress.
func New(o Options) *Ingress {
	return &Ingress{store: o.Store, pub: o.Publisher, proc: o.Processor, topic: o.Topic, maxPayload: o.MaxPayloadBytes, log: o.Logger}
}

// Done hands a reply finished by this instance's consumer to the requests
// waiting for it: request is the request the reply answers (the
// delivery's, or for a reference the request recorded in the store), and
// only the requests that are the same message (message.SameRequest) get
// the reply. A request waiting for its id while another message under the
// id (another payload, say, from Kafka or queued by another instance) is
// processed here is not handed that message's outcome, nor its refusal:
// it gets its own delivery's answer, the outcome of its message or the
// refusal of rule pipeline.RuleIDReused, from Done or from the store
// (storedReply), whichever comes first. A reply without its request, nil,
// and a refusal that is not the message's outcome (see outcome) are
// handed to no one.
//
// The comparison costs one comparison of bytes per waiting request (the
// request queued is the one delivered), once: a request handed its reply
// is skipped when the same reply comes again (the pipeline's hand-over,
// then the consumer's handler).
func (g *Ingress) Done(r *message.Reply, request []byte) { g.waiters.done(r, request) }

// outcome reports whether r may be the outcome of its message id. A
// delivery refused because the id is pending under another key
// (pipeline.RuleIDInUse) is not: nothing of it is stored, and the
// message is completed by the delivery that owns the id. The requests
// waiting for the id wait for that outcome instead, including the one
// whose own delivery was refused (the message sent again under another
// key: its outcome is the owner's).
func outcome(r *message.Reply) bool {
	for _, e := range r.Errors {
		if e.Rule == pipeline.RuleIDInUse {
			return false
		}
	}
	return true
}

// Taken tells the requests waiting for id that this instance's consumer
// has their message (the daemon calls it with a request's
// message.HeaderRequestID before processing it): its reply will be handed
// over by Done, so they stop reading the store every few milliseconds and
// read it only every maxPoll, for the case of the partition moving to
// another instance meanwhile.
func (g *Ingress) Taken(id string) { g.waiters.taken(id) }

// Polls of the store for the outcome of a queued request: the first after
// firstPoll, then at doubling intervals up to maxPoll.
const (
	firstPoll = 25 * time.Millisecond
	maxPoll   = 500 * time.Millisecond
)

// Process serves POST /v1/messages and the console (through the daemon's
// api.Backend and console.Backend). A request with a usable id is not
// processed here but written to the request topic, keyed like any Kafka
// request (the given key, else the id), and processed by whichever instance owns its partition. So it is
// ordered with the other messages of its key across instances, and once
// Process has written it the cluster completes it even if the client gives
// up or this instance dies. Process then waits for the stored outcome: this
// instance's consumer hands it over at once, another instance's is read
// from the shared store (again and again if a read fails, until ctx ends:
// the error then says the message is queued and will be completed).
//
// A request whose id the store holds for another message (another site,
// type, format or payload: message.SameRequest) is never answered with
// that message's outcome: it gets the refusal of rule
// pipeline.RuleIDReused, whether its reply comes from this instance's
// consumer or from the store.
//
// A request too large for a Kafka record is queued too, by reference: it
// is recorded in the store (pending, before the client is told anything)
// and a small record referring to it takes its place on the request topic
// (see queueByReference). So it is ordered with its key and completed
// even if this instance dies, like any other; nothing is processed
// outside Kafka, where no one would deliver it again.
//
// A request without a usable id (or over the size limit, or with an
// unusable key) cannot be deduplicated and changes nothing outside: the
// pipeline answers it invalid at once. An error of it, publishing that
// answer, is marked as Kafka's (DependencyError), its one dependency.
//
// The store is not read before queueing: that read cost every request a
// query (13 % of the host's CPU per GYD051) to spare the rare client that
// asks again for a finished message one trip through Kafka. Such a request
// is queued like any other, and whichever instance takes it finds the
// stored outcome (pipeline.Processor.Process), calls nothing and hands the
// stored reply back, as for a Kafka redelivery. When Kafka does not take
// the request, a finished message is still answered from the store.
func (g *Ingress) Process(ctx context.Context, in pipeline.Input) (*message.Reply, error) {
	env, ok := message.AdmitEnvelope(in.Value, in.Key, g.maxPayload)
	if !ok {
		// The pipeline stores and calls nothing for it: its one
		// dependency is Kafka, where the reply (and DLQ record) goes.
		r, err := g.proc.Process(ctx, in)
		if err != nil && !errors.Is(err, pipeline.ErrStopped) {
			err = kafkaErr(err)
		}
		return r, err
	}
	id := env.ID
	w := g.waiters.add(id, in.Value)
	defer g.waiters.remove(id, w)
	key := in.Key
	if key == "" {
		key = id
	}
	headers := map[string]string{message.HeaderIngress: "http", message.HeaderRequestID: id}
	if in.TraceID != "" {
		headers[message.HeaderTraceID] = in.TraceID
	}
	topic := g.topic
	if err := g.pub.Send(ctx, topic, []byte(key), in.Value, headers); err != nil {
		if errors.Is(err, bus.ErrRecordRefused) {
			// Too large for a Kafka record: recorded in the store, and a
			// reference to it queued in its place.
			if r, err := g.queueByReference(ctx, env, key, in.Value, headers, err); r != nil || err != nil {
				return r, err
			}
			return g.wait(ctx, id, in.Value, w)
		}
		// Kafka is unavailable: a message finished earlier still has its
		// outcome in the store.
		if r, serr := g.storedReply(ctx, id, in.Value); r != nil && serr == nil {
			return r, nil
		}
		return nil, fmt.Errorf("queue message %q on %s: %w", id, topic, kafkaErr(err))
	}
	return g.wait(ctx, id, in.Value, w)
}

// wait waits for the outcome of message id, queued on the request topic
// (value is the request): this instance's consumer hands the reply over
// when it processes the message; another instance's outcome is read from
// the store.
//
// The message is accepted now: a store read failing meanwhile does not
// end the wait (the client would be told its message could not be
// finished, while the cluster completes it); the ingress reads again
// until the outcome comes or the client's time is up. A store refusing
// writes (store.Refuser: its disk full, read-only) does end it, once a
// write was refused after the message was queued: the message waits
// unfinished until the store takes writes again, which no client should
// wait for; the error, the store's (DependencyError), says so, and the
// client sends the message again with the same id later.
func (g *Ingress) wait(ctx context.Context, id string, value []byte, w *waiter) (*message.Reply, error) {
	topic := g.topic
	poll := firstPoll
	queued := time.Now()
	refuser, _ := g.store.(store.Refuser)
	var readErr error
	for {
		t := time.NewTimer(poll)
		select {
		case r := <-w.c:
			t.Stop()
			return r, nil
		case <-ctx.Done():
			t.Stop()
			if readErr != nil {
				return nil, fmt.Errorf("message %q is queued on %s and will be completed; its outcome was not ready in time (and the last read of the store failed: %v): %w", id, topic, readErr, ctx.Err())
			}
			return nil, fmt.Errorf("message %q is queued on %s and will be completed; its outcome was not ready in time: %w", id, topic, ctx.Err())
		case <-t.C:
		}
		if refuser != nil {
			if at, err := refuser.Refused(); err != nil && !at.Before(queued) {
				return nil, storeErr(fmt.Errorf("message %q is queued on %s and will be completed once the store takes writes again: %w", id, topic, err))
			}
		}
		if poll < maxPoll && w.here.Load() {
			// Processed here (Taken): Done brings the reply. Under load
			// these reads were 9 % of the host's CPU per GYD051.
			poll = maxPoll
			continue
		}
		r, err := g.storedReply(ctx, id, value)
		if r != nil {
			return r, nil
		}
		if err != nil && ctx.Err() == nil {
			if readErr == nil {
				g.log.Warn("cannot read the outcome of a queued HTTP message; reading again", "id", id, "err", err)
			}
			readErr = err
		}
		poll = min(2*poll, maxPoll)
	}
}

// queueByReference queues a request Kafka refused as too large (refused
// is why): the request is recorded in the store, pending with no attempt
// made (pipeline.QueuedRecord), and a small record referring to it
// (pipeline.HeaderStoredRequest) is written to the request topic in its
// place, under its key and with its headers. Whichever instance owns the
// key's partition processes the recorded request, in the key's order, and
// Kafka delivers the reference again if that instance dies: the message
// goes through Kafka like any other, and nothing is processed outside it.
//
// It returns (nil, nil) once the reference is on the topic: the caller
// waits for the outcome. It answers at once a request whose id is
// recorded already: a finished one with its stored reply, another message
// under the id with the refusal of rule pipeline.RuleIDReused (a pending
// one of the same request is queued again, under the key the record was
// begun with whatever key the client gives now: the pipeline finishes it
// once, and publishes its reply once, see pipeline.ReferenceTakersNS).
// When the request cannot be recorded, the error says the message was not
// accepted, and the client sends it again. Once recorded, the message is accepted: when the
// reference cannot be queued (or this instance dies before it is), the
// record stays pending with no attempt made, and Requeue queues the
// reference later; the error says so, and the client asks again with the
// same id for the outcome.
func (g *Ingress) queueByReference(ctx context.Context, env *message.Envelope, key string, value []byte, headers map[string]string, refused error) (*message.Reply, error) {
	id := env.ID
	// Stored to the microsecond: the mark of its reference holds it.
	received := time.Now().UTC().Truncate(time.Microsecond)
	existing, _, err := g.store.BeginMessage(ctx, pipeline.QueuedRecord(env, key, value, received))
	if err != nil {
		return nil, fmt.Errorf("message %q (%d bytes) is too large for a Kafka record (%v) and could not be recorded in the store to be queued by reference: %w; it was not accepted: send it again once the store is available", id, len(value), refused, storeErr(err))
	}
	if existing != nil {
		switch {
		case !message.SameRequest(existing.Request, value):
			return idReused(id, value, existing), nil
		case existing.Status == store.StatusDone:
			var r message.Reply
			if err := json.Unmarshal(existing.Reply, &r); err != nil {
				return nil, fmt.Errorf("stored reply of %q is unreadable: %w", id, err)
			}
			return &r, nil
		}
		received = existing.ReceivedAt
		if existing.Key != "" {
			// A pending record is its key's: the pipeline refuses a
			// delivery under another key (rule id-in-use), and the mark
			// below would keep Requeue from queueing one under the
			// record's key, leaving the message pending for ever.
			key = existing.Key
		}
	}
	if err := g.sendReference(ctx, id, env.Site, env.Type, key, headers); err != nil {
		return nil, fmt.Errorf("message %q (%d bytes) is too large for a Kafka record; it is recorded in the store and will be completed, but the reference to it could not be queued on %s now (%w): it is queued again within %s of its receipt once Kafka takes it; ask again with the same id for its outcome", id, len(value), g.topic, kafkaErr(err), RequeueInterval+RequeueAfter)
	}
	g.markQueued(ctx, id, received)
	g.log.Info("HTTP message too large for a Kafka record; recorded in the store and queued by reference", "id", id, "bytes", len(value))
	return nil, nil
}

// RequeueInterval is how often the daemon runs Requeue (a scheduled job,
// at one instance at a time; the daemon runs it once at start too), and
// RequeueAfter how old a record must be for Requeue to queue it again: an
// HTTP request still being queued by reference is not queued twice for
// nothing. A record whose reference Kafka acknowledged is never queued
// again (see markQueued): the reference may wait on the topic behind its
// key's earlier messages (an upload retried for half an hour), and a
// reference queued again costs a second delivery (which publishes nothing:
// pipeline.ReferenceTakersNS). RequeueAgain is how long this
// instance leaves alone a record whose reference it queued but could not
// mark.
const (
	RequeueInterval = time.Minute
	RequeueAfter    = time.Minute
	RequeueAgain    = 15 * time.Minute
)

// Requeue queues again, by reference, the requests queueByReference
// recorded but did not queue: pending records with no attempt made
// (pipeline.QueuedRecord), received before before, with no mark that
// Kafka acknowledged a reference to them (markQueued). Their reference
// could not be written (Kafka unavailable: the client was told the
// message is recorded and will be completed) or the instance died between
// the record and the reference (or between the reference's acknowledgement
// and its mark: that reference is then queued twice, since the store
// cannot tell it from one lost; the message is still processed once and
// its reply published once, by the delivery that finished it, see
// pipeline.ReferenceTakersNS). It marks each reference it queues, so no
// instance queues it again. It returns how many it queued, and stops at
// the first reference that cannot be written (the next run tries again).
// Then it deletes the marks no longer needed (of messages a delivery took
// up, finished or pruned), and the pipeline's notes of the references
// that took up messages older than pipeline.ReferenceTakersKept.
func (g *Ingress) Requeue(ctx context.Context, before time.Time) (int, error) {
	g.reqMu.Lock()
	defer g.reqMu.Unlock()
	marks, err := g.store.StateScan(ctx, queuedNS, "", 0)
	if err != nil {
		return 0, fmt.Errorf("requeue recorded HTTP requests: read the marks of references on %s (store state %q): %w", g.topic, queuedNS, err)
	}
	queued := make(map[string]time.Time, len(marks))
	for _, e := range marks {
		queued[e.Key] = markTime(e.Value)
	}
	// waiting: the marked records listed below, still waiting for their
	// reference; their marks stay without reading them again.
	waiting := map[string]bool{}
	n := 0
	q := store.MessageQuery{Status: store.StatusPending, To: before, Limit: 50}
	for {
		ms, next, err := g.store.SearchMessages(ctx, q)
		if err != nil {
			return n, fmt.Errorf("requeue recorded HTTP requests: list pending messages: %w", err)
		}
		for _, m := range ms {
			if m.Attempts != 0 || m.Status != store.StatusPending {
				continue // taken up by a delivery (or a Kafka message begun)
			}
			if at, ok := queued[m.ID]; ok && at.Equal(m.ReceivedAt) {
				waiting[m.ID] = true
				continue // its reference is on the topic
			}
			if g.unmarkedRecently(m.ID) {
				continue
			}
			headers := map[string]string{message.HeaderIngress: "http", message.HeaderRequestID: m.ID, message.HeaderTraceID: newID()}
			if err := g.sendReference(ctx, m.ID, m.Site, m.Type, m.Key, headers); err != nil {
				return n, fmt.Errorf("requeue recorded HTTP request %q: queue the reference to it on %s: %w", m.ID, g.topic, err)
			}
			g.markQueued(ctx, m.ID, m.ReceivedAt)
			waiting[m.ID] = true // its mark was just written: kept
			g.log.Info("recorded HTTP request queued again by reference", "id", m.ID, "type", m.Type, "site", m.Site)
			n++
		}
		if next == "" {
			break
		}
		q.After = next
	}
	for id := range waiting {
		delete(queued, id)
	}
	if err := g.dropMarks(ctx, queued); err != nil {
		return n, err
	}
	if err := pipeline.DropReferenceTakers(ctx, g.store, time.Now().Add(-pipeline.ReferenceTakersKept)); err != nil {
		return n, fmt.Errorf("requeue recorded HTTP requests: %w", err)
	}
	return n, nil
}

// queuedNS is the namespace, in the store's state table, of the marks
// that a reference to a recorded request is on the request topic
// (markQueued): one entry per message id, whose value is the record's
// received time. No plugin can reach it: plugin names have no '.'.
const queuedNS = "medgate.ingress/queued-references"

// markQueued records durably, once Kafka acknowledged a reference to the
// request recorded under id (received at received), that the reference
// is on the request topic: Kafka delivers it, and Requeue, at any
// instance, never queues the record again. The mark holds the record's
// received time, so that it covers that record only, not a later one under
// the same id.
//
// The mark is written after the acknowledgement: an instance that dies in
// between leaves a record with its reference on the topic and no mark,
// which Requeue queues again once it is older than RequeueAfter and still
// not taken up (delivered twice, the message is processed once and its
// reply published once: pipeline.ReferenceTakersNS). A mark that
// cannot be written is logged, and this instance leaves the record alone
// for RequeueAgain; another instance may queue it again.
func (g *Ingress) markQueued(ctx context.Context, id string, received time.Time) {
	// The reference is on the topic: the client leaving does not undo it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	_, err := g.store.StatePut(ctx, queuedNS, id, []byte(received.UTC().Format(time.RFC3339Nano)))
	if err == nil {
		return
	}
	g.log.Warn("the reference to a recorded HTTP request is on the request topic, but that could not be noted in the store; another instance may queue it again (delivered twice, it is still processed and answered once)",
		"id", id, "state", queuedNS, "err", err)
	g.unmarkedMu.Lock()
	defer g.unmarkedMu.Unlock()
	if g.unmarked == nil {
		g.unmarked = map[string]time.Time{}
	}
	g.unmarked[id] = time.Now()
}

// markTimeout bounds the write of a mark (markQueued), which goes on
// when the client leaves.
const markTimeout = 30 * time.Second

// unmarkedRecently reports whether this instance queued a reference to
// id less than RequeueAgain ago without marking it (markQueued), and
// forgets the older ones.
func (g *Ingress) unmarkedRecently(id string) bool {
	g.unmarkedMu.Lock()
	defer g.unmarkedMu.Unlock()
	now := time.Now()
	for k, at := range g.unmarked {
		if now.Sub(at) >= RequeueAgain {
			delete(g.unmarked, k)
		}
	}
	_, ok := g.unmarked[id]
	return ok
}

// markTime is the received time a mark holds (the zero time if it is
// unreadable: it then covers no record, and dropMarks deletes it).
func markTime(v []byte) time.Time {
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}
	}
	return t
}

// dropMarks deletes the marks (id to received time, as Requeue read them,
// less those of the records it found waiting) whose record no longer
// waits for its reference: taken up by a delivery
// (an attempt made), finished, pruned, or another record under the id.
// It stops at the first failure (the next Requeue tries again).
func (g *Ingress) dropMarks(ctx context.Context, marks map[string]time.Time) error {
	for id, at := range marks {
		m, err := g.store.GetMessage(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("requeue recorded HTTP requests: read message %q to drop the mark of its reference (store state %q): %w", id, queuedNS, err)
		case m.Status == store.StatusPending && m.Attempts == 0 && m.ReceivedAt.Equal(at):
			continue // still waiting on the topic
		}
		if err := g.store.StateDelete(ctx, queuedNS, id); err != nil {
			return fmt.Errorf("requeue recorded HTTP requests: drop the mark of the reference to message %q (store state %q): %w", id, queuedNS, err)
		}
	}
	return nil
}

// sendReference writes to the request topic, under key and with headers,
// a record referring to the request of message id recorded in the store
// (pipeline.HeaderStoredRequest); its value is the envelope's id, site and
// type only.
func (g *Ingress) sendReference(ctx context.Context, id, site, typ, key string, headers map[string]string) error {
	ref, err := json.Marshal(struct {
		ID   string `json:"id"`
		Site string `json:"site"`
		Type string `json:"type"`
	}{id, site, typ})
	if err != nil {
		return fmt.Errorf("encode the reference to message %q: %w", id, err)
	}
	h := maps.Clone(headers)
	h[pipeline.HeaderStoredRequest] = id
	return g.pub.Send(ctx, g.topic, []byte(key), ref, h)
}

// storedReply returns the stored reply of a finished message, or nil.
// When the message recorded under id is another one than value
// (message.SameRequest), its reply is not value's outcome: value was
// refused (by the pipeline of whichever instance took it, which stores
// nothing) and the client gets that refusal, rule pipeline.RuleIDReused.
func (g *Ingress) storedReply(ctx context.Context, id string, value []byte) (*message.Reply, error) {
	m, err := g.store.GetMessage(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up message %q: %w", id, storeErr(err))
	case m.Status != store.StatusDone:
		return nil, nil
	case !message.SameRequest(m.Request, value):
		return idReused(id, value, m), nil
	}
	var r message.Reply
	if err := json.Unmarshal(m.Reply, &r); err != nil {
		return nil, fmt.Errorf("stored reply of %q is unreadable: %w", id, err)
	}
	return &r, nil
}

// idReused is the reply to value, a request whose id the store holds for
// another message m: the one the pipeline gives such a request.
func idReused(id string, value []byte, m *store.Message) *message.Reply {
	env, _ := message.Parse(value)
	return &message.Reply{ID: newID(), RequestID: id, Site: env.Site, Type: env.Type, Status: message.StatusInvalid,
		Errors: []message.ReplyError{pipeline.IDReusedError(id, env.Site, m)}, CompletedAt: time.Now().UTC()}
}

// waiters hands replies finished by this instance's consumer to the HTTP
// requests waiting for them.
type waiters struct {
	mu sync.Mutex
	m  map[string][]*waiter
}

// waiter is one HTTP request waiting for the outcome of its message.
type waiter struct {
	c chan *message.Reply
	// here: this instance's consumer has the message (Taken).
	here atomic.Bool
	// value is the request.
	value []byte
	// handed: a reply was handed to c (guarded by waiters.mu).
	handed bool
}

func (ws *waiters) add(id string, value []byte) *waiter {
	w := &waiter{c: make(chan *message.Reply, 1), value: value}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = map[string][]*waiter{}
	}
	ws.m[id] = append(ws.m[id], w)
	return w
}

func (ws *waiters) remove(id string, w *waiter) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	cs := ws.m[id]
	for i, x := range cs {
		if x == w {
			cs = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(ws.m, id)
	} else {
		ws.m[id] = cs
	}
}

// mixed reports whether the requests waiting for one id are not all the
// same message (message.SameRequest). Taken cannot tell which of them
// this instance's consumer has: they read the store at the pace of a
// message processed elsewhere. Usually one request waits for an id, and
// then nothing is compared.
func mixed(cs []*waiter) bool {
	for _, w := range cs[min(1, len(cs)):] {
		if !message.SameRequest(cs[0].value, w.value) {
			return true
		}
	}
	return false
}

func (ws *waiters) taken(id string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if mixed(ws.m[id]) {
		// They read the store at the pace of a message processed
		// elsewhere.
		return
	}
	for _, w := range ws.m[id] {
		w.here.Store(true)
	}
}

// done hands r, the reply to request, to the requests waiting for its id
// that are the same message as request.
func (ws *waiters) done(r *message.Reply, request []byte) {
	if r == nil || len(request) == 0 || !outcome(r) {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, w := range ws.m[r.RequestID] {
		if w.handed {
			continue
		}
		if !message.SameRequest(request, w.value) {
			// Another message under the id (another site, type, format
			// or payload): this request gets its own delivery's answer,
			// from here or from the store (storedReply).
			continue
		}
		select {
		case w.c <- r:
			w.handed = true
		default:
		}
	}
}

// Replay sends a failed message through again: its stored outcome is
// reopened and its original request is put back on the request topic
// (same id, same key), so the plugin is called with Recovering set and
// reconciles with the external system before anything is resent. If the
// request cannot be put back, the failed outcome is restored, unless the
// message moved on since the reopen (store.Store.RestoreFailed): a write
// reported failed may still have reached the topic and been processed.
// A request too large for a Kafka record is put back by reference to the
// reopened record, which holds it (pipeline.HeaderStoredRequest). A
// reopened record with no attempt made is marked as queued once Kafka
// acknowledged the replay (markQueued), so Requeue does not queue it too.
func (g *Ingress) Replay(ctx context.Context, id string) error {
	m, err := g.store.ReopenMessage(ctx, id)
	if err != nil {
		return storeErr(err)
	}
	headers := map[string]string{message.HeaderReplay: "1", message.HeaderTraceID: newID()}
	// The caller leaving does not make the outcome of the write unknown:
	// the producer says whether the request is on the topic.
	bctx := context.WithoutCancel(ctx)
	err = g.pub.Send(bctx, g.topic, []byte(m.Key), m.Request, headers)
	if errors.Is(err, bus.ErrRecordRefused) {
		// Too large for a Kafka record: the reopened record holds the
		// request; a reference to it goes in its place (see
		// queueByReference).
		err = g.sendReference(bctx, m.ID, m.Site, m.Type, m.Key, headers)
	}
	if err != nil {
		// Nothing on the request topic may ever finish the reopened
		// message, and a pending message cannot be replayed again: put its
		// failed outcome back. Yet the request may have reached the topic
		// all the same (an error after the broker stored it) and been
		// taken up meanwhile: then its new outcome, or the reconciliation
		// under way, is kept (the store restores only a message still as
		// the reopen left it).
		restored, rerr := g.store.RestoreFailed(bctx, m)
		switch {
		case rerr != nil:
			return fmt.Errorf("replay %q: put the request back on %s: %w; restoring its failed outcome failed too (%v): the message stays pending and is listed by /admin/messages", id, g.topic, err, rerr)
		case !restored:
			return fmt.Errorf("replay %q: put the request back on %s: %w; yet the message moved on since the reopen (the request may have reached the topic after all and been taken up, or another replay reopened it), so it is left as it is: see /admin/messages/%s", id, g.topic, kafkaErr(err), id)
		}
		return fmt.Errorf("replay %q: put the request back on %s: %w; the message stays failed, replay it again once Kafka is back", id, g.topic, kafkaErr(err))
	}
	if m.Attempts == 0 {
		// Reopened with no attempt made (a recorded request failed
		// without a call): Requeue would take it for a record whose
		// reference never reached Kafka, and queue it again while the
		// replay waits on the topic.
		g.markQueued(bctx, m.ID, m.ReceivedAt)
	}
	g.log.Info("message replayed", "id", id, "type", m.Type, "site", m.Site)
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
