package adapter

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// countingHost records the state calls a plugin makes.
type countingHost struct {
	*sdktest.MemoryHost
	mu    sync.Mutex
	calls []string
}

func (h *countingHost) note(op, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, op+" "+key)
}

func (h *countingHost) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

func (h *countingHost) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	h.note("get", key)
	return h.MemoryHost.Get(ctx, site, key)
}

func (h *countingHost) Put(ctx context.Context, site, key string, v []byte) (int64, error) {
	h.note("put", key)
	return h.MemoryHost.Put(ctx, site, key, v)
}

func (h *countingHost) CompareAndSet(ctx context.Context, site, key string, expect int64, v []byte) (int64, error) {
	h.note("cas", key)
	return h.MemoryHost.CompareAndSet(ctx, site, key, expect, v)
}

func (h *countingHost) Scan(ctx context.Context, site, prefix string, limit int) ([]sdk.Entry, error) {
	h.note("scan", prefix)
	return h.MemoryHost.Scan(ctx, site, prefix, limit)
}

func (h *countingHost) Delete(ctx context.Context, site, key string) error {
	h.note("delete", key)
	return h.MemoryHost.Delete(ctx, site, key)
}

func (h *countingHost) NextSequence(ctx context.Context, site, name string) (int64, error) {
	h.note("seq", name)
	return h.MemoryHost.NextSequence(ctx, site, name)
}

func (h *countingHost) Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error) {
	h.note("journal", x.Code)
	return h.MemoryHost.Journal(ctx, site, x)
}

// TestGYU102HostCalls: an accepted GYU102 makes 13 host calls, and reads
// its visit twice (the rules, the in-flight mark); clearing the mark
// writes on the version the mark's write returned.
func TestGYU102HostCalls(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	ch := &countingHost{MemoryHost: c.host}
	c.p = sdktest.Connect(t, c.impl, ch)
	if r, err := c.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: c.settings}); err != nil || r.Diagnostics.HasError() {
		t.Fatalf("configure: %v %v", err, r)
	}
	visit := c.admit("ZY000001")
	for i := range 3 {
		ls := make([]map[string]any, 500)
		for j := range ls {
			ls[j] = line(fmt.Sprintf("D%04d%04d", i, j), "10.00", "2", "5.00")
		}
		ch.take()
		c.mustOK(c.send("GYU102", fees(visit, "ZY000001", ls...)))
		calls := ch.take()
		visitReads := 0
		for _, x := range calls {
			if x == "get visit/"+visit {
				visitReads++
			}
		}
		if len(calls) != 13 || visitReads != 2 {
			t.Fatalf("call %d: %d host calls, %d reads of the visit; want 13 and 2:\n%s", i, len(calls), visitReads, strings.Join(calls, "\n"))
		}
	}
	var v visitState
	if _, err := getJSON(t.Context(), hostFor(c.host, testSite), "visit/"+visit, &v); err != nil || len(v.InFlight) != 0 {
		t.Fatalf("in-flight list after the uploads: %v (%v)", v.InFlight, err)
	}
}

// TestInFlightMemoStale: when the visit changed after this message marked
// itself in flight, clearing the mark reads the visit again and keeps the
// other change.
func TestInFlightMemoStale(t *testing.T) {
	t.Parallel()
	m := sdktest.NewMemoryHost()
	h := hostFor(m, testSite)
	ctx := t.Context()
	if err := putJSON(ctx, h, "visit/V1", visitState{Status: visitAdmitted}); err != nil {
		t.Fatal(err)
	}
	mctx := withVisitMemo(ctx)
	if err := markInFlight(mctx, h, "visit/V1", "m1", true); err != nil {
		t.Fatal(err)
	}
	// Another message marks itself meanwhile (its own context, no memo).
	if err := markInFlight(ctx, h, "visit/V1", "m2", true); err != nil {
		t.Fatal(err)
	}
	if err := markInFlight(mctx, h, "visit/V1", "m1", false); err != nil {
		t.Fatal(err)
	}
	var v visitState
	if _, err := getJSON(ctx, h, "visit/V1", &v); err != nil || strings.Join(v.InFlight, ",") != "m2" {
		t.Fatalf("in flight %v (%v), want [m2]", v.InFlight, err)
	}
	// The memo now knows the latest version: the next write needs no read.
	if err := markInFlight(mctx, h, "visit/V1", "m1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := getJSON(ctx, h, "visit/V1", &v); err != nil || strings.Join(v.InFlight, ",") != "m2,m1" {
		t.Fatalf("in flight %v (%v), want [m2 m1]", v.InFlight, err)
	}
	// A visit that does not exist is left alone.
	if err := markInFlight(withVisitMemo(ctx), h, "visit/NONE", "m1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, testSite, "visit/NONE"); err == nil {
		t.Fatal("markInFlight created a visit")
	}
}
