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

// scanner calls sdk.ScanKnown during Handle with known and keeps what
// came back.
type scanner struct {
	probe
	known map[string]int64
	got   []sdk.Entry
}

func (s *scanner) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	es, err := sdk.ScanKnown(ctx, req.Host, "k/", 0, s.known)
	if err != nil {
		return nil, err
	}
	s.got = es
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// knownHost is a MemoryHost that answers ScanKnown itself
// (sdkhost.KnownScanServer) and notes the versions it was given.
type knownHost struct {
	*sdktest.MemoryHost
	mu    sync.Mutex
	calls []map[string]int64
}

func (h *knownHost) ScanKnown(ctx context.Context, site, prefix string, limit int, known map[string]int64) ([]sdk.Entry, error) {
	h.mu.Lock()
	h.calls = append(h.calls, maps.Clone(known))
	h.mu.Unlock()
	es, err := h.Scan(ctx, site, prefix, limit)
	for i, e := range es {
		if v, ok := known[e.Key]; ok && v == e.Version {
			es[i].Value = nil
		}
	}
	return es, err
}

// TestScanKnown: over the real protocol, every entry under the prefix
// comes back with its version; the values of the entries the plugin
// names at their current version are left out, whether the host answers
// ScanKnown itself or only Scan (sdkhost leaves them out then); a
// version that changed brings the value. Without known it is Scan.
func TestScanKnown(t *testing.T) {
	mem := sdktest.NewMemoryHost()
	ctx := t.Context()
	for _, k := range []string{"k/1", "k/2", "k/3", "other"} {
		if _, err := mem.Put(ctx, "s1", k, []byte(`"`+k+`"`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mem.Put(ctx, "s1", "k/2", []byte(`"k/2 again"`)); err != nil { // version 2
		t.Fatal(err)
	}
	req := &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1", Payload: []byte(`{}`)}
	for _, tc := range []struct {
		name  string
		known map[string]int64
		want  []sdk.Entry
	}{
		{"nothing known", nil, []sdk.Entry{
			{Key: "k/1", Value: []byte(`"k/1"`), Version: 1}, {Key: "k/2", Value: []byte(`"k/2 again"`), Version: 2}, {Key: "k/3", Value: []byte(`"k/3"`), Version: 1}}},
		{"some known, one at an older version", map[string]int64{"k/1": 1, "k/2": 1, "k/9": 1}, []sdk.Entry{
			{Key: "k/1", Version: 1}, {Key: "k/2", Value: []byte(`"k/2 again"`), Version: 2}, {Key: "k/3", Value: []byte(`"k/3"`), Version: 1}}},
		{"all known", map[string]int64{"k/1": 1, "k/2": 2, "k/3": 1}, []sdk.Entry{
			{Key: "k/1", Version: 1}, {Key: "k/2", Version: 2}, {Key: "k/3", Version: 1}}},
	} {
		for _, host := range []struct {
			name string
			h    sdkhost.HostServer
		}{{"host answers Scan only", mem}, {"host answers ScanKnown", &knownHost{MemoryHost: mem}}} {
			t.Run(tc.name+"/"+host.name, func(t *testing.T) {
				p := &scanner{known: tc.known}
				c := sdktest.Connect(t, p, host.h)
				if _, err := c.Handle(ctx, req); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, p.got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
					t.Errorf("ScanKnown (-want +got):\n%s", diff)
				}
				if kh, ok := host.h.(*knownHost); ok {
					want := 1
					if len(tc.known) == 0 {
						want = 0 // a scan without known is a Scan
					}
					if len(kh.calls) != want || (want == 1 && !maps.Equal(kh.calls[0], tc.known)) {
						t.Errorf("the host's ScanKnown was called with %v, want %d call with %v", kh.calls, want, tc.known)
					}
				}
			})
		}
	}
}

// TestScanKnownHostWithoutIt: a Host that has no ScanKnown (a test host, a
// host of another kind) is scanned whole; the caller tells entries apart
// by version.
func TestScanKnownHostWithoutIt(t *testing.T) {
	mem := sdktest.NewMemoryHost()
	if _, err := mem.Put(t.Context(), "s1", "k/1", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	got, err := sdk.ScanKnown(t.Context(), plainHost{mem}, "k/", 0, map[string]int64{"k/1": 1})
	if err != nil || len(got) != 1 || string(got[0].Value) != "1" || got[0].Version != 1 {
		t.Errorf("ScanKnown = %+v, %v; want k/1 at version 1 with its value", got, err)
	}
}

// plainHost is an sdk.Host of site s1 with no optional interface.
type plainHost struct{ m *sdktest.MemoryHost }

func (h plainHost) Get(ctx context.Context, k string) (sdk.Entry, error) {
	return h.m.Get(ctx, "s1", k)
}
func (h plainHost) Put(ctx context.Context, k string, v []byte) (int64, error) {
	return h.m.Put(ctx, "s1", k, v)
}
func (h plainHost) CompareAndSet(ctx context.Context, k string, e int64, v []byte) (int64, error) {
	return h.m.CompareAndSet(ctx, "s1", k, e, v)
}
func (h plainHost) Scan(ctx context.Context, p string, n int) ([]sdk.Entry, error) {
	return h.m.Scan(ctx, "s1", p, n)
}
func (h plainHost) Delete(ctx context.Context, k string) error { return h.m.Delete(ctx, "s1", k) }
func (h plainHost) NextSequence(ctx context.Context, n string) (int64, error) {
	return h.m.NextSequence(ctx, "s1", n)
}
func (h plainHost) Publish(ctx context.Context, e sdk.Event) error { return h.m.Publish(ctx, "s1", e) }
func (h plainHost) Journal(ctx context.Context, x sdk.Exchange) (int64, error) {
	return h.m.Journal(ctx, "s1", x)
}
