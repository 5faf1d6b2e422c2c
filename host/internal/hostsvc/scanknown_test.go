package hostsvc

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// readCounter is a SQLite store that counts the reads of state values.
type readCounter struct {
	*store.SQLite
	gets, scans int
}

func (s *readCounter) StateGet(ctx context.Context, ns, key string) (store.StateEntry, error) {
	s.gets++
	return s.SQLite.StateGet(ctx, ns, key)
}

func (s *readCounter) StateScan(ctx context.Context, ns, prefix string, limit int) ([]store.StateEntry, error) {
	s.scans++
	return s.SQLite.StateScan(ctx, ns, prefix, limit)
}

// scanOnly is a store that cannot list keys without values.
type scanOnly struct{ store.Store }

// TestScanKnown: the host reads from the store only the values the plugin
// does not hold at their current version (one StateGet each, no scan of
// the values), lists the others with key and version, and keeps to the
// prefix, the limit and the plugin's site; a store that cannot list keys
// gives the same answer from a scan.
func TestScanKnown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sq, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	for _, kv := range [][3]string{{"h1", "k/1", "a"}, {"h1", "k/2", "b"}, {"h1", "k/2", "b2"}, {"h1", "k/3", "c"}, {"h1", "l/1", "x"}, {"h2", "k/4", "y"}} {
		if _, err := New(sq, "events").For("p").Put(ctx, kv[0], kv[1], []byte(kv[2])); err != nil {
			t.Fatal(err)
		}
	}
	known := map[string]int64{"k/1": 1, "k/2": 1, "k/4": 1, "l/1": 1}
	want := []sdk.Entry{{Key: "k/1", Version: 1}, {Key: "k/2", Value: []byte("b2"), Version: 2}, {Key: "k/3", Value: []byte("c"), Version: 1}}
	opt := cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })

	rc := &readCounter{SQLite: sq}
	h := New(rc, "events").For("p").(sdkhost.KnownScanServer)
	got, err := h.ScanKnown(ctx, "h1", "k/", 0, known)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("ScanKnown (-want +got):\n%s", diff)
	}
	if rc.gets != 2 || rc.scans != 0 {
		t.Errorf("the store read %d values one by one and scanned %d times; want 2 (k/2, k/3) and 0", rc.gets, rc.scans)
	}
	if got, err := h.ScanKnown(ctx, "h1", "k/", 2, known); err != nil || len(got) != 2 || got[1].Key != "k/2" {
		t.Errorf("ScanKnown with limit 2 = %+v, %v; want k/1, k/2", got, err)
	}

	got, err = New(scanOnly{sq}, "events").For("p").(sdkhost.KnownScanServer).ScanKnown(ctx, "h1", "k/", 0, known)
	if err != nil {
		t.Fatal(err)
	}
	// Scanned whole: sdkhost leaves the known values out of the answer.
	for i := range got {
		if v, ok := known[got[i].Key]; ok && v == got[i].Version {
			got[i].Value = nil
		}
	}
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("ScanKnown on a store without StateKeys (-want +got):\n%s", diff)
	}
}
