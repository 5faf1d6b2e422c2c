// Package pipeline processes one request message from start to finish:
// envelope checks, routing to the site's plugin, idempotency through the
// store, bounded retries with backoff within the message's deadline, the
// stored outcome and the published reply (and DLQ record).
//
// The order of durable steps is what makes the guarantees hold:
//
//  1. the message id is recorded as pending before the plugin is called —
//     unless the plugin declares the operation a pure query
//     (sdk.Operation.Query) and the id has no record yet: then nothing is
//     stored before the call, and step 2 records the message and its
//     outcome at once (store.RecordFinished);
//  2. the outcome and reply are stored before the reply is published (an
//     HTTP client waiting for a query of step 1's exception is handed its
//     reply before this write: Options.Stored);
//  3. the caller (the Kafka consumer) commits the offset only after the
//     reply (and DLQ record) is acknowledged: after Process returned without
//     error and, for a consumer's delivery, after the deferred publication
//     (bus.Defer) ended without error.
//
// For a Kafka delivery, Process returns once the outcome is stored and the
// reply handed to the producer, and the consumer starts the key's next
// message while the acknowledgement is on its way. The replies of a key
// still go out in order: a key's reply is handed to the producer only once
// the previous reply of the key is acknowledged (see chains), so at most one
// reply per key is unacknowledged, and a reply that cannot be published
// holds back the later replies of its key until the redelivery.
//
// A crash between 1 and 2 leaves the message pending: when it is redelivered
// the plugin is called with Recovering set and reconciles with the external
// system before any resend. A query left no record, so its redelivery runs
// it again as a new message: it had no external effect and nothing to
// reconcile, which is what the plugin declared. A crash between 2 and 3
// makes the redelivery publish the stored reply again; the plugin is not
// called. A message whose id has a record is handled as that record says,
// query or not: a done one gets its stored reply, a pending one (begun
// before its operation was declared a query, or reopened for a replay)
// goes through step 1's reconciliation.
//
// A pending record is its key's: it is reconciled only by a delivery
// under the key it was begun with (Kafka redelivers a message under its
// own key, and a replay sends it under the stored one). A message whose id
// is pending under another key — the same id sent under two keys, which
// two instances may process at once, each under its own key lock — is
// answered invalid (rule RuleIDInUse) without calling the plugin or
// storing anything, so the id has one external effect and one outcome,
// those of the delivery whose insert of the record won in the store. A
// done record answers any key with its stored reply.
//
// A request too large for a Kafka record reaches the pipeline through
// Kafka all the same: the HTTP ingress records it first (QueuedRecord:
// pending, no attempt made) and queues a reference to it under its key
// (HeaderStoredRequest), and Process processes the recorded request when
// the reference is delivered, in the key's order and again after a crash,
// as any other message. A message with several references on the topic
// (one queued again when the ingress could not tell the first reached
// Kafka) is processed once, and its reply published once: by the delivery
// of the reference that took it up (ReferenceTakersNS).
//
// A record answers only its own message: a delivery whose site, type,
// format or payload differ from the recorded request's
// (message.SameRequest) is another message under a used id, answered
// invalid (rule RuleIDReused) without calling the plugin or storing
// anything; it neither gets the other message's stored reply nor
// reconciles the other message's pending record.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// ErrStopped is returned when processing was interrupted by shutdown; the
// message stays pending and must not be acknowledged.
var ErrStopped = errors.New("pipeline: stopped before the message finished")

// Handler is a plugin as the pipeline sees it (a *pluginhost.Instance).
type Handler interface {
	Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error)
}

// Target is one plugin enabled for one site.
type Target struct {
	Plugin     string
	Handler    Handler
	Operations map[string]sdk.Operation // by full type
}

// Routes is an immutable routing snapshot: site → plugin → target. A config
// reload swaps the whole snapshot.
type Routes struct {
	Sites map[string]map[string]*Target
	// Disabled lists plugins configured but disabled per site, for errors.
	Disabled map[string]map[string]bool
}

// Transformer maps a platform payload (the site's own JSON or HL7 v2) to
// the transaction input when the site has a mapping for the format and
// type. mapped is false when the payload passes unchanged.
type Transformer interface {
	Transform(site, format, typ string, payload []byte) (out []byte, errs []message.ReplyError, mapped bool)
}

// Publisher sends records to Kafka (acks=all) and returns when acknowledged.
type Publisher interface {
	Send(ctx context.Context, topic string, key, value []byte, headers map[string]string) error
}

// Topics names the output topics.
type Topics struct {
	Replies, DLQ string
}

// Options are everything a Processor needs: its collaborators (Store,
// Publisher, Topics required; Logger and Observer optional) and the
// processing limits.
type Options struct {
	// Store keeps message ids, outcomes and attempts.
	Store store.Store
	// Publisher writes replies and DLQ records to Kafka.
	Publisher Publisher
	// Topics names the replies and DLQ topics.
	Topics Topics
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Observer receives metrics events; nil means none.
	Observer Observer

	// MaxPayloadBytes bounds a request; a larger one is answered invalid.
	MaxPayloadBytes int
	// MaxRecordBytes bounds a published record, key and value together (0:
	// bus.MaxRecordBytes less room for headers). A reply or DLQ record
	// larger than that, or one Kafka refuses for good, is published
	// truncated instead of being retried for ever.
	MaxRecordBytes int
	// ReplyTopics are the topics a request may name in replyTo, besides
	// Topics.Replies. A request naming any other topic gets an invalid
	// reply on Topics.Replies.
	ReplyTopics    []string
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	CallTimeout    time.Duration
	UploadDeadline time.Duration
	RetryBudget    time.Duration
	// BreakerThreshold consecutive transient failures of one plugin at one
	// site open its circuit for BreakerCooldown (0 disables the breaker).
	// A plugin's deliberate waits (sdk.HandleResponse.Waiting) are retried
	// but not counted, neither as failures nor as successes.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// Stored, when set, receives every reply whose outcome is stored, at
	// once and before the reply is published, with the request it answers
	// (the delivery's, or for a reference the request recorded:
	// HeaderStoredRequest): the HTTP ingress hands it to the requests
	// waiting for it that are that message (ingress.Done), and not to a
	// request of another payload under the same id. The outcome is durable
	// then, so the waiting client may have it; the reply on Kafka and the
	// offset commit follow, and a crash before them makes the redelivery
	// publish the same stored reply. It must not block, nor keep or modify
	// the request.
	//
	// The one exception is a pure query without a record (sdk.Operation.Query,
	// see finishQuery): its reply is given to Stored before the outcome is
	// written. The query changed nothing outside, so the waiting client need
	// not wait for the write's fsync; the reply on Kafka still waits for it,
	// and so does the offset commit. If the write does not happen (a crash,
	// the store down), the message is delivered again and the query runs
	// again, as for any query without a record: the reply on Kafka is then
	// that run's answer.
	Stored func(r *message.Reply, request []byte)
	// Journal, when set, holds the journal entries a plugin makes while it
	// handles a message (a *hostsvc.Services): they are stored with the
	// message's outcome, in its transaction, instead of one store write
	// each during the call. Without it every entry is stored as it comes.
	Journal Journal
	// CrashLimit: after the plugin process died during the call of a
	// message this many times while that message was alone in the plugin,
	// the message fails with rule plugin-crash and goes to the DLQ, upload
	// or not (0: DefaultCrashLimit). After a first crash during its call,
	// a message is retried alone, so that healthy messages in the plugin at
	// the time of another's crash are not blamed.
	CrashLimit int
}

// Journal holds journal entries for a message's outcome.
type Journal interface {
	// Defer holds the entries plugin journals for message id until take
	// is called, and take returns them.
	Defer(plugin, id string) (take func() []store.Exchange)
}

// DefaultCrashLimit is Options.CrashLimit when unset.
const DefaultCrashLimit = 3

// Observer receives metrics events; nil methods are fine.
type Observer interface {
	Finished(typ, status string, d time.Duration)
	DeadLettered(typ, reason string)
}

// Processor runs the pipeline.
type Processor struct {
	store  store.Store
	pub    Publisher
	topics Topics
	opts   Options
	log    *slog.Logger
	obs    Observer
	now    func() time.Time
	routes atomic.Pointer[Routes]
	keys   keyLocks
	brk    *breaker
	gates  gates
	tf     Transformer

	prep      preparer
	chains    chains          // each key's last reply handed to the producer
	replyTo   map[string]bool // allowed replyTo topics
	truncated atomic.Int64    // records published truncated or redirected
	lost      atomic.Int64    // records Kafka refused even truncated
}

