// Package hostsvc implements the host services a plugin calls back into
// (sdkhost.HostServer): per-plugin, per-site state and sequences in the
// store, events on the events topic and the exchange journal. A plugin
// process reaches them through pluginhost, which first refuses every call
// for a site the plugin does not serve (pluginhost.SiteError).
//
// What a plugin writes is bounded by its Limits (SetLimits, from the
// configuration's pluginLimits and plugins[].limits): events, journal
// entries and state writes (each Put, CompareAndSet and WriteState) by a
// token bucket per plugin in this instance, and with the perSite limits
// one per site under it, state values by size. A write
// past them is refused with a *LimitError, which fails the plugin's call
// so that its message is tried again, never dropped; the pipeline's own
// replies are not limited. A plugin's refusals at a site are logged once
// a minute at most and counted each (SetRefusals).
package hostsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// Services are the host services shared by every plugin. Events can be
// published once SetPublisher has connected Kafka.
type Services struct {
	store  store.Store
	events string

	mu  sync.Mutex
	pub Publisher
	out Outbounder

	jmu      sync.Mutex
	deferred map[deferKey]*heldJournal // journal entries held for a message's outcome

	lmu      sync.Mutex
	limiters map[string]*limiter // by plugin (see SetLimits)
	log      *slog.Logger
	refused  func(plugin, limit string)
	now      func() time.Time // the buckets' clock (tests); nil: time.Now
}

// MaxHeldJournal bounds, in bytes, the journal entries Defer holds for one
// message (requests, responses and the other fields of each entry). An
// entry that would pass it, and every later one of the message, is stored
// at once, as without Defer: a plugin journaling in a loop while it
// handles a message fills the store, never the host's memory.
const MaxHeldJournal = 16 << 20

// heldJournal is what Defer holds for one message.
type heldJournal struct {
	entries []store.Exchange
	size    int  // bytes of entries, as counted by exchangeSize
	full    bool // an entry did not fit: hold no more
}

// exchangeSize is what e costs to hold, near enough.
func exchangeSize(e store.Exchange) int {
	return len(e.MessageID) + len(e.Plugin) + len(e.Site) + len(e.System) + len(e.Code) + len(e.Serial) +
		len(e.Request) + len(e.Response) + len(e.Status) + len(e.Error) + 128
}

// SequenceBlock is how many values NextSequenceGaps reserves for a plugin
// at a time: one store write per this many values, and at most this many
// values skipped per counter when the plugin process stops.
const SequenceBlock = 100

// deferKey names a message being handled by one plugin.
type deferKey struct{ plugin, message string }

// Defer holds the journal entries plugin makes for message id from now
// until take is called, instead of storing each as it comes: take returns
// them, and the caller stores them no later than the message's outcome
// (store.FinishMessage takes them into the outcome's transaction). So a
// journal entry costs the plugin no store write and no fsync while it
// handles the message. Entries made after take (a plugin still working
// after its call timed out) are stored at once, as are entries of any
// other message and those past MaxHeldJournal.
//
// The pipeline calls Defer around each plugin call; one message is handled
// at a time per key in an instance, so a message has one Defer at a time.
func (s *Services) Defer(plugin, id string) (take func() []store.Exchange) {
	k := deferKey{plugin, id}
	held := new(heldJournal)
	s.jmu.Lock()
	if s.deferred == nil {
		s.deferred = map[deferKey]*heldJournal{}
	}
	s.deferred[k] = held
	s.jmu.Unlock()
	return func() []store.Exchange {
		s.jmu.Lock()
		defer s.jmu.Unlock()
		if s.deferred[k] == held {
			delete(s.deferred, k)
		}
		out := held.entries
		*held = heldJournal{}
		return out
	}
}

// hold keeps e for its message's outcome if Defer holds that message and
// MaxHeldJournal leaves room for it, and reports whether it did.
func (s *Services) hold(e store.Exchange) bool {
	if e.MessageID == "" {
		return false
	}
	s.jmu.Lock()
	defer s.jmu.Unlock()
	held := s.deferred[deferKey{e.Plugin, e.MessageID}]
	if held == nil || held.full {
		return false
	}
	n := exchangeSize(e)
	if held.size+n > MaxHeldJournal {
		held.full = true
		return false
	}
	held.entries = append(held.entries, e)
	held.size += n
	return true
}

