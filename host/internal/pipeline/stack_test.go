package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// stackWatch is a store that counts the reads of a message record
// (GetMessage) during which the calling goroutine's stack was moved: the
// runtime copies a stack to a larger one when a call needs more room, and
// a local variable's address then changes.
type stackWatch struct {
	store.Store
	reads, moved atomic.Int32
}

func (s *stackWatch) GetMessage(ctx context.Context, id string) (*store.Message, error) {
	var anchor byte
	before := uintptr(unsafe.Pointer(&anchor))
	m, err := s.Store.GetMessage(ctx, id)
	if uintptr(unsafe.Pointer(&anchor)) != before {
		s.moved.Add(1)
	}
	s.reads.Add(1)
	return m, err
}

// TestProcessGrowsStackBeforeTheStore: the Kafka consumer runs each key's
// messages on a goroutine of its own, which starts with the smallest
// stack. Process gives it the room of a message's whole path at once
// (growStack), while the stack is shallow, so that SQLite's read of the
// message record (the stored-outcome check of a query, many frames deep)
// does not copy the stack two or three times on the way down. Before, the
// copies took about 2.5 % of the host's CPU per GYD051.
func TestProcessGrowsStackBeforeTheStore(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("the race detector's frames are larger than the room Process reserves; the check is for ordinary builds")
	}
	sw := &stackWatch{Store: openStore(t)}
	h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok, ok, ok, ok, ok}}
	p, _, _ := queryProc(t, sw, h)
	const n = 5
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := p.Process(t.Context(), Input{Value: msg(fmt.Sprint("q", i), "x.check"), Key: fmt.Sprint("k", i)})
			if err != nil || r.Status != message.StatusOK {
				t.Errorf("Process(q%d) = %+v, %v; want ok", i, r, err)
			}
		})
		wg.Wait() // one at a time: a fresh goroutine each, as the consumer's
	}
	if got := sw.reads.Load(); got != n {
		t.Fatalf("%d reads of a message record; want %d, one per query (the test no longer exercises the read)", got, n)
	}
	if moved := sw.moved.Load(); moved != 0 {
		t.Errorf("the goroutine's stack was copied to a larger one during %d of %d reads of the message record; "+
			"Process should reserve the room of the whole path when it starts (growStack, stackReserve)", moved, n)
	}
}
