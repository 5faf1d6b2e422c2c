package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
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

func (h *countingHost) WriteState(ctx context.Context, site string, ws []sdk.StateWrite) ([]int64, error) {
	keys := make([]string, len(ws))
	for i, w := range ws {
		keys[i] = w.Key
	}
	h.note("write", strings.Join(keys, " "))
	return h.MemoryHost.WriteState(ctx, site, ws)
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

// TestGYU102HostCalls: an accepted GYU102 makes 9 host calls and reads
// its visit once (the rules); the in-flight mark is written with the
// serial's record in one WriteState on the version the rules read, and
// cleared with the fee lines and the outcome in one more, on the version
// the mark returned.
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
		var visitReads int
		var writes []string
		for _, x := range calls {
			switch {
			case x == "get visit/"+visit:
				visitReads++
			case strings.HasPrefix(x, "write "):
				writes = append(writes, x)
			case strings.HasPrefix(x, "put ") || strings.HasPrefix(x, "cas "):
				t.Errorf("call %d: a write of its own: %s", i, x)
			}
		}
		msg := "msg/m-GYU102-" + strconv.Itoa(i+3)
		want := []string{"write " + msg + " visit/" + visit, "write visit/" + visit + "/details/m-GYU102-" + strconv.Itoa(i+3) + " visit/" + visit + " " + msg}
		if len(calls) != 9 || visitReads != 1 || !slices.Equal(writes, want) {
			t.Fatalf("call %d: %d host calls, %d reads of the visit, writes %q; want 9, 1 and %q:\n%s", i, len(calls), visitReads, writes, want, strings.Join(calls, "\n"))
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

// racingHost changes the visit (another message marks itself in flight)
// just before the first WriteState that writes it, and makes the writes
// of a WriteState in one go (atomic) or one by one.
type racingHost struct {
	*sdktest.MemoryHost
	atomic bool
	visit  string
	raced  bool
}

func (h *racingHost) WriteState(ctx context.Context, site string, ws []sdk.StateWrite) ([]int64, error) {
	if !h.raced && slices.ContainsFunc(ws, func(w sdk.StateWrite) bool { return w.Key == h.visit }) {
		h.raced = true
		if err := markInFlight(ctx, hostFor(h.MemoryHost, site), h.visit, "m-other", true); err != nil {
			return nil, err
		}
	}
	if h.atomic {
		return h.MemoryHost.WriteState(ctx, site, ws)
	}
	return sdkhost.WriteOneByOne(ctx, h, site, ws)
}

// TestGYU102VisitChangedMeanwhile: when the visit changed after the rules
// read it, the serial's record and the in-flight mark are written one by
// one with the visit read again, whether the host made part of the
// WriteState or none of it; the upload is accepted, its lines and outcome
// are stored and the other message's mark is kept.
func TestGYU102VisitChangedMeanwhile(t *testing.T) {
	t.Parallel()
	for _, atomic := range []bool{true, false} {
		t.Run(fmt.Sprintf("atomic=%v", atomic), func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			rh := &racingHost{MemoryHost: c.host, atomic: atomic}
			c.p = sdktest.Connect(t, c.impl, rh)
			if r, err := c.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: c.settings}); err != nil || r.Diagnostics.HasError() {
				t.Fatalf("configure: %v %v", err, r)
			}
			visit := c.admit("ZY000001")
			rh.visit = "visit/" + visit
			c.mustOK(c.send("GYU102", fees(visit, "ZY000001", line("D1", "10.00", "2", "5.00"), line("D2", "10.00", "2", "5.00"))))
			if !rh.raced {
				t.Fatal("no WriteState wrote the visit")
			}
			h := hostFor(c.host, testSite)
			var v visitState
			if _, err := getJSON(t.Context(), h, rh.visit, &v); err != nil || strings.Join(v.InFlight, ",") != "m-other" {
				t.Fatalf("in flight %v (%v), want [m-other]", v.InFlight, err)
			}
			es, err := c.host.Scan(t.Context(), testSite, detailsKey(visit)+"/", 0)
			if err != nil || len(es) != 1 || !strings.Contains(string(es[0].Value), `"D2"`) {
				t.Fatalf("fee lines %+v (%v)", es, err)
			}
			var rec sentRecord
			msgs, _ := c.host.Scan(t.Context(), testSite, "msg/", 0)
			for _, e := range msgs {
				if json.Unmarshal(e.Value, &rec) == nil && rec.Code == "GYU102" && !rec.Done {
					t.Fatalf("%s is not done: %+v", e.Key, rec)
				}
			}
		})
	}
}