// Outbounder maps an event into the site's platform format (a
// *mapping.Mappings): it returns the value to publish and sets headers to
// say which format and mapping it is in, or returns doc unchanged.
type Outbounder interface {
	Outbound(kind, site, typ string, doc []byte, headers map[string]string) []byte
}

// SetOutbound maps events through o before they are published.
func (s *Services) SetOutbound(o Outbounder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = o
}

// Publisher writes a record to Kafka (a *bus.Producer).
type Publisher interface {
	Send(ctx context.Context, topic string, key, value []byte, headers map[string]string) error
}

// New returns the services over st, publishing events to the events topic.
func New(st store.Store, events string) *Services {
	return &Services{store: st, events: events}
}

// SetPublisher connects the events to Kafka.
func (s *Services) SetPublisher(p Publisher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub = p
}

func (s *Services) publisher() Publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// For returns the services as plugin sees them: state is namespaced
// "<plugin>/<site>", events go to the events topic, journal entries to the
// store.
func (s *Services) For(plugin string) sdkhost.HostServer {
	return &hostServices{plugin: plugin, s: s}
}

// hostServices implements sdkhost.HostServer for one plugin.
type hostServices struct {
	plugin string
	s      *Services
}

func (h *hostServices) ns(site string) string { return h.plugin + "/" + site }

func mapErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sdk.ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return sdk.ErrConflict
	}
	return err
}

func (h *hostServices) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	e, err := h.s.store.StateGet(ctx, h.ns(site), key)
	if err != nil {
		return sdk.Entry{}, mapErr(err)
	}
	return sdk.Entry{Key: e.Key, Value: e.Value, Version: e.Version}, nil
}

func (h *hostServices) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	if err := h.checkState(site, value); err != nil {
		return 0, err
	}
	v, err := h.s.store.StatePut(ctx, h.ns(site), key, value)
	return v, mapErr(err)
}

func (h *hostServices) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if err := h.checkState(site, value); err != nil {
		return 0, err
	}
	v, err := h.s.store.StateCAS(ctx, h.ns(site), key, expect, value)
	return v, mapErr(err)
}

// Scan answers a scan asked for whole (sdk.Host.Scan of a plugin built
// before paged scans, or a host-side caller): it reads the store page by
// page (see ScanPage) and gives up once the entries pass MaxWholeScan,
// more than the plugin could receive in one answer, with an error saying
// so instead of reading the rest into the host's memory.
func (h *hostServices) Scan(ctx context.Context, site, prefix string, limit int) ([]sdk.Entry, error) {
	return h.whole(ctx, site, prefix, limit, nil)
}

// whole reads a scan whole, page by page, up to MaxWholeScan bytes.
func (h *hostServices) whole(ctx context.Context, site, prefix string, limit int, known map[string]int64) ([]sdk.Entry, error) {
	es, more, err := h.page(ctx, site, prefix, "", limit, known, MaxWholeScan)
	if err != nil {
		return nil, err
	}
	if more {
		return nil, status.Errorf(codes.ResourceExhausted,
			"state scan of plugin %q at site %q, prefix %q: the entries pass %d bytes (hostsvc.MaxWholeScan), more than the plugin can receive in one answer, so the host refused to read them whole; "+
				"rebuild the plugin with a current medgate SDK (it reads a scan page by page), or scan a narrower prefix or with a limit",
			h.plugin, site, prefix, MaxWholeScan)
	}
	return es, nil
}

// ScanPageBytes bounds one page of a paged scan (sdkhost.PagedScanServer,
// what the SDK asks for): the keys and values of its entries take at most
// this many bytes, or it is a single entry. The host holds no more than
// one page and one batch of store reads (at most scanBatch entries) per
// scan call, however large the namespace.
const ScanPageBytes = 1 << 20

// MaxWholeScan bounds, in bytes of keys and values, a scan asked for
// whole (Scan, a plugin built before paged scans): gRPC's default limit
// on what a plugin receives in one answer (4 MiB), less room for the
// answer's framing. Such a scan failed at the plugin before; now the host
// stops reading at this bound and says why.
const MaxWholeScan = 4<<20 - 64<<10

// scanBatch is the most entries one store read of a scan asks for.
const scanBatch = 64

// entrySize is what an entry costs in a scan's answer, near enough.
func entrySize(e sdk.Entry) int { return len(e.Key) + len(e.Value) + 16 }

