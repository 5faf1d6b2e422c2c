package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// siteHost is a MemoryHost seen by one site's plugin: its state only.
type siteHost struct {
	sdk.Host
	m    *sdktest.MemoryHost
	site string
}

func (h siteHost) Get(ctx context.Context, key string) (sdk.Entry, error) {
	return h.m.Get(ctx, h.site, key)
}
func (h siteHost) Put(ctx context.Context, key string, v []byte) (int64, error) {
	return h.m.Put(ctx, h.site, key, v)
}
func (h siteHost) CompareAndSet(ctx context.Context, key string, expect int64, v []byte) (int64, error) {
	return h.m.CompareAndSet(ctx, h.site, key, expect, v)
}
func (h siteHost) Scan(ctx context.Context, prefix string, limit int) ([]sdk.Entry, error) {
	return h.m.Scan(ctx, h.site, prefix, limit)
}
func (h siteHost) Delete(ctx context.Context, key string) error { return h.m.Delete(ctx, h.site, key) }

// TestChildIndexRecoveryResumes: the child index recovery reads the kept
// hierarchy answers of every day, a bounded number of nodes a run, and
// resumes where the last run stopped: every answer is read once (a gap
// left by a record reserved and never written is skipped), every package's
// children are indexed, the parents are left as they are, and once done it
// never runs again.
func TestChildIndexRecoveryResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := sdktest.NewMemoryHost()
	host := siteHost{m: m, site: "s1"}
	put := func(key string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := host.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	type want struct{ parent, child, pkg string }
	var wants []want
	answers := 0
	for d, day := range []string{"20261124", "20261125", "20261126"} {
		n := 3
		if _, err := host.Put(ctx, "count/query/"+day, []byte(fmt.Sprint(n+1))); err != nil { // the last reserved, never written
			t.Fatal(err)
		}
		for i := 1; i <= n; i++ {
			c := fmt.Sprintf("C%d%d", d, i)
			p := c + "P"
			rows := []queryNode{{Code: c}, {Code: p, Parent: c}, {Code: p + "1", Parent: p}, {Code: p + "2", Parent: p}}
			wants = append(wants, want{c, p, "1"}, want{p, p + "1", "0"}, want{p, p + "2", "0"})
			put(fmt.Sprintf("log/query/%s/%08d", day, i), queryRecord{Op: OpCodesSmallest, Nodes: len(rows), Chunks: 1})
			put(fmt.Sprintf("qnodes/%s/%08d/00000", day, i), rows)
			answers++
		}
	}
	a := New(WithClock(func() time.Time { return time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) }))
	h := &handler{a: a, req: &sdk.HandleRequest{Site: "s1", Host: host}}
	runs := 0
	var last *childRecovery
	for ; runs < 50; runs++ {
		rec, ds, err := h.recoverChildIndex(ctx, 3) // one answer (4 nodes) a run
		if err != nil || ds.HasError() {
			t.Fatalf("run %d: %v %s", runs+1, err, ds)
		}
		if rec == nil {
			break
		}
		last = rec
	}
	if last == nil || !last.Done {
		t.Fatalf("not done after %d runs: %+v", runs, last)
	}
	if last.Answers != answers || last.Nodes != 4*answers || last.Days != 3 || last.Runs < answers {
		t.Errorf("progress %+v, want %d answers of 4 nodes over 3 days, read once each, at least one run per answer", last, answers)
	}
	for _, w := range wants {
		e, err := host.Get(ctx, childPrefix(w.parent)+esc(w.child))
		if err != nil || string(e.Value) != w.pkg {
			t.Errorf("child %s of %s: %q %v, want %q", w.child, w.parent, e.Value, err, w.pkg)
		}
	}
	if es, _ := host.Scan(ctx, "codeparent/", 0); len(es) != 0 {
		t.Errorf("the recovery wrote %d parent entries, want none (the parents were indexed when the answers were kept)", len(es))
	}
	if rec, _, err := h.recoverChildIndex(ctx, 3); rec != nil || err != nil {
		t.Errorf("a run after it was done: %+v %v, want nothing", rec, err)
	}
}