// New returns a processor. Routes must be set with SetRoutes before use.
func New(o Options) (*Processor, error) {
	var missing []string
	if o.Store == nil {
		missing = append(missing, "Store")
	}
	if o.Publisher == nil {
		missing = append(missing, "Publisher")
	}
	if o.Topics.Replies == "" || o.Topics.DLQ == "" {
		missing = append(missing, "Topics.Replies and Topics.DLQ")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("pipeline: options lack %s; the daemon sets them from the store, the Kafka producer and kafka.topics", strings.Join(missing, ", "))
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = bus.MaxRecordBytes - 16<<10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CrashLimit <= 0 {
		o.CrashLimit = DefaultCrashLimit
	}
	p := &Processor{store: o.Store, pub: o.Publisher, topics: o.Topics, opts: o, log: o.Logger, obs: o.Observer, now: time.Now,
		brk: newBreaker(o.BreakerThreshold, o.BreakerCooldown), replyTo: map[string]bool{o.Topics.Replies: true}}
	for _, t := range o.ReplyTopics {
		p.replyTo[t] = true
	}
	p.routes.Store(&Routes{})
	return p, nil
}

// Unpublishable counts the replies and DLQ records that could not be
// published as they were: truncated (their payload dropped) or redirected
// to the replies topic, and those Kafka refused even then (lost: their
// outcome is only in the store).
func (p *Processor) Unpublishable() (truncated, lost int64) {
	return p.truncated.Load(), p.lost.Load()
}

// SetRoutes installs a new routing snapshot (on start and reload).
func (p *Processor) SetRoutes(r *Routes) { p.routes.Store(r) }

// SetTransformer installs the mapping step (nil: payloads pass unchanged).
func (p *Processor) SetTransformer(t Transformer) { p.tf = t }

// SetClock replaces the clock (tests).
func (p *Processor) SetClock(now func() time.Time) { p.now = now }

// Input is one request to process.
type Input struct {
	Value   []byte
	Key     string // Kafka key (business key)
	TraceID string
	// ReplyFormat "medgate" (header medgate-reply-format) keeps the reply
	// in medgate's JSON whatever the site's outbound mappings: for medgate's
	// own CLI, which reads the replies topic.
	ReplyFormat string

	chain string // the key as given, for the order of replies (see chains)
	// unrecorded: the message is a pure query whose id has no record in
	// the store; its outcome is recorded with the message (finishQuery).
	unrecorded bool
	// received is when the message was first received: its stored
	// received_at, the same on every redelivery (sdk.HandleRequest.ReceivedAt).
	received time.Time
}

// Process handles one message and returns its reply once the reply is
// stored and published. An error means the message was not finished (store
// or Kafka unavailable, or shutdown) and must be delivered again.
//
// Called by the Kafka consumer's handler (ctx from bus.Consumer), Process
// returns once the reply is stored and handed to the producer: the message
// is deferred (bus.Defer) and finishes, its offset committable, when the
// reply and DLQ record are acknowledged; the publication is retried with
// backoff until then, or until the partition is released. Once the
// partition is being released (bus.Released: the consumer stops, or a
// rebalance takes it away), a plugin call in flight may end within the
// release grace (kafka.releaseGrace) and its outcome is stored and
// published as usual, but no new call starts (a retry after a failure, a
// message waiting for its key or at the plugin's gate): Process returns
// ErrStopped, and the message's next delivery reconciles. Outside the
// consumer, a message waiting for its key gives up with ErrStopped when
// ctx ends.
func (p *Processor) Process(ctx context.Context, in Input) (*message.Reply, error) {
	growStack(0)
	start := p.now()
	in.chain = in.Key
	switch {
	case in.TraceID == "":
		in.TraceID = newID()
	case len(in.TraceID) > message.MaxTraceBytes:
		// A trace id is copied into the reply's and DLQ record's headers
		// and into the DLQ record: a header as long as the request (a
		// platform's whole document in it) would make them too large
		// for Kafka, even truncated, and the DLQ record would be lost.
		in.TraceID = cut(in.TraceID, message.MaxTraceBytes)
	}
	var ref *bus.Message // the delivery of a reference (HeaderStoredRequest)
	if cur := bus.Current(ctx); cur != nil && cur.Headers[HeaderStoredRequest] != "" {
		// A reference to a request too large for a Kafka record, recorded
		// in the store by the HTTP ingress (QueuedRecord): the message is
		// the recorded request.
		value, r, err := p.storedRequest(ctx, cur.Headers[HeaderStoredRequest], in, start)
		if value == nil {
			return r, err
		}
		in.Value, ref = value, cur
	}
	if len(in.Value) > p.opts.MaxPayloadBytes {
		env, _ := message.Parse(in.Value)
		if message.CheckKey(in.Key) != nil {
			in.Key = ""
		}
		r := p.reply(env, message.StatusInvalid, []message.ReplyError{{Field: "$", Rule: "size",
			Message: fmt.Sprintf("消息 %[1]d 字节，超过上限 %[2]d（processing.maxPayloadBytes），请拆成几条消息发送。the message is %[1]d bytes; the limit is %[2]d (processing.maxPayloadBytes). Split the payload into several messages", len(in.Value), p.opts.MaxPayloadBytes)}}, nil, nil, 0)
		return r, p.finishUnstored(ctx, env, in, r, "payload too large", start)
	}
	// The envelope of a message recorded ahead of its turn was parsed
	// then (see finishAndBegin); Parse gave no errors.
	env := p.prep.envelope(bus.Current(ctx), in.Value)
	var errs []message.ReplyError
	if env == nil {
		env, errs = message.Parse(in.Value)
	}
	if kerr := message.CheckKey(in.Key); kerr != nil {
		// A key the store cannot hold would fail every delivery: answer it
		// once, keyed by the message id, and store nothing.
		r := p.reply(env, message.StatusInvalid, append(errs, *kerr), nil, nil, 0)
		in.Key = ""
		return r, p.finishUnstored(ctx, env, in, r, "unusable key", start)
	}
	if env.ReplyTo != "" && !p.replyTo[env.ReplyTo] && message.ValidID(env.ReplyTo) {
		errs = append(errs, message.ReplyError{Field: "$.replyTo", Rule: "allowed", Message: fmt.Sprintf("回复主题 replyTo %[1]q 不是本 medgate 的回复主题；去掉 replyTo 则在 %[2]s 收到回复，或请管理员把该主题列入 kafka.topics.replyTo。"+
			"replyTo %[1]q is not a reply topic of this medgate; leave replyTo out to get the reply on %[2]s, or ask an administrator to list the topic in kafka.topics.replyTo", env.ReplyTo, p.topics.Replies)})
	}
	if len(errs) > 0 && (env.ID == "" || !message.ValidID(env.ID)) {
		// No usable id: nothing to deduplicate on.
		r := p.reply(env, message.StatusInvalid, errs, nil, nil, 0)
		return r, p.finishUnstored(ctx, env, in, r, "malformed envelope", start)
	}
	key := in.Key
	if key == "" {
		key = env.ID
	}
	unlock, ok := p.keys.lock(ctx, key)
	if !ok {
		// Stopping, or the partition released while the key's previous
		// message (an HTTP one) runs: not begun, delivered again.
		return nil, ErrStopped
	}
	defer unlock()

	// A new message is recorded with its first attempt counted, as the
	// plugin is about to be called: one store write less than an
	// AddAttempt of its own. If it ends without a call (invalid, unrouted),
	// its reply stores the attempts made; if the instance dies first, the
	// redelivery reconciles before calling, which is safe.
	//
	// The consumer's previous message of this key may have recorded this
	// one already, in the transaction of its own outcome (see finish).
	prepared, leave := p.prep.enter(env.ID, bus.Current(ctx))
	defer leave()
	var (
		existing *store.Message
		created  = prepared
		err      error
	)
	routes := p.routes.Load()
	switch {
	case prepared:
	case len(errs) == 0 && routes.query(env.Site, env.Type):
		// A pure query (sdk.Operation.Query) stores no pending record
		// before the call: its outcome is recorded with the message, one
		// write (finishQuery). A record of its id, done or pending, is
		// read first and decides as for any message.
		existing, err = p.store.GetMessage(ctx, env.ID)
		if errors.Is(err, store.ErrNotFound) {
			existing, err, in.unrecorded = nil, nil, true
		}
	default:
		existing, created, err = p.store.BeginMessage(ctx, record(env, key, in.Value, start))
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: record message %q: %w", env.ID, err)
	}
	in.received = start
	if existing != nil && !existing.ReceivedAt.IsZero() {
		in.received = existing.ReceivedAt
	}
	if existing != nil && existing.Status != store.StatusDone && existing.Key != key {
		// The id is pending under another key: the delivery that began
		// it holds it (under a key lock other than this one's, maybe at
		// another instance), or reconciles it when its key's message
		// comes again. This one calls and stores nothing.
		return p.pendingElsewhere(ctx, env, in, errs, start)
	}
	if existing != nil && !message.SameRequest(existing.Request, in.Value) {
		// Another message under an id already used: neither its
		// redelivery (the stored reply is another message's outcome) nor
		// the reconciliation of a pending one (that concerns the
		// message recorded, not this one).
		return p.idReused(ctx, env, in, errs, existing, start)
	}
	if existing != nil && existing.Status == store.StatusDone {
		if ref != nil {
			other, err := p.otherReference(ctx, env.ID, ref)
			if err != nil {
				return nil, err
			}
			if other {
				return p.duplicateReference(env, existing)
			}
		}
		// A redelivery: give back the stored reply, call nothing.
		return p.replay(ctx, env, in, existing)
	}
	if ref != nil {
		if err := p.takeReference(ctx, env.ID, ref); err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		r := p.reply(env, message.StatusInvalid, errs, nil, nil, 0)
		return p.finish(ctx, env, in, r, "invalid envelope", start)
	}
	target, rerr := routes.resolve(env.Site, env.Type)
	if rerr != nil {
		r := p.reply(env, message.StatusInvalid, []message.ReplyError{*rerr}, nil, nil, 0)
		return p.finish(ctx, env, in, r, rerr.Message, start)
	}
	if p.tf != nil {
		out, errs, mapped := p.tf.Transform(env.Site, env.Format, env.Type, env.PayloadBytes())
		if len(errs) > 0 {
			r := p.reply(env, message.StatusInvalid, errs, nil, nil, 0)
			return p.finish(ctx, env, in, r, "mapping failed", start)
		}
		if mapped {
			env.Payload, env.Format = out, "json"
		}
	}
	op := target.Operations[env.Type]
	attempts := 0
	if existing != nil {
		attempts = existing.Attempts
	}
	r, journal, err := p.call(ctx, env, in, key, target, op, attempts, created, start)
	if err != nil {
		return nil, err
	}
	reason := ""
	if r.Status == message.StatusFailed {
		reason = "failed after retries"
		if len(r.Errors) > 0 && r.Errors[0].Rule == RulePluginCrash {
			reason = "the plugin process died during every attempt"
		}
	}
	return p.finish(ctx, env, in, r, reason, start, journal...)
}

// replay publishes the stored reply of a message already done, without
// calling anything, and returns it.
func (p *Processor) replay(ctx context.Context, env *message.Envelope, in Input, done *store.Message) (*message.Reply, error) {
	var r message.Reply
	if err := json.Unmarshal(done.Reply, &r); err != nil {
		return nil, fmt.Errorf("pipeline: stored reply of %q is unreadable: %w", env.ID, err)
	}
	p.log.Info("duplicate message; replaying the stored reply", "id", env.ID, "status", r.Status)
	return &r, p.publish(ctx, env, in, &r, done.Reply)
}

// RuleIDInUse is the rule of the invalid reply to a message whose id is
// pending under another key (see pendingElsewhere).
const RuleIDInUse = "id-in-use"

// pendingElsewhere answers a message whose id the store holds pending
// under a key other than this delivery's: the record belongs to the
// delivery that began it (the store's insert of the id is the claim, across
// instances), which is calling the plugin or will reconcile when its key's
// message is delivered again. Calling the plugin here too could make a
// second external effect for the id, and finishing here would overwrite
// the other delivery's outcome. So this delivery gets an invalid reply
// (with the envelope's own errors, if any) and its DLQ record, and nothing
// is stored: the record and its outcome stay the other delivery's. The
// reply is not handed to Options.Stored, which would give it to HTTP
// clients waiting for the other delivery's outcome of the same id; they
// get that outcome.
func (p *Processor) pendingElsewhere(ctx context.Context, env *message.Envelope, in Input, errs []message.ReplyError, start time.Time) (*message.Reply, error) {
	p.log.Warn("message id pending under another key; this delivery is answered invalid and the plugin is not called", "id", env.ID, "type", env.Type)
	errs = append(errs, message.ReplyError{Field: "$.id", Rule: RuleIDInUse, Message: fmt.Sprintf("消息 ID %[1]q 正被另一键（key）下的同 ID 消息使用，本条未处理也未保存。若是同一条消息重发，结果见另一条的回复（GET /admin/messages/%[1]s）；若是另一条消息，请换用自己的 ID 发送。"+
		"message id %[1]q is in use: a message with this id under another key is being processed, so this one was neither processed nor stored. "+
		"If it is that message sent again, its outcome is the other delivery's reply (GET /admin/messages/%[1]s); if it is another message, send it with an id of its own", env.ID)})
	r := p.reply(env, message.StatusInvalid, errs, nil, nil, 0)
	return r, p.finishUnstored(ctx, env, in, r, "message id pending under another key", start)
}

// RuleIDReused is the rule of the invalid reply to a message whose id the
// store holds for another message (see idReused).
const RuleIDReused = "id-reused"

// idReused answers a message whose id has a record of another message:
// another site, type, format or payload (message.SameRequest). Handing
// back the stored reply would tell its sender that this message was
// processed when it was not (a client that reuses ids after a restart
// would lose its upload), and reconciling a pending record with it would
// call the plugin with a message other than the one recorded. So it gets
// an invalid reply (with the envelope's own errors, if any) and its DLQ
// record, and nothing is called or stored: the record and its outcome
// stay the other message's.
func (p *Processor) idReused(ctx context.Context, env *message.Envelope, in Input, errs []message.ReplyError, existing *store.Message, start time.Time) (*message.Reply, error) {
	p.log.Warn("message id already used for another message; this one is answered invalid and the plugin is not called", "id", env.ID, "type", env.Type, "recordedType", existing.Type)
	errs = append(errs, IDReusedError(env.ID, env.Site, existing))
	r := p.reply(env, message.StatusInvalid, errs, nil, nil, 0)
	return r, p.finishUnstored(ctx, env, in, r, "message id already used for another message", start)
}

// IDReusedError is the error (rule RuleIDReused) of a message for site
// whose id the store holds for another message, other. Another site's
// message is not described: its sender may be bound to its own sites
// (http.clients[].sites) and learns nothing of the others'.
func IDReusedError(id, site string, other *store.Message) message.ReplyError {
	which, zh := "of another site", "其他院区"
	if other.Site == site {
		which, zh = fmt.Sprintf("of this site, type %q", other.Type), fmt.Sprintf("本院区，类型 %q", other.Type)
	}
	return message.ReplyError{Field: "$.id", Rule: RuleIDReused, Message: fmt.Sprintf("消息 ID %[1]q 已用于另一条消息（%[3]s），其院区、类型、格式或内容与本条不同，本条未处理也未保存。请换用自己的 ID 发送；另一条的结果见 GET /admin/messages/%[1]s。"+
		"message id %[1]q was already used for another message (%[2]s) whose site, type, format or payload differ from this one's, so this one was neither processed nor stored. "+
		"Send it with an id of its own; the other message's outcome is at GET /admin/messages/%[1]s", id, which, zh)}
}

// HeaderStoredRequest, on a request record, holds the id of a message
// whose request is in the store rather than in the record: the HTTP
// ingress records a request too large for a Kafka record (QueuedRecord)
// and queues this reference to it, keyed like the request, so that it is
// processed by whichever instance owns its partition, in its key's order,
// and delivered again after a crash like any Kafka request. The record's
// value is then only the envelope's id, site and type (for people and
// tools reading the topic); Process processes the recorded request.
const HeaderStoredRequest = "medgate-request-stored"

// RuleRequestNotStored is the rule of the invalid reply to a reference
// (HeaderStoredRequest) to a message the store does not hold.
const RuleRequestNotStored = "request-not-stored"

// QueuedRecord is the store's record of a message the HTTP ingress records
// before queueing a reference to it (HeaderStoredRequest): pending, with
// no attempt made, so that the delivery of the reference makes the first
// call as for a new message (Recovering unset).
func QueuedRecord(env *message.Envelope, key string, value []byte, received time.Time) store.Message {
	m := record(env, key, value, received)
	m.Attempts = 0
	return m
}

// storedRequest returns the recorded request of message id, referred to
// by the delivery being processed (HeaderStoredRequest). When it has none
// (nil), the delivery is answered: an error to deliver it again (the
// store failing), or an invalid reply, stored nowhere, when the store has
// no record of id (a reference sent by hand, or to a finished message
// pruned since) or one of another site or type than the reference says.
func (p *Processor) storedRequest(ctx context.Context, id string, in Input, start time.Time) ([]byte, *message.Reply, error) {
	env, _ := message.Parse(in.Value)
	m, err := p.store.GetMessage(ctx, id)
	switch {
	case err == nil && len(m.Request) > 0 && env.ID == id && m.Site == storable(env.Site) && m.Type == storable(env.Type):
		return m.Request, nil, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, nil, fmt.Errorf("pipeline: read the stored request of message %q (header %s): %w", id, HeaderStoredRequest, err)
	}
	whyZH, why := "存储中没有这条消息（从未记录，或已完成并被清理）", "the store has no record of it (it was never recorded, or it was finished and pruned since)"
	if err == nil {
		whyZH = fmt.Sprintf("存储中的这条消息属于院区 %q、类型 %q，没有请求内容，或与引用所说的院区和类型不符", m.Site, m.Type)
		why = fmt.Sprintf("the store holds it for site %q, type %q, without its request or not for the site and type of the reference", m.Site, m.Type)
	}
	p.log.Warn("reference to a stored request that cannot be used; answered invalid", "id", id, "err", why)
	if in.Key != "" && message.CheckKey(in.Key) != nil {
		in.Key = ""
	}
	r := p.reply(env, message.StatusInvalid, []message.ReplyError{{Field: "$.id", Rule: RuleRequestNotStored, Message: fmt.Sprintf(
		"本记录（头 %[1]s）引用 medgate 存储中消息 %[2]q 的请求，但%[4]s；未作任何处理。请通过 POST /v1/messages 直接发送该消息本身。"+
			"this record refers (header %[1]s) to the request of message %[2]q in medgate's store, but %[3]s; nothing was processed. Send the message itself through POST /v1/messages", HeaderStoredRequest, id, why, whyZH)}}, nil, nil, 0)
	return nil, r, p.finishUnstored(ctx, env, in, r, "reference to a request not in the store", start)
}

// ReferenceTakersNS is the namespace, in the store's state table, of the
// deliveries that took up recorded requests: one entry per message id,
// naming the reference (HeaderStoredRequest) whose delivery began to
// finish the pending record (takeReference), and when.
//
// A recorded request may have several references on the request topic:
// the HTTP ingress queues one again when it cannot tell that the first
// reached Kafka (its instance died between Kafka's acknowledgement and
// the mark of it), and a client may send the request again while it is
// pending. They share the request's key, so they are delivered in order:
// the first finishes the message, and the others find it done. Only the
// delivery that finished it (and its redeliveries, the same topic,
// partition and offset) publishes the stored reply: its offset is
// committed only once its reply is acknowledged. The others publish
// nothing (duplicateReference), so the platform gets the reply once.
// Without an entry (pruned by DropReferenceTakers, or written by no
// delivery) the stored reply is published, as for any redelivery. No
// plugin can reach the namespace: plugin names have no '.'.
const ReferenceTakersNS = "medgate.pipeline/reference-takers"

// ReferenceTakersKept is how long an entry of ReferenceTakersNS is kept
// (DropReferenceTakers): a reference delivered later than that after the
// delivery that took its message up publishes the stored reply again.
const ReferenceTakersKept = 7 * 24 * time.Hour

// referenceTaker is the value of an entry of ReferenceTakersNS.
type referenceTaker struct {
	// Delivery is the reference record: topic/partition/offset.
	Delivery string    `json:"delivery"`
	At       time.Time `json:"at"`
}

// deliveryName names a request record: topic/partition/offset.
func deliveryName(m *bus.Message) string {
	return fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset)
}

