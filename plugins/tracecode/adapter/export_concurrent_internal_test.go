package adapter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// midWriteHost runs during once just before the first Put of a key with
// the prefix at, as an export running alongside the write would read.
type midWriteHost struct {
	siteHost
	at     string
	during func()
}

func (h *midWriteHost) Put(ctx context.Context, key string, v []byte) (int64, error) {
	if h.during != nil && strings.HasPrefix(key, h.at) {
		during := h.during
		h.during = nil
		during()
	}
	return h.siteHost.Put(ctx, key, v)
}

// TestExportNeverSeesHalfAHierarchy: a hierarchy answer (the smallest
// sub-codes a stock-in fetch asks for) was kept record first, node chunks
// after, so an export reading the day in between listed the answer with
// the chunks written so far: of a case of 1,200 units, 500 rows in
// 码层级关系 and 最小子码, the other rows silently missing. The chunks are
// written first now and the record last: an export sees the whole answer
// or, still being kept, none of it.
func TestExportNeverSeesHalfAHierarchy(t *testing.T) {
	t.Parallel()
	const units = 1200
	nodes := []hierNode{{Code: "81000010000000010001", CodeLevel: 1, CodePackLevel: 2, PkgRatio: fmt.Sprintf("1:%d", units), LineNo: 1}}
	for i := range units {
		nodes = append(nodes, hierNode{Code: fmt.Sprintf("8100001%013d", 1000+i), CodeLevel: 2, CodePackLevel: 1, ParentCode: nodes[0].Code, IsSmallest: true, LineNo: 1})
	}
	for _, tc := range []struct {
		name string
		at   string // the write the export runs alongside
	}{
		{"before the second chunk", "qnodes/20261126/00000001/00001"},
		{"before the last chunk", "qnodes/20261126/00000001/00002"},
		{"before the first chunk", "qnodes/20261126/00000001/00000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Date(2026, 11, 26, 10, 0, 0, 0, cst)
			a := New(WithClock(func() time.Time { return now }))
			host := &midWriteHost{siteHost: siteHost{m: sdktest.NewMemoryHost(), site: "s1"}, at: tc.at}
			h := &handler{a: a, cfg: &siteConfig{zone: cst}, req: &sdk.HandleRequest{Site: "s1", Host: host, Type: OpCodesSmallest, MessageID: "m-1"}}
			day := time.Date(2026, 11, 26, 0, 0, 0, 0, cst)
			read := func() (hierarchy, smallest int) {
				err := h.queryNodes(ctx, filter{from: day, to: day}, func(b queryBatch) error {
					for _, n := range b.nodes {
						hierarchy++
						if n.Smallest {
							smallest++
						}
					}
					return nil
				})
				if err != nil {
					t.Fatalf("read the hierarchies for the export: %v", err)
				}
				return hierarchy, smallest
			}
			ran := false
			host.during = func() {
				ran = true
				if hier, small := read(); hier != 0 && hier != units+1 || small != 0 && small != units {
					t.Errorf("an export during the write got %d hierarchy rows and %d smallest codes of the answer; want none or all (%d and %d)", hier, small, units+1, units)
				}
			}
			ex := expandNodes(nodes, h.cfg.ratioMode)
			if err := h.storeQuery(ctx, OpCodesSmallest, "PS20261126001", "", nodes, ex); err != nil {
				t.Fatal(err)
			}
			if !ran {
				t.Fatalf("no write of %s: the test does not test", tc.at)
			}
			if hier, small := read(); hier != units+1 || small != units {
				t.Errorf("after the write the export got %d hierarchy rows and %d smallest codes; want %d and %d", hier, small, units+1, units)
			}
		})
	}
}
