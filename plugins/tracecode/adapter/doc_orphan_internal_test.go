package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// stoppingHost is a site's memory host that stops taking writes, as a
// plugin that stopped (killed, or its host gone) writes nothing more,
// once a write that stop accepts has been made; and whose compare-and-set
// that lost accepts is made but answered with an error, as a call whose
// answer was lost.
type stoppingHost struct {
	siteHost
	mu      sync.Mutex
	stop    func(key string) bool
	stopped bool
	lost    func(key string) bool
}

var errStopped = errors.New("injected: the plugin stopped")

func (h *stoppingHost) write(key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return errStopped
	}
	if h.stop != nil && h.stop(key) {
		h.stopped = true
	}
	return nil
}

func (h *stoppingHost) Put(ctx context.Context, key string, v []byte) (int64, error) {
	if err := h.write(key); err != nil {
		return 0, err
	}
	return h.siteHost.Put(ctx, key, v)
}

func (h *stoppingHost) CompareAndSet(ctx context.Context, key string, expect int64, v []byte) (int64, error) {
	if err := h.write(key); err != nil {
		return 0, err
	}
	ver, err := h.siteHost.CompareAndSet(ctx, key, expect, v)
	h.mu.Lock()
	lost := err == nil && h.lost != nil && h.lost(key)
	if lost {
		h.lost = nil
	}
	h.mu.Unlock()
	if lost {
		return 0, errors.New("injected: the answer of a write that was made was lost")
	}
	return ver, err
}

func (h *stoppingHost) Delete(ctx context.Context, key string) error {
	if err := h.write(key); err != nil {
		return err
	}
	return h.siteHost.Delete(ctx, key)
}