// takeReference notes, before the delivery of reference ref finishes the
// pending record of message id, that this reference took it up (see
// ReferenceTakersNS). An error leaves the message to be delivered again.
func (p *Processor) takeReference(ctx context.Context, id string, ref *bus.Message) error {
	v, err := json.Marshal(referenceTaker{Delivery: deliveryName(ref), At: p.now().UTC()})
	if err != nil {
		return fmt.Errorf("pipeline: encode the delivery taking up message %q: %w", id, err)
	}
	if _, err := p.store.StatePut(ctx, ReferenceTakersNS, id, v); err != nil {
		return fmt.Errorf("pipeline: note that reference %s takes up the recorded request of message %q (store state %q): %w", deliveryName(ref), id, ReferenceTakersNS, err)
	}
	return nil
}

// otherReference reports whether message id, done, was finished by the
// delivery of another reference than ref (see ReferenceTakersNS). An
// error leaves the message to be delivered again.
func (p *Processor) otherReference(ctx context.Context, id string, ref *bus.Message) (bool, error) {
	e, err := p.store.StateGet(ctx, ReferenceTakersNS, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("pipeline: read which reference took up message %q (store state %q): %w", id, ReferenceTakersNS, err)
	}
	var t referenceTaker
	if err := json.Unmarshal(e.Value, &t); err != nil || t.Delivery == "" {
		// Unreadable: publish, as without an entry.
		return false, nil
	}
	return t.Delivery != deliveryName(ref), nil
}