// TestGYU102JournalBeforeConfirmation: the journal entry of an accepted
// GYU102 (sealed request and answer, about 200 KB at 500 lines) is in the
// host by the time the GYD053 confirmation reaches the national system
// (sdk.SendJournal): it is sent while GYD053 is asked, not after it.
func TestGYU102JournalBeforeConfirmation(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	visit := c.admit("ZY000001")
	ls := make([]map[string]any, 500)
	for j := range ls {
		ls[j] = line(fmt.Sprintf("D%08d", j), "10.00", "2", "5.00")
	}
	before := len(c.host.Exchanges())
	var mu sync.Mutex
	var posts int
	var journaled []string // at each post: the codes of the entries in the host
	sim := c.srv.Config.Handler
	c.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		n := posts
		mu.Unlock()
		var codes []string
		// The entry is on its way while GYD053 is posted: wait for it.
		for end := time.Now().Add(10 * time.Second); n == 2 && len(codes) <= before && time.Now().Before(end); time.Sleep(time.Millisecond) {
			codes = codes[:0]
			for _, x := range c.host.Exchanges() {
				codes = append(codes, x.Exchange.Code)
			}
		}
		mu.Lock()
		journaled = append(journaled, strings.Join(codes, " "))
		mu.Unlock()
		sim.ServeHTTP(w, r)
	})
	c.mustOK(c.send("GYU102", fees(visit, "ZY000001", ls...)))
	mu.Lock()
	defer mu.Unlock()
	if posts != 2 {
		t.Fatalf("%d posts to the national system, want GYU102 and its GYD053 confirmation", posts)
	}
	codes := strings.Fields(journaled[1])
	if len(codes) != before+1 || codes[before] != "GYU102" {
		t.Fatalf("entries in the host when GYD053 was posted: %q, want the GYU102's last", codes)
	}
	if xs := c.host.Exchanges(); len(xs) != before+2 || xs[before+1].Exchange.Code != "GYD053" {
		t.Fatalf("%d entries after the call, want the GYD053's after the GYU102's", len(xs))
	}
}

// overlapHost notes whether the read of a GYU102's record (msg/<id>) was
// still being answered when the read of its visit came: it answers the
// record only once the visit was asked for, or after 10 s.
type overlapHost struct {
	*sdktest.MemoryHost
	visitAsked chan struct{}
	once       sync.Once
	overlapped atomic.Bool
}

func (h *overlapHost) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	switch {
	case strings.HasPrefix(key, "visit/"):
		h.once.Do(func() { close(h.visitAsked) })
	case strings.HasPrefix(key, "msg/m-GYU102-"):
		select {
		case <-h.visitAsked:
			h.overlapped.Store(true)
		case <-time.After(10 * time.Second):
		}
	}
	return h.MemoryHost.Get(ctx, site, key)
}

// TestGYU102ReadsVisitWithRecord: a GYU102 reads its visit (for the
// rules) while its record is read, not after: one round trip into the
// host less on its path. The upload is accepted and its lines stored.
func TestGYU102ReadsVisitWithRecord(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	visit := c.admit("ZY000001")
	oh := &overlapHost{MemoryHost: c.host, visitAsked: make(chan struct{})}
	c.p = sdktest.Connect(t, c.impl, oh)
	if r, err := c.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: c.settings}); err != nil || r.Diagnostics.HasError() {
		t.Fatalf("configure: %v %v", err, r)
	}
	c.mustOK(c.send("GYU102", fees(visit, "ZY000001", line("D00000001", "10.00", "2", "5.00"))))
	if !oh.overlapped.Load() {
		t.Error("the visit was read after the message's record")
	}
	keys, _, err := detailChunks(t.Context(), hostFor(c.host, testSite), visit)
	if err != nil || len(keys) != 1 {
		t.Fatalf("detail maps %q (%v), want 1", keys, err)
	}
}
