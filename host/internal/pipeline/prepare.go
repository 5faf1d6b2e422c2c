package pipeline

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
)

// maxPrepared bounds the messages recorded ahead of their turn (see
// preparer); past it, messages are recorded in their turn as before.
const maxPrepared = 4096

// preparedTTL: a record prepared this long ago and not yet used is
// forgotten (its delivery was dropped by a rebalance, or it waits behind a
// message that keeps failing), at the latest when the next record is
// reserved after another preparedTTL, so that it does not keep its
// message's value in memory. Forgetting is safe: the message is then
// recorded in its turn, and finds its row pending.
const preparedTTL = time.Minute

// preparer keeps the messages whose store record (BeginMessage) was
// written ahead of their turn, in the transaction of the outcome of the
// previous message of their key (store.FinishAndBegin).
//
// Such a record is used only by the delivery it was written for, and only
// if no other Process call handled the same message id from the moment
// the record was reserved: a record that said "new" would otherwise be
// stale (the message may have been finished since by another delivery of
// it). So every Process call enters its id here before it reads or writes
// the store: entering drops a record prepared for another delivery, and a
// record is not reserved for an id that a Process call holds. A record is
// kept only when the write created the message; otherwise the delivery
// reads the stored message in its turn as before.
type preparer struct {
	mu     sync.Mutex
	active map[string]int       // message ids in Process calls
	m      map[string]*prepared // by message id
	owners map[*bus.Message]*prepared
	swept  time.Time    // when stale records were last forgotten
	used   atomic.Int64 // records used by their delivery (for tests)
}

type prepared struct {
	id    string
	owner *bus.Message // the delivery the record is for
	env   *message.Envelope
	at    time.Time
	ready bool // the record is committed and created the message
}

// drop forgets e. The caller holds mu.
func (pr *preparer) drop(e *prepared) {
	if pr.m[e.id] == e {
		delete(pr.m, e.id)
	}
	if pr.owners[e.owner] == e {
		delete(pr.owners, e.owner)
	}
}

// envelope returns the envelope parsed when the record of delivery cur was
// prepared, so that its Process call need not parse value again (value
// must be cur's own value), or nil.
func (pr *preparer) envelope(cur *bus.Message, value []byte) *message.Envelope {
	if cur == nil || len(value) == 0 || len(cur.Value) != len(value) || &cur.Value[0] != &value[0] {
		return nil
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if e := pr.owners[cur]; e != nil && e.ready {
		return e.env
	}
	return nil
}

// enter registers a Process call for message id, delivered as cur (nil
// outside the Kafka consumer). It reports whether the message's record
// was prepared for that very delivery (then the message is new and
// recorded with its first attempt, as BeginMessage would have made it).
// leave must be called when the Process call returns.
func (pr *preparer) enter(id string, cur *bus.Message) (ok bool, leave func()) {
	pr.mu.Lock()
	if pr.active == nil {
		pr.active = map[string]int{}
	}
	pr.active[id]++
	if e := pr.m[id]; e != nil {
		pr.drop(e)
		ok = e.ready && cur != nil && e.owner == cur
	}
	pr.mu.Unlock()
	if ok {
		pr.used.Add(1)
	}
	return ok, func() {
		pr.mu.Lock()
		if pr.active[id]--; pr.active[id] <= 0 {
			delete(pr.active, id)
		}
		pr.mu.Unlock()
	}
}

// reserve makes room for the record of message id for delivery owner,
// whose envelope is env, before it is written. It returns nil when the id
// is in a Process call or already reserved, or when there is no room.
func (pr *preparer) reserve(id string, owner *bus.Message, env *message.Envelope, now time.Time) *prepared {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.active[id] > 0 || pr.m[id] != nil {
		return nil
	}
	if pr.m == nil {
		pr.m, pr.owners = map[string]*prepared{}, map[*bus.Message]*prepared{}
	}
	if len(pr.m) >= maxPrepared || now.Sub(pr.swept) > preparedTTL {
		pr.swept = now
		for _, e := range pr.m {
			if now.Sub(e.at) > preparedTTL {
				pr.drop(e)
			}
		}
		if len(pr.m) >= maxPrepared {
			return nil
		}
	}
	if pr.owners[owner] != nil {
		return nil
	}
	e := &prepared{id: id, owner: owner, env: env, at: now}
	pr.m[id], pr.owners[owner] = e, e
	return e
}

// complete ends the write of e: kept (ready) if the write created the
// message and no Process call of the id came meanwhile, dropped otherwise.
func (pr *preparer) complete(id string, e *prepared, created bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.m[id] != e {
		return // a Process call of the id dropped it
	}
	if created {
		e.ready = true
	} else {
		pr.drop(e)
	}
}

// size returns the number of records prepared or being written (for tests).
func (pr *preparer) size() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if len(pr.owners) != len(pr.m) {
		return -1
	}
	return len(pr.m)
}
