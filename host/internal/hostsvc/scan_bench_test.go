package hostsvc

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// BenchmarkScanStay is the host's side of the unique-detail-no read of the
// 20th GYU102 of a stay on SQLite: 19 detail maps of 500 lines (24.5 KB
// of JSON each, compressed at rest), read whole by Scan ("scan"), or by
// ScanKnown when the plugin holds 18 of them ("known": the keys and
// versions, and one value).
//
//	go test ./host/internal/hostsvc -run '^$' -bench ScanStay -benchmem
func BenchmarkScanStay(b *testing.B) {
	st, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h := New(st, "events").For("workinjury")
	known := map[string]int64{}
	for i := range 19 {
		var sb strings.Builder
		sb.WriteByte('{')
		for j := range 500 {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `"D%04d%04d":{"a":"10.00","f":"5.00","s":"5.00"}`, i, j)
		}
		sb.WriteByte('}')
		k := fmt.Sprintf("visit/V1/details/m%02d", i)
		if _, err := h.Put(b.Context(), "s1", k, []byte(sb.String())); err != nil {
			b.Fatal(err)
		}
		if i < 18 {
			known[k] = 1
		}
	}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if es, err := h.Scan(b.Context(), "s1", "visit/V1/details", 0); err != nil || len(es) != 19 {
				b.Fatal(len(es), err)
			}
		}
	})
	b.Run("known", func(b *testing.B) {
		b.ReportAllocs()
		ks := h.(sdkhost.KnownScanServer)
		for b.Loop() {
			if es, err := ks.ScanKnown(b.Context(), "s1", "visit/V1/details", 0, known); err != nil || len(es) != 19 {
				b.Fatal(len(es), err)
			}
		}
	})
}
