package sdk_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// writer calls sdk.WriteState during Handle and keeps what came back.
type writer struct {
	probe
	writes []sdk.StateWrite
	got    []int64
	err    error
}

func (w *writer) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	w.got, w.err = sdk.WriteState(ctx, req.Host, w.writes)
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// oneByOneHost is a MemoryHost without WriteState that counts the writes
// it is asked for.
type oneByOneHost struct {
	m      *sdktest.MemoryHost
	mu     sync.Mutex
	writes int
}

func (h *oneByOneHost) count() {
	h.mu.Lock()
	h.writes++
	h.mu.Unlock()
}

func (h *oneByOneHost) Get(ctx context.Context, site, k string) (sdk.Entry, error) {
	return h.m.Get(ctx, site, k)
}
func (h *oneByOneHost) Put(ctx context.Context, site, k string, v []byte) (int64, error) {
	h.count()
	return h.m.Put(ctx, site, k, v)
}
func (h *oneByOneHost) CompareAndSet(ctx context.Context, site, k string, e int64, v []byte) (int64, error) {
	h.count()
	return h.m.CompareAndSet(ctx, site, k, e, v)
}
func (h *oneByOneHost) Scan(ctx context.Context, site, p string, n int) ([]sdk.Entry, error) {
	return h.m.Scan(ctx, site, p, n)
}
func (h *oneByOneHost) Delete(ctx context.Context, site, k string) error {
	return h.m.Delete(ctx, site, k)
}
func (h *oneByOneHost) NextSequence(ctx context.Context, site, n string) (int64, error) {
	return h.m.NextSequence(ctx, site, n)
}
func (h *oneByOneHost) Publish(ctx context.Context, site string, e sdk.Event) error {
	return h.m.Publish(ctx, site, e)
}
func (h *oneByOneHost) Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error) {
	return h.m.Journal(ctx, site, x)
}

// TestWriteState: over the real protocol the writes of one WriteState
// come back with their versions, in order; a failed expectation names its
// write and says how many before it were made: none with a host that
// makes them in one transaction, the earlier ones with a host that makes
// them one by one (sdkhost then writes through Put and CompareAndSet).
func TestWriteState(t *testing.T) {
	ctx := t.Context()
	req := &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1", Payload: []byte(`{}`)}
	for _, tc := range []struct {
		name    string
		host    func(*sdktest.MemoryHost) sdkhost.HostServer
		applied int // writes made before a failed one
		calls   int // Put and CompareAndSet calls of the host for the two WriteStates
	}{
		{"one transaction", func(m *sdktest.MemoryHost) sdkhost.HostServer { return m }, 0, 0},
		{"one by one", func(m *sdktest.MemoryHost) sdkhost.HostServer { return &oneByOneHost{m: m} }, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := sdktest.NewMemoryHost()
			if _, err := mem.Put(ctx, "s1", "a", []byte("a1")); err != nil {
				t.Fatal(err)
			}
			host := tc.host(mem)
			w := &writer{writes: []sdk.StateWrite{{Key: "a", Value: []byte("a2"), Expect: 1}, {Key: "b", Value: []byte("b1")}, {Key: "a", Value: []byte("a3"), Put: true}}}
			c := sdktest.Connect(t, w, host)
			if _, err := c.Handle(ctx, req); err != nil {
				t.Fatal(err)
			}
			if w.err != nil || len(w.got) != 3 || w.got[0] != 2 || w.got[1] != 1 || w.got[2] != 3 {
				t.Fatalf("versions %v, %v; want [2 1 3]", w.got, w.err)
			}
			w.writes = []sdk.StateWrite{{Key: "c", Value: []byte("c1"), Put: true}, {Key: "a", Value: []byte("a4"), Expect: 1}}
			if _, err := c.Handle(ctx, req); err != nil {
				t.Fatal(err)
			}
			var we *sdk.WriteError
			if !errors.As(w.err, &we) || we.Index != 1 || we.Applied != tc.applied || !errors.Is(w.err, sdk.ErrConflict) {
				t.Fatalf("stale write: %v (%+v); want a conflict at write 2 with %d made", w.err, we, tc.applied)
			}
			_, err := mem.Get(ctx, "s1", "c")
			if made := err == nil; made != (tc.applied == 1) {
				t.Fatalf("c written: %v, want %v", made, tc.applied == 1)
			}
			if ob, ok := host.(*oneByOneHost); ok && ob.writes != tc.calls {
				t.Fatalf("%d writes one by one, want %d", ob.writes, tc.calls)
			}
		})
	}
}

// TestWriteStateHostWithoutIt: a Host that has no WriteState (a test
// host) gets the writes one by one.
func TestWriteStateHostWithoutIt(t *testing.T) {
	mem := sdktest.NewMemoryHost()
	got, err := sdk.WriteState(t.Context(), plainHost{mem}, []sdk.StateWrite{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2"), Expect: 5}})
	var we *sdk.WriteError
	if got != nil || !errors.As(err, &we) || we.Index != 1 || we.Applied != 1 {
		t.Fatalf("WriteState = %v, %v; want a conflict at write 2 with 1 made", got, err)
	}
	if e, err := mem.Get(t.Context(), "s1", "a"); err != nil || string(e.Value) != "1" {
		t.Fatalf("a = %q (%v), want 1", e.Value, err)
	}
}
