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

// TestChildIndexReadyOnlyOnceBuilt: a confirmation asks whether the
// child index of relations kept before it is built, and builds it further
// if not; with more to read than one call's budget it is not ready (the
// confirmation waits and is retried), each call goes on where the last
// stopped, and it is ready once both the hierarchy answers and the
// stock-in listings are read, every package's children indexed.
func TestChildIndexReadyOnlyOnceBuilt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := siteHost{m: sdktest.NewMemoryHost(), site: "s1"}
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
	// Two hierarchy answers, and a fetched document whose listing gives a
	// unit's case (as versions before the child index kept them).
	put("count/query/20261126", 2)
	for i := 1; i <= 2; i++ {
		c := fmt.Sprintf("C%d", i)
		put(fmt.Sprintf("log/query/20261126/%08d", i), queryRecord{Op: OpCodesSmallest, Nodes: 3, Chunks: 1})
		put(fmt.Sprintf("qnodes/20261126/%08d/00000", i), []queryNode{{Code: c}, {Code: c + "U1", Parent: c}, {Code: c + "U2", Parent: c}})
	}
	doc := docRecord{DocNo: "PS1", Source: sourcePlatform, Direction: "in", BillTime: "2026-11-26 09:00:00", Scoped: true, FromOrgCode: "SUP", Chunks: 1}
	put("count/doc/20261126", 1)
	put("log/doc/20261126/00000001", doc)
	put(doc.indexKey(), docRef{Key: "log/doc/20261126/00000001"})
	put(doc.chunkKey(0), []codeRow{{Line: 1, Code: "L1U1", Parent: "L1"}, {Line: 1, Code: "L1U2", Parent: "L1"}})

	h := &handler{a: New(WithClock(func() time.Time { return time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) })), req: &sdk.HandleRequest{Site: "s1", Host: host}}
	calls := 0
	for ; calls < 20; calls++ {
		ready, ds, err := h.childIndexReady(ctx, 2) // one answer or document a call
		if err != nil || ds.HasError() {
			t.Fatalf("call %d: %v %s", calls+1, err, ds)
		}
		if ready {
			break
		}
	}
	if calls < 1 || calls >= 20 {
		t.Fatalf("ready after %d calls that were not, want at least 1 (a call reads one record of three, and the sources run one after the other) and then ready", calls)
	}
	for parent, children := range map[string][]string{"C1": {"C1U1", "C1U2"}, "C2": {"C2U1", "C2U2"}, "L1": {"L1U1", "L1U2"}} {
		for _, c := range children {
			if _, err := host.Get(ctx, childPrefix(parent)+esc(c)); err != nil {
				t.Errorf("child %s of %s is not indexed: %v", c, parent, err)
			}
		}
	}
	if ready, _, err := h.childIndexReady(ctx, 2); !ready || err != nil {
		t.Errorf("asked again once built: %v %v, want ready", ready, err)
	}
}
