package sdk

import (
	"context"
	"fmt"
)

// StateWrite is one write of [WriteState]: a compare-and-set of Key on
// Expect (0: the key must not exist), as Host.CompareAndSet, or with Put
// an unconditional write, as Host.Put.
type StateWrite struct {
	Key    string
	Value  []byte
	Expect int64
	Put    bool
}

// WriteError is the error of a [WriteState] that did not make every
// write: Index is the write that failed (-1: the host did not say) and
// Applied how many writes before it were made (-1: not known). Err is
// the failure; errors.Is(err, ErrConflict) when the write's expectation
// did not hold.
type WriteError struct {
	Index   int
	Applied int
	Err     error
}

func (e *WriteError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("state writes: %v", e.Err)
	}
	return fmt.Sprintf("state write %d: %v", e.Index+1, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// StateWriteHost is a Host that makes several state writes in one call.
// Call it through [WriteState].
type StateWriteHost interface {
	WriteState(ctx context.Context, writes []StateWrite) ([]int64, error)
}

// WriteState makes writes in order in one call to the host, instead of a
// Put or CompareAndSet call each, and returns their new versions. Use it
// for writes that go one after another anyway (a record of what is about
// to be sent and a mark on the case it belongs to): each call into the
// host is a round trip and, in medgate, a store commit.
//
// A host that can (medgate on its SQL stores) makes them in one
// transaction: every write or none. Otherwise (an older host, a test host)
// they are made one by one, in order, stopping at the first that fails.
// Either way the error of a write that failed is a [*WriteError] that
// names it and says how many writes before it were made (0 with a host
// that makes them in one transaction): write code that is correct when
// the writes are made one by one, as it was with Put and CompareAndSet,
// and let WriteError.Applied tell how far they went. More than 64 writes
// are always made one by one.
func WriteState(ctx context.Context, h Host, writes []StateWrite) ([]int64, error) {
	if wh, ok := h.(StateWriteHost); ok {
		return wh.WriteState(ctx, writes)
	}
	return writeOneByOne(ctx, h, writes)
}

// maxStateWrites is the most writes one Host.StateWrite call carries
// (sdkhost.MaxStateWrites).
const maxStateWrites = 64

// writeOneByOne is WriteState with a Put or CompareAndSet call per write.
func writeOneByOne(ctx context.Context, h Host, writes []StateWrite) ([]int64, error) {
	out := make([]int64, len(writes))
	for i, w := range writes {
		var err error
		if w.Put {
			out[i], err = h.Put(ctx, w.Key, w.Value)
		} else {
			out[i], err = h.CompareAndSet(ctx, w.Key, w.Expect, w.Value)
		}
		if err != nil {
			return nil, &WriteError{Index: i, Applied: i, Err: err}
		}
	}
	return out, nil
}
