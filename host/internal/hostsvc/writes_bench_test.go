package hostsvc

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// BenchmarkGYU102Writes is the host's side of the state writes of one
// GYU102 on SQLite (each commit synced to disk): the serial's record and
// the visit's in-flight mark before the call, the 500 fee lines (24.5 KB
// of JSON), the visit and the outcome after it, with their real sizes.
// "one-by-one" makes them as five Put and CompareAndSet calls (five
// commits, as before the sixth round), "write-state" as two WriteState
// calls (two commits).
//
//	go test ./host/internal/hostsvc -run '^$' -bench GYU102Writes -benchmem
func BenchmarkGYU102Writes(b *testing.B) {
	st, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h := New(st, "events").For("workinjury")
	var sb strings.Builder
	sb.WriteByte('{')
	for j := range 500 {
		if j > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"D%04d":{"a":"10.00","f":"5.00","s":"5.00"}`, j)
	}
	sb.WriteByte('}')
	lines := []byte(sb.String())
	rec := []byte(`{"code":"GYU102","serial":"350200YY2026120316000000012345","date":"2026-12-03","sentAt":"2026-12-03T08:00:00.123456789Z","sends":1}`)
	done := []byte(`{"code":"GYU102","serial":"350200YY2026120316000000012345","date":"2026-12-03","sentAt":"2026-12-03T08:00:00.123456789Z","sends":1,"done":true,"status":"ok","extCode":"0","extMsg":"成功","output":{}}`)
	visit := func(inFlight string) []byte {
		return []byte(`{"akb020":"H35020300123","akc190":"ZY0000000001","person":"0123456789abcdef01234567","aac002":"350203199001011234","aac003":"张三","filingNo":"BN350200000001","aka130":"41","instType":"1","aab301":"350200","admitted":"2026-12-02 08:00:00","status":"admitted"` + inFlight + `,"at":"2026-12-02T00:00:00Z"}`)
	}
	ctx := b.Context()
	vv, err := h.Put(ctx, "s1", "visit/V1", visit(""))
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	b.Run("one-by-one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n++
			msg, det := fmt.Sprintf("msg/m%d", n), fmt.Sprintf("visit/V1/details/m%d", n)
			if _, err := h.Put(ctx, "s1", msg, rec); err != nil {
				b.Fatal(err)
			}
			v, err := h.CompareAndSet(ctx, "s1", "visit/V1", vv, visit(`,"inFlight":["m"]`))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.CompareAndSet(ctx, "s1", det, 0, lines); err != nil {
				b.Fatal(err)
			}
			if vv, err = h.CompareAndSet(ctx, "s1", "visit/V1", v, visit("")); err != nil {
				b.Fatal(err)
			}
			if _, err := h.Put(ctx, "s1", msg, done); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write-state", func(b *testing.B) {
		b.ReportAllocs()
		w := h.(sdkhost.StateWriteServer)
		for b.Loop() {
			n++
			msg, det := fmt.Sprintf("msg/m%d", n), fmt.Sprintf("visit/V1/details/m%d", n)
			vs, err := w.WriteState(ctx, "s1", []sdk.StateWrite{{Key: msg, Value: rec, Put: true}, {Key: "visit/V1", Value: visit(`,"inFlight":["m"]`), Expect: vv}})
			if err != nil {
				b.Fatal(err)
			}
			vs, err = w.WriteState(ctx, "s1", []sdk.StateWrite{{Key: det, Value: lines}, {Key: "visit/V1", Value: visit(""), Expect: vs[1]}, {Key: msg, Value: done, Put: true}})
			if err != nil {
				b.Fatal(err)
			}
			vv = vs[1]
		}
	})
}
