package sdk_test

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// pageScanner scans during Handle, with ScanKnown when known is set, and
// keeps what came back.
type pageScanner struct {
	probe
	limit int
	known map[string]int64
	got   []sdk.Entry
}

func (s *pageScanner) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var err error
	if s.known != nil {
		s.got, err = sdk.ScanKnown(ctx, req.Host, "k/", s.limit, s.known)
	} else {
		s.got, err = req.Host.Scan(ctx, "k/", s.limit)
	}
	if err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// pageCall is one ScanPage call a pagedHost answered.
type pageCall struct {
	After string
	Limit int
	Known map[string]int64
}

// pagedHost is a MemoryHost that answers scans page by page
// (sdkhost.PagedScanServer), two entries a page, and notes each call.
type pagedHost struct {
	*sdktest.MemoryHost
	mu    sync.Mutex
	calls []pageCall
}

func (h *pagedHost) ScanPage(ctx context.Context, site, prefix, after string, limit int, known map[string]int64) ([]sdk.Entry, bool, error) {
	h.mu.Lock()
	h.calls = append(h.calls, pageCall{after, limit, maps.Clone(known)})
	h.mu.Unlock()
	all, err := h.Scan(ctx, site, prefix, 0)
	if err != nil {
		return nil, false, err
	}
	var rest []sdk.Entry
	for _, e := range all {
		if e.Key > after {
			rest = append(rest, e)
		}
	}
	n := 2
	if limit > 0 {
		n = min(n, limit)
	}
	if len(rest) <= n {
		return rest, false, nil
	}
	return rest[:n], true, nil
}

// TestScanFollowsPages: over the real protocol, the SDK follows a host
// that answers scans page by page until it says no more follow, asking
// each time after the last key it got, with what is left of the limit
// and only the known versions of the keys still to come; the caller gets
// every entry in key order, as from one answer. A host that answers
// whole (an older host, a test host) is asked once.
func TestScanFollowsPages(t *testing.T) {
	t.Parallel()
	mem := sdktest.NewMemoryHost()
	ctx := t.Context()
	for _, k := range []string{"k/1", "k/2", "k/3", "k/4", "k/5", "other"} {
		if _, err := mem.Put(ctx, "s1", k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(k string) sdk.Entry { return sdk.Entry{Key: k, Value: []byte(k), Version: 1} }
	all := []sdk.Entry{entry("k/1"), entry("k/2"), entry("k/3"), entry("k/4"), entry("k/5")}
	known := map[string]int64{"k/1": 1, "k/4": 1}
	knownWant := []sdk.Entry{{Key: "k/1", Version: 1}, entry("k/2"), entry("k/3"), {Key: "k/4", Version: 1}, entry("k/5")}
	cases := map[string]struct {
		limit int
		known map[string]int64
		want  []sdk.Entry
		calls []pageCall
	}{
		"scan":                  {0, nil, all, []pageCall{{"", 0, nil}, {"k/2", 0, nil}, {"k/4", 0, nil}}},
		"scan with a limit":     {3, nil, all[:3], []pageCall{{"", 3, nil}, {"k/2", 1, nil}}},
		"limit on a page's end": {4, nil, all[:4], []pageCall{{"", 4, nil}, {"k/2", 2, nil}}},
		"scan known": {0, known, knownWant, []pageCall{
			{"", 0, known}, {"k/2", 0, map[string]int64{"k/4": 1}}, {"k/4", 0, map[string]int64{}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, paged := range []bool{true, false} {
				var host sdkhost.HostServer = mem
				ph := &pagedHost{MemoryHost: mem}
				if paged {
					host = ph
				}
				p := &pageScanner{limit: tc.limit, known: tc.known}
				c := sdktest.Connect(t, p, host)
				if _, err := c.Handle(ctx, &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1", Payload: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, p.got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
					t.Errorf("paged host %v: entries (-want +got):\n%s", paged, diff)
				}
				if paged {
					if diff := cmp.Diff(tc.calls, ph.calls, cmp.Comparer(func(a, b map[string]int64) bool { return maps.Equal(a, b) })); diff != "" {
						t.Errorf("pages asked for (-want +got):\n%s", diff)
					}
				}
			}
		})
	}
}

// outOfOrderHost answers every page with the same entry and says more
// follow: a broken host.
type outOfOrderHost struct{ *sdktest.MemoryHost }

func (h outOfOrderHost) ScanPage(context.Context, string, string, string, int, map[string]int64) ([]sdk.Entry, bool, error) {
	return []sdk.Entry{{Key: "k/1", Value: []byte("x"), Version: 1}}, true, nil
}

// TestScanPagesOutOfOrder: a host whose pages do not move on is an error
// of the scan, not a loop without end.
func TestScanPagesOutOfOrder(t *testing.T) {
	t.Parallel()
	p := &pageScanner{}
	c := sdktest.Connect(t, p, outOfOrderHost{sdktest.NewMemoryHost()})
	r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1", Payload: []byte(`{}`)})
	if err == nil && r.Status == sdk.StatusOK {
		t.Fatalf("Handle = %+v with %d entries; want the scan to fail", r, len(p.got))
	}
}
