package hostsvc

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// readMeter is a SQLite store that adds up the bytes of state values its
// scans return, per call and in all.
type readMeter struct {
	*store.SQLite
	mu          sync.Mutex
	total, most int
}

func (s *readMeter) note(es []store.StateEntry) {
	n := 0
	for _, e := range es {
		n += len(e.Key) + len(e.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total += n
	s.most = max(s.most, n)
}

func (s *readMeter) reset() (total, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total, most = s.total, s.most
	s.total, s.most = 0, 0
	return total, most
}

func (s *readMeter) StateScan(ctx context.Context, ns, prefix string, limit int) ([]store.StateEntry, error) {
	es, err := s.SQLite.StateScan(ctx, ns, prefix, limit)
	s.note(es)
	return es, err
}

func (s *readMeter) StateScanAfter(ctx context.Context, ns, prefix, after string, limit int) ([]store.StateEntry, error) {
	es, err := s.SQLite.StateScanAfter(ctx, ns, prefix, after, limit)
	s.note(es)
	return es, err
}

func (s *readMeter) StateGet(ctx context.Context, ns, key string) (store.StateEntry, error) {
	e, err := s.SQLite.StateGet(ctx, ns, key)
	s.note([]store.StateEntry{e})
	return e, err
}

// bigNamespace is a store whose plugin "p" holds, at site s1, 200 values
// of 64 KiB under "big/" (12.5 MiB) and 3 small ones under "small/".
func bigNamespace(t *testing.T) (*readMeter, sdkhost.HostServer) {
	t.Helper()
	sq, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	rm := &readMeter{SQLite: sq}
	h := New(rm, "events").For("p")
	for i := range 200 {
		if _, err := h.Put(t.Context(), "s1", fmt.Sprintf("big/%03d", i), bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := h.Put(t.Context(), "s1", fmt.Sprintf("small/%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	rm.reset()
	return rm, h
}

// TestScanWholeIsBounded: a scan asked for whole (a plugin built before
// paged scans) of a namespace larger than a plugin can receive in one
// answer stops reading the store at that bound and fails saying why and
// what to do, instead of reading all of it into the host's memory; a
// small prefix and a limit are answered whole as before.
func TestScanWholeIsBounded(t *testing.T) {
	t.Parallel()
	rm, h := bigNamespace(t)
	ctx := t.Context()

	for _, prefix := range []string{"", "big/"} {
		_, err := h.Scan(ctx, "s1", prefix, 0)
		read, _ := rm.reset()
		if read > 8<<20 {
			t.Errorf("a whole scan of prefix %q read %d bytes of the 12.5 MiB namespace from the store; want it to stop near the 4 MiB a plugin can receive", prefix, read)
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("whole scan of prefix %q: err %v, want ResourceExhausted", prefix, err)
		}
		for _, want := range []string{`plugin "p"`, `site "s1"`, fmt.Sprintf("prefix %q", prefix), "MaxWholeScan", "current medgate SDK", "narrower prefix or with a limit"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("whole scan error %q does not say %q", err, want)
			}
		}
	}
	if es, err := h.Scan(ctx, "s1", "small/", 0); err != nil || len(es) != 3 || es[2].Key != "small/2" || string(es[2].Value) != "v" {
		t.Errorf("Scan(small/) = %d entries, %v; want the 3 small entries", len(es), err)
	}
	if es, err := h.Scan(ctx, "s1", "big/", 10); err != nil || len(es) != 10 || es[9].Key != "big/009" || len(es[9].Value) != 64<<10 {
		t.Errorf("Scan(big/, limit 10) = %d entries, %v; want big/000 … big/009 with their values", len(es), err)
	}
}

// TestScanPages: a paged scan, followed after the last key of each page
// until more is false, gives every entry once, in key order, with the
// values the plugin does not hold; each page keeps to ScanPageBytes, and
// no store read of it returns more than a page and a batch.
func TestScanPages(t *testing.T) {
	t.Parallel()
	rm, h := bigNamespace(t)
	ps := h.(sdkhost.PagedScanServer)
	known := map[string]int64{}
	for i := 0; i < 200; i += 2 {
		known[fmt.Sprintf("big/%03d", i)] = 1
	}
	cases := map[string]struct {
		prefix string
		limit  int
		known  map[string]int64
		keys   int
	}{
		"whole namespace":   {"", 0, nil, 203},
		"a prefix":          {"big/", 0, nil, 200},
		"a limit":           {"big/", 150, nil, 150},
		"half known":        {"", 0, known, 203},
		"small":             {"small/", 0, nil, 3},
		"nothing there":     {"none/", 0, nil, 0},
		"limit over prefix": {"small/", 10, nil, 3},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []sdk.Entry
			after, pages := "", 0
			for {
				limit := 0
				if tc.limit > 0 {
					limit = tc.limit - len(got)
				}
				es, more, err := ps.ScanPage(t.Context(), "s1", tc.prefix, after, limit, tc.known)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				size := 0
				for _, e := range es {
					size += entrySize(e)
				}
				if size > ScanPageBytes && len(es) > 1 {
					t.Errorf("page %d: %d entries of %d bytes, over ScanPageBytes %d", pages, len(es), size, ScanPageBytes)
				}
				if more && len(es) == 0 {
					t.Fatalf("page %d: no entry, yet more", pages)
				}
				got = append(got, es...)
				if !more {
					break
				}
				after = es[len(es)-1].Key
				if pages > 1000 {
					t.Fatal("the scan does not end")
				}
			}
			_, most := rm.reset()
			if bound := ScanPageBytes + scanBatch*(64<<10+16); most > bound {
				t.Errorf("one store read returned %d bytes; want at most a page and a batch, %d", most, bound)
			}
			if len(got) != tc.keys {
				t.Fatalf("%d entries in %d pages, want %d", len(got), pages, tc.keys)
			}
			if tc.keys > 20 && pages < 2 {
				t.Errorf("%d entries of 64 KiB in %d page; want pages", len(got), pages)
			}
			for i, e := range got {
				if i > 0 && e.Key <= got[i-1].Key {
					t.Fatalf("entry %d %q after %q: not in key order", i, e.Key, got[i-1].Key)
				}
				v, held := tc.known[e.Key]
				switch {
				case !strings.HasPrefix(e.Key, tc.prefix):
					t.Errorf("entry %q outside prefix %q", e.Key, tc.prefix)
				case held && v == e.Version && e.Value != nil:
					t.Errorf("entry %q: the plugin holds version %d, yet its value came", e.Key, v)
				case !(held && v == e.Version) && len(e.Value) == 0:
					t.Errorf("entry %q came without its value", e.Key)
				}
			}
		})
	}
}
