// Package store is medgate's durable state: processed messages and their
// replies (the idempotency table), the exchange journal of every external
// call, plugin state namespaced by plugin and site, download batches, job
// leases and named sequences.
//
// One interface, two engines: SQLite (modernc.org/sqlite, the embedded
// default) and PostgreSQL (github.com/jackc/pgx/v5, for several instances).
// Both run the same versioned migrations at Open and pass the same
// conformance suite (storetest).
//
// A write the database refuses for a cause that lasts (its disk full, its
// files or server read-only, writing to disk failing) fails with an error
// holding ErrRefused that names the cause, where, and the fix; Ping reports
// it for RefusalWindow, WithRefusals hears of it, and the same write
// succeeds once the cause is gone, without reopening the store.
//
// Times are kept to the microsecond and returned in UTC. Prefixes
// (StateScan, ListMessages, SearchMessages) are literal and keys sort in
// byte order on both engines, whatever a PostgreSQL database's default
// collation (the columns they scan are COLLATE "C").
package store

import (
	"context"
	"errors"
	"time"
)

// Message statuses kept in the messages table.
const (
	// StatusPending: the message was accepted and the plugin may have been
	// called; its outcome is not yet known. A redelivered message found in
	// this state must be reconciled by the plugin before any resend.
	StatusPending = "pending"
	// StatusDone: the outcome (reply) is stored; redeliveries get it back.
	StatusDone = "done"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrClosed is returned, wrapped, by every method of a store after its
// Close (and by a write Close interrupted, which was not committed):
// the instance is shutting down, and a request that needed the store can
// be sent again, to this instance once it is back or to another.
var ErrClosed = errors.New("the store is closed")

// ErrConflict is returned by compare-and-set operations whose expectation
// did not hold.
var ErrConflict = errors.New("conflict")

// Message is one request message and, once finished, its outcome.
type Message struct {
	ID         string    // the request id: the idempotency key
	Site       string    // site code
	Type       string    // "<plugin>.<operation>"
	Key        string    // business key (Kafka key)
	Status     string    // StatusPending or StatusDone
	Outcome    string    // ok | invalid | rejected | failed ("" while pending)
	Reply      []byte    // the reply JSON as published (nil while pending)
	Attempts   int       // plugin calls made so far
	OccurredAt time.Time // business event time (zero if unknown)
	Request    []byte    // the request as received (kept for replay)
	ReceivedAt time.Time // first time medgate saw the message
	UpdatedAt  time.Time
}

// Exchange is one call to an external system, as sent and as received.
type Exchange struct {
	ID         int64 // assigned by the store
	MessageID  string
	Plugin     string
	Site       string
	System     string // external system name, e.g. "workinjury"
	Code       string // transaction code, e.g. "GYU101"
	Serial     string // the external message serial (msgid), used to reconcile
	Request    []byte // as sent
	Response   []byte // as received (nil if none)
	Status     string // ok | rejected | error | unknown
	Error      string
	DurationMS int64
	At         time.Time
}

// ExchangeFilter selects journal entries. Zero fields do not filter.
type ExchangeFilter struct {
	Plugin, Site, Code, Serial, MessageID string
	From, To                              time.Time // From inclusive, To exclusive
	Limit                                 int       // 0 means 100
}

// MessageQuery selects messages for a search. Zero fields do not filter.
type MessageQuery struct {
	// IDPrefix selects ids starting with it (a whole id selects that message).
	IDPrefix string
	// Key is the business key, exactly.
	Key string
	// TypePrefix selects types starting with it ("ecard." or "ecard.scan").
	TypePrefix string
	Site       string
	// Sites, when not empty, selects messages of any of these sites (a
	// user's several sites, or some of them); with Site, both must hold.
	Sites []string
	// Status is "pending" or an outcome (ok, invalid, rejected, failed).
	Status string
	// From (inclusive) and To (exclusive) bound the received time.
	From, To time.Time
	// After is the cursor a previous page returned.
	After string
	// Limit is the page size; 0 means 100.
	Limit int
}

// StateEntry is one plugin state value with its version (starting at 1).
type StateEntry struct {
	Key     string
	Value   []byte
	Version int64
}

// Batch is one download batch of a scheduled job (work-injury GYD001 etc.).
// Step records how far the download workflow got so it can resume after a crash;
// "done" marks it finished: OpenBatches leaves it out, and Prune deletes it
// once it is older than the messages' retention.
type Batch struct {
	Plugin, Site, Job string
	BatchID           string
	Step              string // plugin-defined: fetched, published, acknowledged, done
	Payload           []byte
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Store is implemented by the SQLite and PostgreSQL engines. All methods are
// safe for concurrent use.
type Store interface {
	// BeginMessage records m as pending if its id is new and returns
	// (nil, true). If the id exists it returns the stored record and false,
	// whatever its status; the caller decides (replay the reply if done,
	// reconcile if pending). It increments nothing. A new message starts
	// with m.Attempts attempts (not below 0): a caller about to make the
	// first call records it here rather than with AddAttempt, one write
	// less. A zero ReceivedAt means now.
	BeginMessage(ctx context.Context, m Message) (existing *Message, created bool, err error)
	// GetMessage returns a message by id or ErrNotFound.
	GetMessage(ctx context.Context, id string) (*Message, error)
	// AddAttempt increments the attempt counter of a pending message and returns the new count.
	// It returns ErrNotFound for an unknown id and ErrConflict for a done message.
	AddAttempt(ctx context.Context, id string) (int, error)
	// FinishMessage stores the outcome (not empty) and reply and marks the message done;
	// ErrNotFound for an unknown id. The journal entries given are stored in
	// the same transaction: they are durable exactly when the outcome is
	// (on ErrNotFound neither is stored).
	FinishMessage(ctx context.Context, id, outcome string, reply []byte, attempts int, journal ...Exchange) error
	// FinishAndBegin is FinishMessage of id (without journal entries)
	// followed by BeginMessage of next, in one transaction: one commit
	// (one fsync on SQLite) instead of two. The pipeline uses it for the
	// next message of the same key. Both are stored or neither: on any
	// error, next is not recorded either. next.ID must differ from id.
	FinishAndBegin(ctx context.Context, id, outcome string, reply []byte, attempts int, next Message) (existing *Message, created bool, err error)
	// RecordFinished records m, a message that was never begun, together
	// with its outcome (m.Outcome, not empty), reply and attempts, as done:
	// one write where BeginMessage and FinishMessage make two. The pipeline
	// uses it for operations a plugin declares pure queries, which need no
	// pending record before the call. If m.ID is new it returns nil. If the
	// id exists, whatever its status, the stored record is left as it is
	// and returned: the caller replays the reply of a done one, and leaves
	// a pending one to the delivery that began it. The journal entries
	// given are stored in the same transaction in either case (the calls
	// they record were made). A zero ReceivedAt means now.
	RecordFinished(ctx context.Context, m Message, journal ...Exchange) (existing *Message, err error)
	// ReopenMessage makes a message whose outcome is failed pending again
	// and returns it (with its stored request), so it can be replayed: the
	// next delivery calls the plugin with Recovering set. Any other message
	// gives ErrConflict, an unknown id ErrNotFound.
	ReopenMessage(ctx context.Context, id string) (*Message, error)
	// RestoreFailed undoes a reopen whose replay did not go out: it makes
	// reopened, a message as ReopenMessage returned it, done again with
	// its failed outcome and reply (which the reopen kept), but only if
	// the message is still exactly as the reopen left it: pending, with
	// the same attempts and not updated since. It reports whether it did.
	// false means the message moved on and is left as it is: a delivery
	// took it up (an attempt counted) or finished it, or it was finished
	// and reopened again; the caller must not overwrite such an outcome.
	RestoreFailed(ctx context.Context, reopened *Message) (restored bool, err error)
	// Prune deletes finished messages whose outcome is ok, invalid or
	// rejected and that were last updated before messagesBefore, and journal
	// entries older than exchangesBefore. Pending and failed messages are
	// never pruned (they are unfinished or replayable). Download batches
	// whose step is "done" (OpenBatches no longer returns them) and that
	// were last updated before messagesBefore go too; open ones never do.
	// A zero time skips that table. It deletes in small batches, each its own transaction,
	// so that a write of the message path waits for one batch at most,
	// never for the whole prune, and stops between batches when ctx
	// ends. It returns how many rows went from each.
	Prune(ctx context.Context, messagesBefore, exchangesBefore time.Time) (messages, exchanges int64, err error)
	// OldestPending returns the occurredAt (or receivedAt when occurredAt is
	// zero) of the oldest pending message, and false if none is pending.
	OldestPending(ctx context.Context) (time.Time, bool, error)
	// ListMessages returns the newest messages first, optionally filtered by
	// site, type prefix and outcome: "pending" selects the messages not
	// finished (StatusPending), any other value the finished ones with
	// that outcome; limit 0 means 100.
	ListMessages(ctx context.Context, site, typePrefix, outcome string, limit int) ([]Message, error)
	// SearchMessages returns one page of the messages q selects, newest
	// first (received time, then id), and the cursor of the next page
	// ("" when this is the last).
	SearchMessages(ctx context.Context, q MessageQuery) (msgs []Message, next string, err error)
	// CountMessages returns the number of stored messages by outcome ("" for pending).
	CountMessages(ctx context.Context) (map[string]int, error)

	// AppendExchange adds a journal entry and returns its id (a zero At means now).
	AppendExchange(ctx context.Context, e Exchange) (int64, error)
	// ListExchanges returns journal entries, newest first.
	ListExchanges(ctx context.Context, f ExchangeFilter) ([]Exchange, error)

	// State is namespaced: ns is "<plugin>/<site>".
	StateGet(ctx context.Context, ns, key string) (StateEntry, error) // ErrNotFound
	// StatePut writes unconditionally and returns the new version.
	StatePut(ctx context.Context, ns, key string, value []byte) (int64, error)
	// StateCAS writes only if the current version equals expect (0 = must
	// not exist). It returns the new version, or ErrConflict.
	StateCAS(ctx context.Context, ns, key string, expect int64, value []byte) (int64, error)
	// StateScan returns the entries whose key starts with prefix, in key
	// order; limit 0 means no limit.
	StateScan(ctx context.Context, ns, prefix string, limit int) ([]StateEntry, error)
	// StateDelete removes a key; deleting a missing key is not an error.
	StateDelete(ctx context.Context, ns, key string) error

	// PutBatch inserts or updates a download batch (keyed by plugin, site, job, batch id).
	// CreatedAt is kept from the first put (a zero one means now); UpdatedAt is set to now.
	PutBatch(ctx context.Context, b Batch) error
	// OpenBatches returns the batches of a job whose step is not "done", oldest first.
	OpenBatches(ctx context.Context, plugin, site, job string) ([]Batch, error)

	// AcquireLease takes or renews the named lease for holder until now+ttl.
	// It succeeds if the lease is free, expired (expiry <= now) or already held by holder.
	// expires is when the lease expires: now+ttl when held is true, else the
	// current holder's expiry (the first moment it may be taken), or the
	// zero time if that holder released it meanwhile.
	//
	// now is the caller's clock. PostgreSQL, shared by several instances
	// whose clocks may disagree, sets and compares expiries on the
	// database's clock instead (the lease lasts ttl from the statement),
	// and reports another holder's expiry on the caller's clock: now plus
	// the time the lease has left. SQLite uses now.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (held bool, expires time.Time, err error)
	// ReleaseLease frees the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// NextSequence atomically increments and returns the named counter
	// (the first value is 1). Safe across several instances.
	NextSequence(ctx context.Context, name string) (int64, error)
	// ReserveSequence adds n (at least 1) to the named counter at once and
	// returns its new value, last: the values last-n+1 … last are the
	// caller's alone, whichever instance draws next.
	ReserveSequence(ctx context.Context, name string, n int64) (last int64, err error)

	// Console users and the append-only audit log (access.go).
	accessStore

	// Ping checks the connection (for /readyz), and reports a write the
	// database refused (ErrRefused: disk full, read-only, I/O error)
	// within the last RefusalWindow, with its cause and fix.
	Ping(ctx context.Context) error
	// Close releases the engine.
	Close() error
}