// duplicateReference answers a reference to a message another reference
// finished (otherReference): that delivery publishes the stored reply, so
// this one publishes nothing and calls nothing; it returns the stored
// reply, for the HTTP requests waiting for it.
func (p *Processor) duplicateReference(env *message.Envelope, done *store.Message) (*message.Reply, error) {
	var r message.Reply
	if err := json.Unmarshal(done.Reply, &r); err != nil {
		return nil, fmt.Errorf("pipeline: stored reply of %q is unreadable: %w", env.ID, err)
	}
	p.log.Info("another reference to a recorded request already finished; its reply was published by that delivery, not again", "id", env.ID, "status", r.Status)
	return &r, nil
}

// DropReferenceTakers deletes the entries of ReferenceTakersNS written
// before before (and unreadable ones). It stops at the first failure.
func DropReferenceTakers(ctx context.Context, st store.Store, before time.Time) error {
	es, err := st.StateScan(ctx, ReferenceTakersNS, "", 0)
	if err != nil {
		return fmt.Errorf("pipeline: list the references that took up recorded requests (store state %q): %w", ReferenceTakersNS, err)
	}
	for _, e := range es {
		var t referenceTaker
		if json.Unmarshal(e.Value, &t) == nil && !t.At.Before(before) {
			continue
		}
		if err := st.StateDelete(ctx, ReferenceTakersNS, e.Key); err != nil {
			return fmt.Errorf("pipeline: drop the note of the reference that took up message %q (store state %q): %w", e.Key, ReferenceTakersNS, err)
		}
	}
	return nil
}

// record is the store's record of a new message, about to be handled.
func record(env *message.Envelope, key string, value []byte, received time.Time) store.Message {
	return store.Message{
		ID: env.ID, Site: storable(env.Site), Type: storable(env.Type), Key: key,
		OccurredAt: env.Occurred(), ReceivedAt: received, Request: value, Attempts: 1,
	}
}

// next returns the record of the message the Kafka consumer hands to
// Process next for the key of the message being finished under ctx (id),
// with its delivery and envelope, when that message is already read and Process would
// record it as it is: a well-formed envelope with an id other than id,
// within the size limit, with a usable key.
func (p *Processor) next(ctx context.Context, id string) (*store.Message, *bus.Message, *message.Envelope) {
	m := bus.Next(ctx)
	if m == nil || len(m.Value) > p.opts.MaxPayloadBytes || m.Headers[HeaderStoredRequest] != "" {
		return nil, nil, nil
	}
	key := string(m.Key)
	if message.CheckKey(key) != nil {
		return nil, nil, nil
	}
	env, errs := message.Parse(m.Value)
	if len(errs) > 0 || env.ID == id || !message.ValidID(env.ID) || (env.ReplyTo != "" && !p.replyTo[env.ReplyTo]) {
		return nil, nil, nil
	}
	if p.routes.Load().query(env.Site, env.Type) {
		// A pure query gets no pending record (see Process).
		return nil, nil, nil
	}
	rec := record(env, key, m.Value, p.now())
	return &rec, m, env
}

// call invokes the plugin with retries. It returns ErrStopped if ctx ends.
//
// The journal entries the plugin made during the call that gave the
// outcome are returned with it, to be stored with the outcome (see
// Options.Journal); those of earlier calls of a retried message are stored
// before the next try, and those of a call cut short by shutdown before
// call returns.
//
// A transient failure of an ordinary message is retried within the retry
// budget and MaxAttempts, then the message fails. An upload is never given
// up on: it is retried within its deadline (occurredAt + UploadDeadline;
// without occurredAt, the first receipt + UploadDeadline),
// and past it goes on being retried, late, with an error logged at every
// attempt (the oldest-pending metric alerts meanwhile), until the external
// system answers.
//
// counted says that the first call's attempt is already recorded (by
// BeginMessage of a new message).
func (p *Processor) call(ctx context.Context, env *message.Envelope, in Input, key string, t *Target, op sdk.Operation, attempts int, counted bool, start time.Time) (r *message.Reply, journal []store.Exchange, err error) {
	r, err = p.tryCalls(ctx, env, in, key, t, op, attempts, counted, start, &journal)
	if err != nil && len(journal) > 0 {
		// Not finished (shutdown, the store failing): keep what the
		// plugin journaled anyway, as it would have been without Defer.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if jerr := p.storeJournal(sctx, journal); jerr != nil {
			p.log.Warn("cannot store the journal of an unfinished message", "id", env.ID, "err", jerr)
		}
		journal = nil
	}
	return r, journal, err
}

// storeJournal stores journal entries held during a call that did not
// give the message's outcome.
func (p *Processor) storeJournal(ctx context.Context, journal []store.Exchange) error {
	for _, e := range journal {
		if _, err := p.store.AppendExchange(ctx, e); err != nil {
			return fmt.Errorf("pipeline: store the journal entry of message %q (code %s, serial %s): %w", e.MessageID, e.Code, e.Serial, err)
		}
	}
	return nil
}