// stateScanner is a store that reads a prefix after a key (store.SQLite
// and store.Postgres): a scan is read page by page.
type stateScanner interface {
	StateScanAfter(ctx context.Context, ns, prefix, after string, limit int) ([]store.StateEntry, error)
}

// stateKeyLister is a store that reads keys and versions without values
// (store.SQLite and store.Postgres).
type stateKeyLister interface {
	StateKeysAfter(ctx context.Context, ns, prefix, after string, limit int) ([]store.StateEntry, error)
}

// ScanPage implements sdkhost.PagedScanServer: the entries under prefix
// after the key after, in key order, up to limit (0: no limit) and
// ScanPageBytes; more says entries may follow the last one. Entries whose
// version is known[key] come without their value (see ScanKnown).
func (h *hostServices) ScanPage(ctx context.Context, site, prefix, after string, limit int, known map[string]int64) ([]sdk.Entry, bool, error) {
	return h.page(ctx, site, prefix, after, limit, known, ScanPageBytes)
}

// page reads entries under prefix after after, in key order, batch by
// batch from the store, until limit (0: none), budget bytes (entrySize)
// or the last entry; more says entries may follow. A page has at least
// one entry unless none is left. A store that cannot read after a key is
// scanned whole, as before pages.
func (h *hostServices) page(ctx context.Context, site, prefix, after string, limit int, known map[string]int64, budget int) (out []sdk.Entry, more bool, err error) {
	ns := h.ns(site)
	read, ok := h.reader(ns, prefix, known)
	if !ok {
		es, err := h.scanAll(ctx, ns, prefix, limit, known)
		return es, false, err
	}
	size, largest, n := 0, 1, scanBatch
	for {
		if limit > 0 {
			n = min(n, limit-len(out))
		}
		es, listed, last, err := read(ctx, after, n)
		if err != nil {
			return nil, false, mapErr(err)
		}
		for _, e := range es {
			c := entrySize(e)
			if len(out) > 0 && size+c > budget {
				return out, true, nil // the rest is read again for the next page
			}
			out = append(out, e)
			size += c
			largest = max(largest, c)
		}
		switch {
		case listed < n, limit > 0 && len(out) >= limit:
			return out, false, nil
		case size >= budget:
			return out, true, nil
		}
		after = last
		// Ask for about as many entries as the page has room for, by
		// the largest seen so far: a batch read for nothing is small.
		n = min(scanBatch, max(1, (budget-size)/largest+1))
	}
}

// reader returns how page reads ns under prefix: n entries listed after a
// key, those known at their version without value; listed is how many
// keys the store listed (fewer than n: the end), last the last of them.
func (h *hostServices) reader(ns, prefix string, known map[string]int64) (func(ctx context.Context, after string, n int) (es []sdk.Entry, listed int, last string, err error), bool) {
	if kl, ok := h.s.store.(stateKeyLister); ok && len(known) > 0 {
		return func(ctx context.Context, after string, n int) ([]sdk.Entry, int, string, error) {
			ks, err := kl.StateKeysAfter(ctx, ns, prefix, after, n)
			if err != nil || len(ks) == 0 {
				return nil, 0, after, err
			}
			out := make([]sdk.Entry, 0, len(ks))
			for _, k := range ks {
				if v, ok := known[k.Key]; ok && v == k.Version {
					out = append(out, sdk.Entry{Key: k.Key, Version: k.Version})
					continue
				}
				e, err := h.s.store.StateGet(ctx, ns, k.Key)
				if errors.Is(err, store.ErrNotFound) {
					continue // deleted since it was listed
				}
				if err != nil {
					return nil, 0, "", err
				}
				out = append(out, sdk.Entry{Key: e.Key, Value: e.Value, Version: e.Version})
			}
			return out, len(ks), ks[len(ks)-1].Key, nil
		}, true
	}
	if sc, ok := h.s.store.(stateScanner); ok {
		return func(ctx context.Context, after string, n int) ([]sdk.Entry, int, string, error) {
			es, err := sc.StateScanAfter(ctx, ns, prefix, after, n)
			if err != nil || len(es) == 0 {
				return nil, 0, after, err
			}
			return entries(es), len(es), es[len(es)-1].Key, nil
		}, true
	}
	return nil, false
}