// TestSavedDocumentLeavesNoOrphanCodes: a document's codes are written
// under a new version before its record names them (saveDoc). A plugin
// that stopped in between (or a store write that failed) left that
// version's code chunks named by no record, for good: nothing read them
// and nothing removed them, every such save a few hundred kilobytes of
// state more. And a write of the record whose answer was lost (made, but
// answered with an error) had the codes the stored record names removed
// as if it had not been made, so the document listed its lines without
// its codes from then on. Now the stored record's codes are all there,
// and the chunks of a version no record names are removed by the stock-in
// sync a day later.
func TestSavedDocumentLeavesNoOrphanCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	day25, day26 := time.Date(2026, 11, 25, 0, 0, 0, 0, cst), time.Date(2026, 11, 26, 0, 0, 0, 0, cst)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, cst)
	rows := func(n, from int) []codeRow {
		out := make([]codeRow, n)
		for i := range out {
			out[i] = codeRow{Line: 1, Code: fmt.Sprintf("8100001%09d%04d", from+i, i)}
		}
		return out
	}
	isChunk := func(k string) bool { return strings.HasPrefix(k, "codes/") }
	testCases := map[string]struct {
		first      bool                  // the document was stored before, on the 25th
		day        time.Time             // the day of the save that fails
		stop, lost func(key string) bool // as stoppingHost
		// noRetry: the failed save is never made again (its message
		// given up, or the document fetched no more).
		noRetry bool
	}{
		"new, stopped after its codes":                  {day: day25, stop: isChunk},
		"saved again, stopped after its codes":          {first: true, day: day25, stop: isChunk},
		"moved, stopped after its codes":                {first: true, day: day26, stop: isChunk},
		"saved again, stopped after its record":         {first: true, day: day25, stop: func(k string) bool { return strings.HasPrefix(k, "log/doc/") }},
		"saved again, the record's answer lost":         {first: true, day: day25, lost: func(k string) bool { return strings.HasPrefix(k, "log/doc/") }},
		"moved, the index's answer lost":                {first: true, day: day26, lost: func(k string) bool { return strings.HasPrefix(k, "docidx/") }},
		"new, stopped before its index is written":      {day: day25, stop: func(k string) bool { return strings.HasPrefix(k, "log/doc/") }},
		"moved, the index's answer lost, never retried": {first: true, day: day26, lost: func(k string) bool { return strings.HasPrefix(k, "docidx/") }, noRetry: true},
		"moved, stopped after its index, never retried": {first: true, day: day26, stop: func(k string) bool { return strings.HasPrefix(k, "docidx/") }, noRetry: true},
		"moved, stopped before its index is written":    {first: true, day: day26, stop: func(k string) bool { return strings.HasPrefix(k, "log/doc/20261126") }},
		"new, stopped before its index, never retried":  {day: day25, stop: func(k string) bool { return strings.HasPrefix(k, "log/doc/") }, noRetry: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			host := &stoppingHost{siteHost: siteHost{m: sdktest.NewMemoryHost(), site: "s1"}}
			rec := func(day time.Time) *docRecord {
				return &docRecord{DocNo: "RK-OR", Source: sourceUpload, Direction: "in", BillTime: day.Format(dateLayout) + " 09:00:00", Lines: []docLine{{LineNo: 1, Qty: "600"}}}
			}
			key := ""
			if tc.first {
				var err error
				if key, err = saveDoc(ctx, host, rec(day25), rows(600, 0), day25, "", now); err != nil {
					t.Fatal(err)
				}
			}
			firstKey := key
			host.mu.Lock()
			host.stop, host.lost = tc.stop, tc.lost
			host.mu.Unlock()
			if _, err := saveDoc(ctx, host, rec(tc.day), rows(600, 1000), tc.day, key, now); err == nil {
				t.Fatal("the save did not fail: the test does not test")
			}
			host.mu.Lock()
			host.stopped, host.stop, host.lost = false, nil, nil
			host.mu.Unlock()
			// Whatever is stored now is whole.
			check := func(when string) {
				t.Helper()
				cur, _, _, err := loadDoc(ctx, host, sourceUpload, "RK-OR")
				if errors.Is(err, sdk.ErrNotFound) {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				if err := readCodes(ctx, host, cur, func(codeRow) error { n++; return nil }); err != nil {
					t.Fatalf("%s: read the stored document's codes: %v", when, err)
				}
				if n != cur.CodeCount {
					t.Errorf("%s: the stored document has %d of its %d codes", when, n, cur.CodeCount)
				}
			}
			check("after the failed save")
			// The retry stores it; a day later the sync removes what no
			// record names.
			if !tc.noRetry {
				key = ""
				if _, k, _, err := loadDoc(ctx, host, sourceUpload, "RK-OR"); err == nil {
					key = k
				}
				if _, err := saveDoc(ctx, host, rec(tc.day), rows(700, 5000), tc.day, key, now.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				if _, _, err := dropOrphanCodes(ctx, host, now.Add(forwardKeep+time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			check("after the retry and the sync")
			// Every record left in the daily logs is the one the index
			// names or a forwarding one: a record the save appended and
			// never indexed (it stopped in between) is named by nothing
			// and never read again.
			_, indexed, _, err := loadDoc(ctx, host, sourceUpload, "RK-OR")
			if err != nil && !errors.Is(err, sdk.ErrNotFound) {
				t.Fatal(err)
			}
			recs, err := host.Scan(ctx, "log/doc/", 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range recs {
				var r docRecord
				if err := json.Unmarshal(e.Value, &r); err != nil {
					t.Fatal(err)
				}
				if e.Key != indexed && r.MovedTo == "" {
					t.Errorf("the record %s (codes version %s, %d chunks) is left beside the one the index names (%q), neither indexed nor forwarding", e.Key, r.CodesVersion, r.Chunks, indexed)
				}
			}
			if indexed == "" {
				if es, err := host.Scan(ctx, "codes/", 0); err != nil || len(es) > 0 {
					t.Errorf("no document stored, and %d code chunks left (%v)", len(es), err)
				}
				return
			}
			cur, curKey, _, err := loadDoc(ctx, host, sourceUpload, "RK-OR")
			if err != nil {
				t.Fatal(err)
			}
			es, err := host.Scan(ctx, "codes/", 0)
			if err != nil {
				t.Fatal(err)
			}
			var stray []string
			for _, e := range es {
				if !strings.HasPrefix(e.Key, cur.codesBase()+";"+cur.CodesVersion+"/") {
					stray = append(stray, e.Key)
				}
			}
			if len(stray) > 0 || len(es) != cur.Chunks {
				t.Errorf("%d code chunks stored, want the %d of the version stored; named by no record: %v", len(es), cur.Chunks, stray)
			}
			// The document's old place keeps at most a forwarding record
			// once the sync has run: a record there that is neither the
			// one indexed nor forwarding names codes removed, or left.
			if firstKey == "" || firstKey == curKey {
				return
			}
			e, err := host.Get(ctx, firstKey)
			if errors.Is(err, sdk.ErrNotFound) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var old docRecord
			if err := json.Unmarshal(e.Value, &old); err != nil {
				t.Fatal(err)
			}
			if old.MovedTo == "" {
				t.Errorf("the record at the document's old place %s (codes version %s, %d chunks) is left beside the one its index names (%s), neither forwarding nor removed", firstKey, old.CodesVersion, old.Chunks, curKey)
			}
		})
	}
}