// tryCalls is call's loop; *journal holds the entries of the last call.
func (p *Processor) tryCalls(ctx context.Context, env *message.Envelope, in Input, key string, t *Target, op sdk.Operation, attempts int, counted bool, start time.Time, journal *[]store.Exchange) (*message.Reply, error) {
	deadline := start.Add(p.opts.RetryBudget)
	if op.Upload {
		// The 30-minute rule counts from the business event, or, for an
		// upload without occurredAt, from when medgate first received the
		// message (the plugin's ReceivedAt), the same on every delivery.
		from := env.Occurred()
		if from.IsZero() {
			from = in.received
		}
		if !from.IsZero() {
			deadline = from.Add(p.opts.UploadDeadline)
		}
	}
	// giveUp reports whether a message with n attempts, n in this
	// delivery, stops retrying instead of waiting wait.
	giveUp := func(round int, wait time.Duration) bool {
		if op.Upload {
			return false
		}
		return round >= p.opts.MaxAttempts || p.now().Add(wait).After(deadline)
	}
	failed := func(lastErrs []message.ReplyError, n int) *message.Reply {
		zh := fmt.Sprintf("已尝试 %d 次仍未成功，放弃处理", n)
		why := fmt.Sprintf("gave up after %d attempt(s)", n)
		if p.now().Add(p.backoff(n)).After(deadline) {
			zh += fmt.Sprintf("（再等将超过时限 %s）", deadline.Format(time.RFC3339))
			why += fmt.Sprintf("; the deadline %s would pass", deadline.Format(time.RFC3339))
		}
		zh += "；消息已转入死信队列（DLQ），排除原因后用 `medgate replay " + env.ID + "` 重放。"
		errs := append(lastErrs, message.ReplyError{Rule: "retries", Message: zh + why + "; the message is in the DLQ; replay it with `medgate replay " + env.ID + "` once the cause is fixed"})
		return p.reply(env, message.StatusFailed, errs, nil, nil, n)
	}
	var lastErrs []message.ReplyError
	round := 0 // calls in this delivery; attempts counts every call ever made
	// Calls of this delivery during which the plugin process died, and
	// those of them made alone in the plugin.
	crashes, crashesAlone := 0, 0
	// goAlone: the next call goes alone in the plugin (the last one that
	// reached it crashed it).
	goAlone := false
	for {
		// Once the consumer releases the partition (it stops, or a
		// rebalance takes the partition away), a call in flight may end
		// within the release grace, but no new call starts: it could be
		// cut off mid-flight at the grace's end. The message is delivered
		// again, and its next call reconciles (Recovering).
		if ctx.Err() != nil || released(ctx) {
			return nil, ErrStopped
		}
		circuit := t.Plugin + "/" + env.Site
		if !p.brk.allow(circuit, p.now()) {
			lastErrs = []message.ReplyError{{Rule: "circuit", Message: fmt.Sprintf("插件 %[1]q 在院区 %[2]q 连续失败，暂停调用 %[3]s 后再试。plugin %[1]q at site %[2]q failed repeatedly; calls pause for %s before the next try", t.Plugin, env.Site, p.opts.BreakerCooldown)}}
			if attempts == 0 {
				attempts = 1 // counted as a try for the deadline arithmetic below
			}
			wait := p.backoff(attempts)
			if giveUp(0, wait) {
				return failed(lastErrs, attempts), nil
			}
			select {
			case <-ctx.Done():
				return nil, ErrStopped
			case <-bus.Released(ctx):
				return nil, ErrStopped
			case <-time.After(wait):
			}
			continue
		}
		n := 1
		if len(*journal) > 0 {
			// The last call gave no outcome: its entries are stored now.
			if err := p.storeJournal(ctx, *journal); err != nil {
				p.brk.abandon(circuit)
				return nil, err
			}
			*journal = nil
		}
		switch {
		case counted:
		case in.unrecorded:
			// A query without record counts its calls here; the
			// count is stored with the outcome.
			n = attempts + 1
		default:
			var err error
			if n, err = p.store.AddAttempt(ctx, env.ID); err != nil {
				p.brk.abandon(circuit)
				return nil, fmt.Errorf("pipeline: count attempt of %q: %w", env.ID, err)
			}
		}
		counted = false
		attempts = n
		round++
		alone := goAlone
		// Waiting to go in (alone, or behind a call alone) is not
		// being in flight: a release ends the wait at once.
		leave, err := p.gates.get(t.Plugin).enter(ctx, alone, bus.Released(ctx))
		if err != nil {
			p.brk.abandon(circuit)
			return nil, ErrStopped
		}
		if released(ctx) {
			// Released as it went in: not in flight.
			leave()
			p.brk.abandon(circuit)
			return nil, ErrStopped
		}
		take := func() []store.Exchange { return nil }
		if p.opts.Journal != nil {
			take = p.opts.Journal.Defer(t.Plugin, env.ID)
		}
		cctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
		resp, err := t.Handler.Handle(cctx, &sdk.HandleRequest{
			Site: env.Site, Type: env.Type, MessageID: env.ID, Key: key,
			OccurredAt: env.Occurred(), ReceivedAt: in.received, Format: env.Format, Payload: env.PayloadBytes(),
			Attempt: n, Recovering: n > 1, Deadline: deadline, TraceID: in.TraceID,
		})
		timedOut := cctx.Err() != nil
		cancel()
		leave()
		*journal = take()
		// The breaker counts what says the external system is in trouble:
		// retryable failures the plugin reports, and calls that ran out of
		// time. A plugin that crashed is the supervisor's business (it
		// relaunches it); it must not pause every call to a healthy system.
		//
		// A retryable failure the plugin marks Waiting (sdk.Wait) is a wait
		// of its own making, not news of the external system: it is left
		// out altogether. Counted as a failure, a message waiting alone
		// would open the circuit and hold back every message of the site;
		// counted as a success, waits between real failures would keep
		// resetting their run (the circuit would never open while the
		// system is down) and a waiting probe would close an open circuit
		// on no evidence. A probe it answered gives its place up, so the
		// next call probes.
		retryable := resp != nil && resp.Status == sdk.StatusFailed && resp.Retryable
		if err == nil && retryable && resp.Waiting {
			p.brk.abandon(circuit)
		} else {
			externalTrouble := (err != nil && timedOut) || retryable
			p.brk.done(circuit, externalTrouble && ctx.Err() == nil, p.now())
		}
		switch {
		case ctx.Err() != nil:
			return nil, ErrStopped
		case err != nil:
			// The error may quote an external answer: names, card numbers
			// and birth dates in it are masked (pii.Text), which the
			// logger's own masking cannot tell from other text.
			p.log.Warn("plugin call failed; outcome unknown, will reconcile on retry", "id", env.ID, "type", env.Type, "attempt", n, "alone", alone, "err", pii.Text(err.Error()))
			said := "插件未应答。the plugin did not answer: "
			if pe := (*sdkhost.PluginError)(nil); errors.As(err, &pe) {
				// It answered, with an error of its own (a vendor's plain
				// Go error from Handle): its words follow.
				said = "插件返回错误。the plugin answered with an error: "
			}
			lastErrs = []message.ReplyError{{Rule: "unavailable", Message: said + err.Error()}}
			if errors.Is(err, pluginhost.ErrSiteIsolated) {
				// The plugin host runs the plugin without the site (its
				// messages kept crashing it, or its Configure did): the
				// call did not reach the process, so its retries cannot
				// crash it and go in with the others. Going alone, each
				// would wait for every call in the plugin to end and
				// hold every site's new calls back meanwhile.
				goAlone = false
			}
			if crash := (*pluginhost.CrashError)(nil); errors.As(err, &crash) {
				crashes++
				goAlone = true
				if alone {
					crashesAlone++
				}
				if crashesAlone >= p.opts.CrashLimit {
					return p.crashed(env, t, crashes, crashesAlone, n), nil
				}
			}
		case retryable:
			lastErrs = diagsToErrors(resp.Diagnostics)
			if len(lastErrs) == 0 {
				lastErrs = []message.ReplyError{{Rule: "transient", Message: "外部系统未应答。the external system did not answer"}}
			}
		default:
			return p.replyFrom(env, resp, n), nil
		}
		// Transient: retry with backoff.
		wait := p.backoff(n)
		if giveUp(round, wait) {
			return failed(lastErrs, n), nil
		}
		if op.Upload && p.now().After(deadline) {
			p.log.Error("upload past its deadline; still retrying until the external system answers", "id", env.ID, "type", env.Type,
				"deadline", deadline.Format(time.RFC3339), "late", p.now().Sub(deadline).Round(time.Second).String(), "attempt", n, "retryIn", wait.String())
		}
		select {
		case <-ctx.Done():
			return nil, ErrStopped
		case <-bus.Released(ctx):
			return nil, ErrStopped
		case <-time.After(wait):
		}
	}
}

// released reports whether ctx is a consumer's delivery whose partition is
// being released (bus.Released).
func released(ctx context.Context) bool {
	select {
	case <-bus.Released(ctx):
		return true
	default:
		return false
	}
}

// RulePluginCrash is the rule of a message during whose calls the plugin
// process died Options.CrashLimit times while the message was alone in it.
const RulePluginCrash = "plugin-crash"

// crashed is the failed reply of a message that kills the plugin.
func (p *Processor) crashed(env *message.Envelope, t *Target, crashes, alone, attempts int) *message.Reply {
	p.log.Error("message crashes the plugin; given up and dead-lettered", "id", env.ID, "type", env.Type, "plugin", t.Plugin, "crashes", crashes, "alone", alone)
	msg := fmt.Sprintf("处理此消息时 %[1]s 插件进程崩溃 %[2]d 次（其中 %[3]d 次单独处理），无法投递；消息已转入死信队列（DLQ），修复插件或消息后用 `medgate replay %[4]s` 重放。"+
		"the %[1]s plugin process died during %[2]d calls handling this message, %[3]d of them with no other message in the plugin: "+
		"the message crashes the adapter and cannot be delivered (an upload neither: it was not sent, or its outcome is unknown and is reconciled before any resend); "+
		"the message is in the DLQ; fix the adapter or the message and replay it with `medgate replay %[4]s`", t.Plugin, crashes, alone, env.ID)
	return p.reply(env, message.StatusFailed, []message.ReplyError{{Rule: RulePluginCrash, Message: msg}}, nil, nil, attempts)
}

func (p *Processor) backoff(attempt int) time.Duration {
	d := float64(p.opts.InitialBackoff) * math.Pow(2, float64(attempt-1))
	if d > float64(p.opts.MaxBackoff) {
		d = float64(p.opts.MaxBackoff)
	}
	// ±20 % jitter so many keys do not retry in step.
	return time.Duration(d * (0.8 + 0.4*mrand.Float64()))
}

func (p *Processor) replyFrom(env *message.Envelope, r *sdk.HandleResponse, attempts int) *message.Reply {
	status := string(r.Status)
	switch status {
	case message.StatusOK, message.StatusInvalid, message.StatusRejected, message.StatusFailed:
	default:
		return p.reply(env, message.StatusFailed, []message.ReplyError{{Rule: "plugin", Message: fmt.Sprintf("插件返回了未知状态 %[1]q。the plugin returned an unknown status %[1]q", status)}}, nil, nil, attempts)
	}
	var ext *message.External
	if r.External != nil {
		ext = &message.External{System: r.External.System, Code: r.External.Code, Message: r.External.Message, MsgID: r.External.MsgID}
	}
	var payload json.RawMessage
	if len(r.Payload) > 0 {
		if message.ValidJSON(r.Payload) {
			payload = r.Payload
		} else {
			payload, _ = json.Marshal(string(r.Payload))
		}
	}
	errs := diagsToErrors(r.Diagnostics)
	if status == message.StatusInvalid && len(errs) == 0 {
		errs = []message.ReplyError{{Rule: "invalid", Message: "插件拒绝了输入，但未说明原因。the plugin rejected the input without saying why"}}
	}
	reply := p.reply(env, status, errs, ext, payload, attempts)
	reply.Warnings = diagsToWarnings(r.Diagnostics)
	return reply
}

func (p *Processor) reply(env *message.Envelope, status string, errs []message.ReplyError, ext *message.External, payload json.RawMessage, attempts int) *message.Reply {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	r := &message.Reply{ID: newID(), Status: status, Errors: errs, External: ext, Payload: payload, Attempts: attempts, CompletedAt: p.now().UTC()}
	if env != nil {
		r.RequestID, r.Site, r.Type = env.ID, env.Site, env.Type
	}
	return r
}

// finish stores the outcome, with the journal entries the plugin made
// during the call that gave it, then publishes the reply (and DLQ record).
// It returns the reply published: r, or for a query whose outcome another
// delivery stored meanwhile, that stored reply (see finishQuery).
func (p *Processor) finish(ctx context.Context, env *message.Envelope, in Input, r *message.Reply, dlqReason string, start time.Time, journal ...store.Exchange) (*message.Reply, error) {
	data, err := message.MarshalReply(r)
	if err != nil {
		return r, fmt.Errorf("pipeline: encode reply: %w", err)
	}
	// Store with a context that survives shutdown for a moment: the plugin
	// already acted, and losing the outcome would force a reconciliation.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if in.unrecorded {
		return p.finishQuery(ctx, sctx, env, in, r, data, start, journal)
	}
	if p.finishAndBegin(sctx, ctx, env.ID, r, data, journal) {
		return r, p.stored(ctx, env, in, r, data, start)
	}
	if err := p.store.FinishMessage(sctx, env.ID, r.Status, data, r.Attempts, journal...); err != nil {
		if len(journal) > 0 {
			// The message stays pending and is redelivered; its journal
			// entries are kept if the store takes them on their own.
			if jerr := p.storeJournal(sctx, journal); jerr != nil {
				p.log.Warn("cannot store the journal of an unfinished message", "id", env.ID, "err", jerr)
			}
		}
		return r, fmt.Errorf("pipeline: store outcome of %q: %w", env.ID, err)
	}
	return r, p.stored(ctx, env, in, r, data, start)
}