// scanAll scans a store that cannot read after a key: whole.
func (h *hostServices) scanAll(ctx context.Context, ns, prefix string, limit int, known map[string]int64) ([]sdk.Entry, error) {
	es, err := h.s.store.StateScan(ctx, ns, prefix, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	out := entries(es)
	for i, e := range out {
		if v, ok := known[e.Key]; ok && v == e.Version {
			out[i].Value = nil
		}
	}
	return out, nil
}

func entries(es []store.StateEntry) []sdk.Entry {
	out := make([]sdk.Entry, len(es))
	for i, e := range es {
		out[i] = sdk.Entry{Key: e.Key, Value: e.Value, Version: e.Version}
	}
	return out
}

// ScanKnown implements sdkhost.KnownScanServer (sdk.ScanKnown): it lists
// the keys and versions under prefix and reads only the values the plugin
// does not hold at that version, one StateGet each. An entry deleted
// between the two reads is left out, as a scan a moment later would;
// one written in between comes at its new version. Each entry is as
// consistent as a Get (a scan's entries were never one snapshot to the
// plugin either: it reads them while others may write). A store that
// cannot list keys is scanned whole. Like Scan, it reads page by page and
// gives up past MaxWholeScan bytes.
func (h *hostServices) ScanKnown(ctx context.Context, site, prefix string, limit int, known map[string]int64) ([]sdk.Entry, error) {
	return h.whole(ctx, site, prefix, limit, known)
}

// stateWriter is a store that makes several state writes in one
// transaction (store.SQLite and store.Postgres).
type stateWriter interface {
	StateWrites(ctx context.Context, ns string, writes []store.StateWrite) ([]int64, error)
}

// WriteState implements sdkhost.StateWriteServer (sdk.WriteState): the
// writes are made in one transaction of the store, every one or none; a
// write whose expected version does not hold is an *sdk.WriteError with
// its index and nothing made. A store without StateWrites gets them one by
// one. A value larger than the plugin's Limits refuses them all, before
// any is made, and so does the plugin's state-write rate (the call takes
// one token: see Limits.StateWritesPerSecond).
func (h *hostServices) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	for _, w := range writes {
		if err := h.checkValues(site, w.Value); err != nil {
			return nil, err
		}
	}
	if err := h.allowState(site); err != nil {
		return nil, err
	}
	sw, ok := h.s.store.(stateWriter)
	if !ok {
		return sdkhost.WriteOneByOne(ctx, h, site, writes)
	}
	ws := make([]store.StateWrite, len(writes))
	for i, w := range writes {
		ws[i] = store.StateWrite{Key: w.Key, Value: w.Value, Expect: w.Expect, Put: w.Put}
	}
	vs, err := sw.StateWrites(ctx, h.ns(site), ws)
	var c *store.StateWriteConflict
	if errors.As(err, &c) {
		return nil, &sdk.WriteError{Index: c.Index, Applied: 0, Err: sdk.ErrConflict}
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return vs, nil
}

func (h *hostServices) Delete(ctx context.Context, site, key string) error {
	return mapErr(h.s.store.StateDelete(ctx, h.ns(site), key))
}

func (h *hostServices) NextSequence(ctx context.Context, site, name string) (int64, error) {
	return h.s.store.NextSequence(ctx, h.ns(site)+"/"+name)
}

// NextSequenceGaps implements sdkhost.GapSequenceServer: it reserves a
// block of SequenceBlock values of the counter in the store (one write),
// which the plugin hands out itself. See sdk.NextSequenceGaps for what
// callers get.
func (h *hostServices) NextSequenceGaps(ctx context.Context, site, name string) (first, last int64, err error) {
	last, err = h.s.store.ReserveSequence(ctx, h.ns(site)+"/"+name, SequenceBlock)
	if err != nil {
		return 0, 0, mapErr(err)
	}
	return last - SequenceBlock + 1, last, nil
}

// Publish publishes e on the events topic, within the plugin's Limits
// (PublishPerSecond): a refused event is a *LimitError and is not sent.
func (h *hostServices) Publish(ctx context.Context, site string, e sdk.Event) error {
	if e.Type == "" {
		return fmt.Errorf("publish: event type is required")
	}
	pub := h.s.publisher()
	if pub == nil {
		return fmt.Errorf("publish %s: Kafka is not connected yet; publish from Handle or RunJob, not Configure", e.Type)
	}
	if e.ID == "" {
		e.ID = newID()
	}
	var payload json.RawMessage
	if len(e.Payload) > 0 {
		if !json.Valid(e.Payload) {
			return fmt.Errorf("publish %s: payload is not JSON", e.Type)
		}
		payload = e.Payload
	}
	if len(payload) > sdk.MaxEventPayloadBytes {
		return status.Errorf(codes.ResourceExhausted,
			"event %s of plugin %q at site %q: its payload of %d bytes is larger than max %d bytes (sdk.MaxEventPayloadBytes), what a record of the events topic takes with the event's envelope: refused, nothing sent; keep large data in an artifact (PutArtifact) and only its reference in the event",
			e.Type, h.plugin, site, len(payload), sdk.MaxEventPayloadBytes)
	}
	if err := h.allow(site, writeEvent, func() string { return "event " + e.Type }); err != nil {
		return err
	}
	rec := message.Event{ID: e.ID, Site: site, Type: e.Type, Key: e.Key, OccurredAt: e.OccurredAt, PublishedAt: time.Now().UTC(), Payload: payload}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	headers := map[string]string{message.HeaderType: e.Type, message.HeaderEventID: e.ID, message.HeaderPlugin: h.plugin}
	for k, v := range e.Headers {
		headers[k] = v
	}
	h.s.mu.Lock()
	out := h.s.out
	h.s.mu.Unlock()
	if out != nil {
		data = out.Outbound("event", site, e.Type, data, headers)
	}
	key := e.Key
	if key == "" {
		key = e.ID
	}
	err = pub.Send(ctx, h.s.events, []byte(key), data, headers)
	if errors.Is(err, bus.ErrRecordRefused) {
		// "larger than max" makes the SDK report sdk.ErrTooLarge, so the
		// plugin can tell an event that will never fit from a passing
		// failure of Kafka.
		return status.Errorf(codes.ResourceExhausted,
			"event %s of plugin %q at site %q: its record (%d bytes with key and headers) is larger than max %d bytes the events topic %q takes (less if the topic's max.message.bytes is lower), or the broker refused it as invalid: refused, nothing sent; keep large data in an artifact (PutArtifact) and only its reference in the event (sdk.MaxEventPayloadBytes): %v",
			e.Type, h.plugin, site, len(key)+len(data)+headerBytes(headers), bus.MaxRecordBytes, h.s.events, err)
	}
	return err
}

// headerBytes is the size of headers' keys and values.
func headerBytes(headers map[string]string) int {
	n := 0
	for k, v := range headers {
		n += len(k) + len(v)
	}
	return n
}

// Journal stores x, or holds it for the outcome of the message being
// handled (see Services.Defer; up to MaxHeldJournal): then it returns id 0
// at once, and the entry is stored in the transaction of the message's
// outcome. Entries beyond the plugin's Limits (JournalPerSecond) are
// refused with a *LimitError.
func (h *hostServices) Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error) {
	if err := h.allow(site, writeJournal, func() string { return "journal entry of a " + x.System + " " + x.Code + " exchange" }); err != nil {
		return 0, err
	}
	e := store.Exchange{
		MessageID: x.MessageID, Plugin: h.plugin, Site: site, System: x.System, Code: x.Code, Serial: x.Serial,
		Request: x.Request, Response: x.Response, Status: x.Status, Error: x.Error,
		DurationMS: x.Duration.Milliseconds(), At: time.Now().UTC(),
	}
	if h.s.hold(e) {
		return 0, nil
	}
	return h.s.store.AppendExchange(ctx, e)
}

var (
	_ sdkhost.HostServer        = (*hostServices)(nil)
	_ sdkhost.GapSequenceServer = (*hostServices)(nil)
	_ sdkhost.KnownScanServer   = (*hostServices)(nil)
	_ sdkhost.StateWriteServer  = (*hostServices)(nil)
	_ sdkhost.PagedScanServer   = (*hostServices)(nil)
	_ stateScanner              = (*store.SQLite)(nil)
	_ stateScanner              = (*store.Postgres)(nil)
	_ stateWriter               = (*store.SQLite)(nil)
	_ stateWriter               = (*store.Postgres)(nil)
	_ stateKeyLister            = (*store.SQLite)(nil)
	_ stateKeyLister            = (*store.Postgres)(nil)
)

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
