package sdkhost_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// callRoom is the stack a call's Handle uses below its entry in
// TestHandleStreamCallsStartWithRoom, about what a work-injury call
// needs (its SM2/SM4 sealing, JSON and HTTP client).
const callRoom = 6 << 10

// deepCall uses callRoom bytes of stack.
//
//go:noinline
func deepCall(i int) byte {
	var b [callRoom]byte
	return b[i]
}

// stackProbe is a plugin whose Handle counts the calls during which its
// goroutine's stack was copied to a larger one (a local variable's
// address changes then) while it used callRoom of stack. Every call
// waits until all of them have started, so that calls beyond the
// stream's workers run on goroutines of their own.
type stackProbe struct {
	*echo
	all          sync.WaitGroup
	calls, moved atomic.Int32
}

func (p *stackProbe) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	p.all.Done()
	p.all.Wait()
	var anchor byte
	before := uintptr(unsafe.Pointer(&anchor))
	deepCall(0)
	if uintptr(unsafe.Pointer(&anchor)) != before {
		p.moved.Add(1)
	}
	p.calls.Add(1)
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: req.Payload}, nil
}

// TestHandleStreamCallsStartWithRoom: a call on the handle stream runs on
// one of the stream's workers or, when they are all busy (16 clients
// against 2 workers in the bench's GYD051 row), on a goroutine of its
// own, which starts with the smallest stack. Both get the room of a call
// at once (growStack), while their stack is shallow, instead of having it
// copied on the way down, the last time deep in the adapter's crypto and
// HTTP client: 1.5–1.6 % of the work-injury plugin's CPU samples in that
// row before, 0.5–0.6 % after.
func TestHandleStreamCallsStartWithRoom(t *testing.T) {
	// A collection shrinks idle goroutines' stacks; none may run
	// between a worker's start and its call.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	n := runtime.GOMAXPROCS(0) + 4
	p := &stackProbe{echo: newEcho()}
	p.all.Add(n)
	c := sdktest.Connect(t, p, sdktest.NewMemoryHost())
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "echo", MessageID: fmt.Sprint("m", i), Payload: []byte(`{}`)}); err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := p.calls.Load(); got != int32(n) {
		t.Fatalf("%d calls reached Handle; want %d", got, n)
	}
	if moved := p.moved.Load(); moved != 0 {
		t.Errorf("the stack of %d of %d calls was copied to a larger one during the call; "+
			"a call's goroutine should start with the room of a call (growStack, stackReserve)", moved, n)
	}
}