// finishQuery stores the outcome of a query that has no record (see
// Process) together with the message, in one write with its journal
// entries (store.RecordFinished), then publishes the reply as finish does.
// The waiting HTTP client (Options.Stored) has the reply before the write:
// a query has no effect to make durable before its caller learns of it,
// and the write's commit (an fsync on SQLite, the largest step of a
// query's path and of its latency's tail) is left out of what the cashier
// waits for.
//
// If a record of the id appeared meanwhile, it is left as it is: another
// delivery of the message (another instance taking over its partition)
// got there first. A done one's stored reply is published instead of r,
// as for any redelivery. A pending one belongs to a delivery that handles
// the message as no query (its instance runs a plugin that does not
// declare it one): this delivery ends with an error, to be delivered
// again and handled then as the record says.
func (p *Processor) finishQuery(ctx, sctx context.Context, env *message.Envelope, in Input, r *message.Reply, data []byte, start time.Time, journal []store.Exchange) (*message.Reply, error) {
	key := in.Key
	if key == "" {
		key = env.ID
	}
	m := record(env, key, in.Value, start)
	m.Outcome, m.Reply, m.Attempts = r.Status, data, r.Attempts
	if p.opts.Stored != nil {
		p.opts.Stored(r, in.Value)
	}
	existing, err := p.store.RecordFinished(sctx, m, journal...)
	switch {
	case err != nil:
		if len(journal) > 0 {
			// Nothing is stored and the query runs again on redelivery;
			// the entries of this run are kept if the store takes them.
			if jerr := p.storeJournal(sctx, journal); jerr != nil {
				p.log.Warn("cannot store the journal of an unfinished message", "id", env.ID, "err", jerr)
			}
		}
		return r, fmt.Errorf("pipeline: store outcome of %q: %w", env.ID, err)
	case existing == nil:
		return r, p.published(ctx, env, in, r, data, start)
	case existing.Status == store.StatusDone:
		return p.replay(ctx, env, in, existing)
	default:
		return r, fmt.Errorf("pipeline: message %q was recorded pending by another delivery while this one ran it as a query; its outcome is left to that delivery, and this one is to be delivered again", env.ID)
	}
}

// stored tells the ingress and the metrics of a stored outcome and
// publishes its reply.
func (p *Processor) stored(ctx context.Context, env *message.Envelope, in Input, r *message.Reply, data []byte, start time.Time) error {
	if p.opts.Stored != nil {
		p.opts.Stored(r, in.Value)
	}
	return p.published(ctx, env, in, r, data, start)
}

// published tells the metrics of a stored outcome and publishes its
// reply: stored without handing the reply to Options.Stored.
func (p *Processor) published(ctx context.Context, env *message.Envelope, in Input, r *message.Reply, data []byte, start time.Time) error {
	if p.obs != nil {
		p.obs.Finished(r.Type, r.Status, p.now().Sub(start))
	}
	return p.publish(ctx, env, in, r, data)
}

// finishAndBegin stores the outcome of message id and, in the same
// transaction, records the message the Kafka consumer hands to Process
// next for the same key, so that the two share one commit (one fsync on
// SQLite). It reports whether the outcome is stored; if not (no next
// message, journal entries to store, the write failed), the caller
// stores the outcome alone. The next message is processed only after
// this one's handler returned nil, that is after its outcome is stored and
// its reply handed to the producer: a failed write holds it back as
// before, and a failed publication holds back its reply (see hand). It
// runs under its record only if nothing else touched its id meanwhile
// (see preparer).
func (p *Processor) finishAndBegin(sctx, ctx context.Context, id string, r *message.Reply, data []byte, journal []store.Exchange) bool {
	if len(journal) > 0 {
		return false
	}
	rec, owner, env := p.next(ctx, id)
	if rec == nil {
		return false
	}
	e := p.prep.reserve(rec.ID, owner, env, p.now())
	if e == nil {
		return false
	}
	_, created, err := p.store.FinishAndBegin(sctx, id, r.Status, data, r.Attempts, *rec)
	if err != nil {
		p.prep.complete(rec.ID, e, false)
		p.log.Debug("outcome and next message not stored together; storing the outcome alone", "id", id, "next", rec.ID, "err", err)
		return false
	}
	p.prep.complete(rec.ID, e, created)
	return true
}

// finishUnstored publishes the reply (and DLQ record) of a message whose
// outcome is not stored: it has no usable id or key, or its id is pending
// under another key (pendingElsewhere).
func (p *Processor) finishUnstored(ctx context.Context, env *message.Envelope, in Input, r *message.Reply, reason string, start time.Time) error {
	data, err := message.MarshalReply(r)
	if err != nil {
		return fmt.Errorf("pipeline: encode reply: %w", err)
	}
	if p.obs != nil {
		p.obs.Finished(r.Type, r.Status, p.now().Sub(start))
	}
	return p.hand(ctx, chainKey(env, in), p.replyStep(env, in, r, data),
		step{run: func(ctx context.Context) error { return p.deadLetter(ctx, in, r, reason) }})
}

// publish sends the reply of a stored outcome and, for an invalid or
// failed message, its DLQ record (see hand).
func (p *Processor) publish(ctx context.Context, env *message.Envelope, in Input, r *message.Reply, data []byte) error {
	steps := []step{p.replyStep(env, in, r, data)}
	if r.Status == message.StatusInvalid || r.Status == message.StatusFailed {
		reason := r.Status
		if len(r.Errors) > 0 {
			reason = r.Errors[0].Message
		}
		steps = append(steps, step{run: func(ctx context.Context) error { return p.deadLetter(ctx, in, r, reason) }})
	}
	return p.hand(ctx, chainKey(env, in), steps...)
}

// step is one record of a message's publication (the reply, the DLQ
// record): run publishes it and returns once it is acknowledged, or with
// an error when it is to be published again.
//
// first, when set, is the record run sends first, and after(ctx, err) is
// what run does once that send ended with err: a publisher that can hand a
// record over without waiting (AsyncPublisher) sends first and calls after
// only when the send failed (see handAsync).
type step struct {
	run   func(ctx context.Context) error
	first *outRecord
	after func(ctx context.Context, err error) error
}

// once runs s a first time: its first record sent through pub and after,
// or run when it has none.
func (s step) once(ctx context.Context, pub Publisher) error {
	if s.first == nil {
		return s.run(ctx)
	}
	return s.after(ctx, pub.Send(ctx, s.first.topic, s.first.key, s.first.value, s.first.headers))
}

// replyStep is the step that publishes r's reply (publishReply).
func (p *Processor) replyStep(env *message.Envelope, in Input, r *message.Reply, data []byte) step {
	s := step{run: func(ctx context.Context) error { return p.publishReply(ctx, env, in, r, data) }}
	if rec, why := p.replyRecord(env, in, r, data); why == (unfit{}) {
		s.first = &rec
		s.after = func(ctx context.Context, err error) error { return p.replySent(ctx, r, rec, err) }
	}
	return s
}

// AsyncPublisher is a Publisher that can also hand a record over without
// waiting for its acknowledgement (a *bus.Producer): done is called once,
// without blocking, with what Send would have returned.
type AsyncPublisher interface {
	SendAsync(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error))
}

// chainKey is the key whose replies go out in order: the key given with
// the message, or its id when it has none; "" when neither is usable
// (such a message has no order to keep).
func chainKey(env *message.Envelope, in Input) string {
	if in.chain != "" {
		return in.chain
	}
	if env != nil && message.ValidID(env.ID) {
		return env.ID
	}
	return ""
}

// publishRetry is the first wait before a deferred publication is tried
// again; it doubles up to maxPublishRetry (a variable for tests).
var publishRetry, maxPublishRetry = 250 * time.Millisecond, 10 * time.Second

// hand publishes a message's records, steps in order, in the order of its
// key (key "": no order), once the key's previous records are
// acknowledged.
//
// Outside the Kafka consumer it publishes them before it returns, and an
// error means that they are not all acknowledged. For a consumer's
// delivery it returns once the first step is handed over: the message is
// deferred (bus.Defer), the steps go on in the background (a lone reply
// through an AsyncPublisher without a goroutine of its own: handAsync),
// each retried with backoff until acknowledged, and the consumer finishes the message
// (its offset may be committed) when the last one is; once the partition
// is being released, each record is tried once more at most, and a message
// whose records are not acknowledged within the release grace
// (kafka.releaseGrace) is left for redelivery. Meanwhile the
// consumer starts the key's next message, whose own hand waits here for
// these records: a key has at most one message whose records are handed
// over and not acknowledged, and if they never are, none of the key's
// later records go out before the redelivery publishes them again, in
// order.
func (p *Processor) hand(ctx context.Context, key string, steps ...step) error {
	prev, self := p.chains.join(key)
	if prev != nil {
		// Waited for even when the partition is being released: the
		// previous publication ends by itself within the release grace,
		// acknowledged or given up, and ctx ends with the grace.
		select {
		case <-prev.done:
		case <-ctx.Done():
			p.chains.end(key, self, ErrStopped)
			return ErrStopped
		}
		if prev.err != nil {
			err := fmt.Errorf("pipeline: the previous reply of key %q was not published, so this reply waits for the redelivery of both: %w", cut(key, 64), prev.err)
			p.chains.end(key, self, err)
			return err
		}
	}
	if ctx.Err() != nil {
		p.chains.end(key, self, ErrStopped)
		return ErrStopped
	}
	// A delivery whose partition is being released publishes within the
	// release grace (its outcome is stored, and its offset is committed
	// once the reply is acknowledged), but not after an earlier message
	// of its key that is left unfinished: that one's reply may have given
	// up unacknowledged and left the chain (its publication ended with
	// the same release), and the redelivery publishes both again, in
	// order.
	select {
	case <-bus.Released(ctx):
		if bus.EarlierUnfinished(ctx) {
			p.chains.end(key, self, ErrStopped)
			return ErrStopped
		}
	default:
	}
	later := bus.Defer(ctx)
	if later == nil {
		var err error
		for _, s := range steps {
			if err = s.once(ctx, p.pub); err != nil {
				break
			}
		}
		p.chains.end(key, self, err)
		return err
	}
	if ap, ok := p.pub.(AsyncPublisher); ok && len(steps) == 1 && steps[0].first != nil {
		p.handAsync(ctx, ap, key, self, later, steps[0])
		return nil
	}
	go func() {
		err := p.sendRetrying(ctx, later.Stopping(), steps)
		// The message finishes (or not) before the key's next
		// publication may go: one that sees the chain ended and its
		// partition released asks the consumer (bus.EarlierUnfinished).
		later.Done(err)
		p.chains.end(key, self, err)
	}()
	return nil
}

// handAsync is hand's background publication of a single step s for a
// consumer's delivery, through a publisher that calls back: s's record is
// handed over at once, and the acknowledgement ends the message (chain
// and Later) from the publisher's callback, without a goroutine waiting
// for it. A send that fails goes on in a goroutine as hand's would have:
// s.after with the error (a refused reply is published truncated), then
// s.run retried with backoff. If ctx ends before the outcome is known, the
// publication ends with that error as Send's would (the message is
// delivered again), and a later outcome is ignored.
func (p *Processor) handAsync(ctx context.Context, ap AsyncPublisher, key string, self *link, later *bus.Later, s step) {
	var ended atomic.Bool
	finish := func(err error) {
		if !ended.CompareAndSwap(false, true) {
			return
		}
		if err == nil {
			later.Done(nil) // before the chain ends: see hand
			p.chains.end(key, self, nil)
			return
		}
		go func() {
			first := true
			err := p.sendRetrying(ctx, later.Stopping(), []step{{run: func(ctx context.Context) error {
				if first {
					first = false
					return s.after(ctx, err)
				}
				return s.run(ctx)
			}}})
			later.Done(err)
			p.chains.end(key, self, err)
		}()
	}
	stop := context.AfterFunc(ctx, func() {
		finish(fmt.Errorf("send to topic %s: outcome unknown, the message may still be written: %w", s.first.topic, ctx.Err()))
	})
	ap.SendAsync(ctx, s.first.topic, s.first.key, s.first.value, s.first.headers, func(err error) {
		stop()
		finish(err)
	})
}

// sendRetrying runs steps in order, each until it succeeds; it gives up
// with the last error once ctx ends or stopping is closed.
func (p *Processor) sendRetrying(ctx context.Context, stopping <-chan struct{}, steps []step) error {
	for _, s := range steps {
		wait := publishRetry
		for attempt := 1; ; attempt++ {
			run := s.run
			if attempt == 1 {
				run = func(ctx context.Context) error { return s.once(ctx, p.pub) }
			}
			err := run(ctx)
			if err == nil {
				break
			}
			select {
			case <-stopping:
				return err
			default:
			}
			if ctx.Err() != nil {
				return err
			}
			p.log.Warn("reply or DLQ record not published; trying again (the key's next replies and the partition's commit point wait)", "attempt", attempt, "err", err, "retryIn", wait.String())
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return err
			case <-stopping:
				t.Stop()
				return err
			}
			wait = min(2*wait, maxPublishRetry)
		}
	}
	return nil
}

// chains keeps, for each key, the last message whose records were handed
// to the producer: the next message of the key hands its own over only
// once they are acknowledged, so that a key's replies never overtake each
// other, even when one fails and is published again.
type chains struct {
	mu sync.Mutex
	m  map[string]*link
}

// link is one message's publication in its key's chain.
type link struct {
	done chan struct{} // closed when it ended
	err  error         // nil: acknowledged
}

// join appends a publication to the chain of key and returns the one it
// waits for (nil: none). Every join must be followed by end.
func (c *chains) join(key string) (prev, self *link) {
	if key == "" {
		return nil, nil
	}
	self = &link{done: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*link{}
	}
	prev = c.m[key]
	c.m[key] = self
	return prev, self
}

// end records the outcome of l and lets the next publication of key go.
func (c *chains) end(key string, l *link, err error) {
	if l == nil {
		return
	}
	l.err = err
	close(l.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] == l {
		delete(c.m, key)
	}
}

// outRecord is one Kafka record to publish.
type outRecord struct {
	topic      string
	key, value []byte
	headers    map[string]string
}

// unfit says why a record cannot be published as it is: in Chinese, which
// leads the error of the truncated record for the staff who read it, and
// in English, which follows it there and goes to the log.
type unfit struct{ zh, en string }

// replyRecord returns the record publishReply sends first for r, or why
// it cannot be sent as it is (too large: it is published truncated).
func (p *Processor) replyRecord(env *message.Envelope, in Input, r *message.Reply, data []byte) (rec outRecord, why unfit) {
	rec.topic = p.topics.Replies
	if env != nil && p.replyTo[env.ReplyTo] {
		rec.topic = env.ReplyTo
	}
	key := in.Key
	if key == "" && env != nil {
		key = env.ID
	}
	if message.CheckKey(key) != nil {
		key = "" // an id that is no usable key (the envelope was malformed)
	}
	rec.key = []byte(key)
	rec.headers = map[string]string{
		message.HeaderTraceID: in.TraceID, message.HeaderType: cut(r.Type, 256), message.HeaderStatus: r.Status, message.HeaderRequestID: cut(r.RequestID, 256),
	}
	rec.value = p.mapOut(in, r, data, rec.headers)
	if len(rec.value)+len(rec.key) > p.opts.MaxRecordBytes {
		why = unfit{zh: fmt.Sprintf("回复 %d 字节，超过一条 Kafka 记录的上限 %d 字节", len(rec.value), p.opts.MaxRecordBytes),
			en: fmt.Sprintf("the reply is %d bytes, more than the %d a Kafka record may hold", len(rec.value), p.opts.MaxRecordBytes)}
	}
	return rec, why
}

func (p *Processor) publishReply(ctx context.Context, env *message.Envelope, in Input, r *message.Reply, data []byte) error {
	rec, why := p.replyRecord(env, in, r, data)
	if why != (unfit{}) {
		return p.publishTruncated(ctx, r, rec, why)
	}
	return p.replySent(ctx, r, rec, p.pub.Send(ctx, rec.topic, rec.key, rec.value, rec.headers))
}

// replySent is the rest of publishReply once rec, r's record, was sent
// with outcome err: nil, a transient error (returned: the reply is to be
// published again), or a refusal that sending the same record again cannot
// cure (the reply is published truncated).
func (p *Processor) replySent(ctx context.Context, r *message.Reply, rec outRecord, err error) error {
	var why unfit
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bus.ErrRecordRefused):
		why = unfit{zh: "Kafka 拒收了此回复", en: "Kafka refused the reply: " + err.Error()}
	case errors.Is(err, bus.ErrTopicUnusable) && rec.topic != p.topics.Replies:
		why = unfit{zh: fmt.Sprintf("回复主题 replyTo %s 无法写入，回复改发到 %s", rec.topic, p.topics.Replies),
			en: fmt.Sprintf("the replyTo topic %s cannot take it: %v", rec.topic, err)}
		rec.topic = p.topics.Replies
	default:
		return fmt.Errorf("pipeline: publish reply to %s: %w", rec.topic, err)
	}
	return p.publishTruncated(ctx, r, rec, why)
}

// publishTruncated publishes r without its payload, with the error why,
// to rec's topic: retrying the same record cannot help, and so the message
// finishes and its partition moves on.
func (p *Processor) publishTruncated(ctx context.Context, r *message.Reply, rec outRecord, why unfit) error {
	small := shrink(r, why)
	sdata, err := json.Marshal(small)
	if err != nil {
		return fmt.Errorf("pipeline: encode truncated reply: %w", err)
	}
	p.truncated.Add(1)
	p.log.Error("reply published truncated: its payload was dropped; the full reply is in the store", "id", r.RequestID, "type", r.Type, "topic", rec.topic, "why", why.en)
	headers := maps.Clone(rec.headers)
	headers[message.HeaderTruncated] = "1"
	unmapOut(headers)
	err = p.pub.Send(ctx, rec.topic, rec.key, sdata, headers)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bus.ErrRecordRefused), errors.Is(err, bus.ErrTopicUnusable):
		p.lost.Add(1)
		p.log.Error("reply not published even truncated; the outcome is only in the store (GET /admin/messages/{id})", "id", r.RequestID, "topic", rec.topic, "err", err)
		return nil
	default:
		return fmt.Errorf("pipeline: publish truncated reply to %s: %w", rec.topic, err)
	}
}

// maxKeptErrors bounds the errors a truncated reply keeps.
const maxKeptErrors = 20

// shrink returns r without its payload, with at most maxKeptErrors errors
// of bounded length and one more error (rule truncated) saying what was
// dropped and why, in Chinese first, then in English.
func shrink(r *message.Reply, why unfit) *message.Reply {
	s := *r
	s.Payload = nil
	// Fields copied from a malformed envelope may be anything.
	s.RequestID, s.Site, s.Type = cut(r.RequestID, 256), cut(r.Site, 256), cut(r.Type, 256)
	n := min(len(r.Errors), maxKeptErrors)
	s.Errors = make([]message.ReplyError, 0, n+1)
	for _, e := range r.Errors[:n] {
		e.Field, e.Message = cut(e.Field, 256), cut(e.Message, 1024)
		s.Errors = append(s.Errors, e)
	}
	if len(r.Warnings) > 0 {
		s.Warnings = make([]message.ReplyError, 0, min(len(r.Warnings), maxKeptErrors))
		for _, w := range r.Warnings[:min(len(r.Warnings), maxKeptErrors)] {
			w.Field, w.Message = cut(w.Field, 256), cut(w.Message, 1024)
			s.Warnings = append(s.Warnings, w)
		}
	}
	if s.External != nil {
		ext := *s.External
		ext.Message = cut(ext.Message, 1024)
		s.External = &ext
	}
	zh := cut(why.zh, 1024) + "，已去掉内容（payload）"
	msg := cut(why.en, 1024) + "; the payload was dropped"
	if len(r.Errors) > n {
		zh += fmt.Sprintf("，%d 条错误中略去 %d 条", len(r.Errors), len(r.Errors)-n)
		msg += fmt.Sprintf(" and %d of %d errors left out", len(r.Errors)-n, len(r.Errors))
	}
	zh += fmt.Sprintf("。完整回复已保存：GET /admin/messages/%s。", s.RequestID)
	msg += fmt.Sprintf(". The complete reply is stored: GET /admin/messages/%s", s.RequestID)
	s.Errors = append(s.Errors, message.ReplyError{Rule: "truncated", Message: zh + msg})
	return &s
}

// cut shortens s to at most n bytes without splitting a UTF-8 character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// storable returns s if the store can keep it as an envelope field of an
// invalid message (short text without control characters), or "".
func storable(s string) string {
	if len(s) > 256 || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return ""
	}
	return s
}

// dlqKey returns the key of in's DLQ record: in.Key, or, when the key as
// given (in.chain) was unusable and so left out of the reply and the
// store, its start made usable (usableKey) and true.
func dlqKey(in Input) (string, bool) {
	if in.Key != "" || in.chain == "" || message.CheckKey(in.chain) == nil {
		return in.Key, false
	}
	return usableKey(in.chain), true
}

// usableKey returns the start of key that message.CheckKey accepts: each
// invalid UTF-8 sequence and NUL replaced by U+FFFD, then cut to at most
// message.MaxKeyBytes without splitting a character.
func usableKey(key string) string {
	k := strings.ReplaceAll(strings.ToValidUTF8(key, "\uFFFD"), "\x00", "\uFFFD")
	if len(k) <= message.MaxKeyBytes {
		return k
	}
	n := message.MaxKeyBytes
	for n > 0 && !utf8.RuneStart(k[n]) {
		n--
	}
	return k[:n]
}

func (p *Processor) deadLetter(ctx context.Context, in Input, r *message.Reply, reason string) error {
	key, keyCut := dlqKey(in)
	dl := message.DeadLetter{Reason: cut(reason, 4096), Reply: r, Key: key, KeyCut: keyCut, At: p.now().UTC(), TraceID: in.TraceID}
	if json.Valid(in.Value) {
		dl.Request = in.Value
	} else {
		dl.RawText = strings.ToValidUTF8(cut(string(in.Value), 64<<10), "\uFFFD")
	}
	data, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("pipeline: encode DLQ record: %w", err)
	}
	headers := map[string]string{message.HeaderTraceID: in.TraceID, message.HeaderReason: cut(reason, 256)}
	var why unfit
	if len(data)+len(key) > p.opts.MaxRecordBytes {
		why = unfit{zh: fmt.Sprintf("死信记录 %d 字节，超过一条 Kafka 记录的上限 %d 字节", len(data), p.opts.MaxRecordBytes),
			en: fmt.Sprintf("the DLQ record is %d bytes, more than the %d a Kafka record may hold", len(data), p.opts.MaxRecordBytes)}
	} else {
		err := p.pub.Send(ctx, p.topics.DLQ, []byte(key), data, headers)
		switch {
		case err == nil:
			p.deadLettered(r)
			return nil
		case errors.Is(err, bus.ErrRecordRefused):
			why = unfit{zh: "Kafka 拒收了此死信记录", en: "Kafka refused the DLQ record: " + err.Error()}
		default:
			return fmt.Errorf("pipeline: publish to DLQ %s: %w", p.topics.DLQ, err)
		}
	}
	// Keep what identifies the message: its reply without payload and the
	// start of the request as text. The whole request is in the store.
	dl.Reply = shrink(r, why)
	dl.Request = nil
	dl.RawText = strings.ToValidUTF8(cut(string(in.Value), min(64<<10, p.opts.MaxRecordBytes/4)), "\uFFFD")
	dl.Truncated = true
	if data, err = json.Marshal(dl); err != nil {
		return fmt.Errorf("pipeline: encode truncated DLQ record: %w", err)
	}
	p.truncated.Add(1)
	p.log.Error("DLQ record published truncated; the full request and reply are in the store", "id", r.RequestID, "why", why.en)
	headers[message.HeaderTruncated] = "1"
	err = p.pub.Send(ctx, p.topics.DLQ, []byte(key), data, headers)
	switch {
	case err == nil:
		p.deadLettered(r)
		return nil
	case errors.Is(err, bus.ErrRecordRefused):
		p.lost.Add(1)
		p.log.Error("DLQ record not published even truncated; the message is only in the store", "id", r.RequestID, "err", err)
		return nil
	default:
		return fmt.Errorf("pipeline: publish truncated record to DLQ %s: %w", p.topics.DLQ, err)
	}
}

func (p *Processor) deadLettered(r *message.Reply) {
	if p.obs != nil {
		p.obs.DeadLettered(r.Type, r.Status)
	}
}

// query reports whether typ at site reaches an operation its plugin
// declares a pure query (sdk.Operation.Query).
func (rt *Routes) query(site, typ string) bool {
	t := rt.Sites[site][message.Plugin(typ)]
	return t != nil && t.Operations[typ].Query
}

// resendZH and resendEN end the reply to a message whose site, plugin or
// operation is not configured: its refusal is stored under its id, like
// any invalid outcome, so the same id sent again once the configuration is
// fixed gets that refusal again (and `medgate replay` refuses an invalid
// message): the message goes again under a new id. The replies said only
// to enable the plugin, and a platform that did so and resent got the
// stored refusal for good.
const (
	resendZH = "本条的拒绝已按其消息 ID 保存：配置好后请用新的消息 ID 重发。"
	resendEN = "This refusal is stored under the message's id: once that is configured, send the message again under a new id"
)

func (rt *Routes) resolve(site, typ string) (*Target, *message.ReplyError) {
	plugins, ok := rt.Sites[site]
	if !ok {
		known := make([]string, 0, len(rt.Sites))
		for s := range rt.Sites {
			known = append(known, s)
		}
		sort.Strings(known)
		return nil, &message.ReplyError{Field: "$.site", Rule: "unknown", Message: fmt.Sprintf("院区 %[1]q 未配置；已配置的院区：%[2]s。"+resendZH+"site %[1]q is not configured; known sites: %[2]s. "+resendEN, site, strings.Join(known, ", "))}
	}
	name := message.Plugin(typ)
	t, ok := plugins[name]
	if !ok {
		if rt.Disabled[site][name] {
			return nil, &message.ReplyError{Field: "$.type", Rule: "disabled", Message: fmt.Sprintf("插件 %[1]q 在院区 %[2]q 已停用，由管理员在院区配置中启用。"+resendZH+"plugin %[1]q is disabled for site %[2]q; an administrator enables it in the site configuration. "+resendEN, name, site)}
		}
		return nil, &message.ReplyError{Field: "$.type", Rule: "unknown", Message: fmt.Sprintf("院区 %[2]q 未启用插件 %[1]q，请检查消息类型或为院区启用该插件。"+resendZH+"no plugin %[1]q is enabled for site %[2]q; check the type or enable the plugin for the site. "+resendEN, name, site)}
	}
	if _, ok := t.Operations[typ]; !ok {
		ops := make([]string, 0, len(t.Operations))
		for o := range t.Operations {
			ops = append(ops, o)
		}
		sort.Strings(ops)
		return nil, &message.ReplyError{Field: "$.type", Rule: "unknown", Message: fmt.Sprintf("插件 %[1]q 没有操作 %[2]q；它提供：%[3]s。"+resendZH+"plugin %[1]q has no operation %[2]q; it offers: %[3]s. "+resendEN, name, typ, strings.Join(ops, ", "))}
	}
	return t, nil
}

// keyLocks serialises processing per business key inside one instance (the
// Kafka consumer already does; this also covers the HTTP ingress).
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	held chan struct{} // holds a token while the key is locked
	refs int
}

// lock waits until key is free and locks it, returning the unlock func;
// it gives up (nil, false) when ctx ends or, for a consumer's delivery,
// its partition is being released (bus.Released): a message waiting for
// its key is not in flight, and waiting on would hold the partition's
// release for the grace and past it (the key may be held by an HTTP
// message whose call takes long).
func (k *keyLocks) lock(ctx context.Context, key string) (unlock func(), ok bool) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	drop := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.held <- struct{}{}:
	case <-ctx.Done():
		drop()
		return nil, false
	case <-bus.Released(ctx):
		drop()
		return nil, false
	}
	return func() {
		<-l.held
		drop()
	}, true
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stackReserve is the stack room growStack makes for a message's path
// through Process: with the frames of the Kafka consumer's goroutine
// above it, that goroutine's stack grows to 16 KiB at once, which holds
// the deepest step of a message's path, SQLite's read of its record
// (TestProcessGrowsStackBeforeTheStore).
const stackReserve = 8 << 10

// growStack grows the calling goroutine's stack, if it has less than
// stackReserve free, in one copy while the stack is shallow. The Kafka
// consumer runs each key's messages on a goroutine of its own, which
// starts with the smallest stack (2 KiB); left to grow on demand, it was
// copied up to three times (to 4, 8 and 16 KiB), the last inside SQLite,
// where a copy walks and adjusts every frame: 2.5–2.7 % of the host's CPU
// samples in the bench's GYD051 row, 0.8 % with growStack (perf, both
// trees alternated, MEDGATE_BENCH_PROFILE). A goroutine whose stack
// is already large enough pays only for zeroing the array. i is 0; it is
// a parameter so that the compiler keeps the array.
//
//go:noinline
func growStack(i int) byte {
	var room [stackReserve]byte
	return room[i]
}
