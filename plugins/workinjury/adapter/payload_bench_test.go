package adapter

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/schemas"
)

// gyu102Payload is the payload of a 500-line GYU102 as the platform sends
// it (about 250 KB).
func gyu102Payload(tb testing.TB) []byte {
	tb.Helper()
	ls := make([]map[string]any, 500)
	for j := range ls {
		ls[j] = line(fmt.Sprintf("D%04d%04d", 1, j), "10.00", "2", "5.00")
	}
	b, err := json.Marshal(fees("V000001", "ZY000001", ls...))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkGYU102Request is the plugin's own work on the request of a
// 500-line GYU102, without the host and the national system: decode the
// payload, validate it against the schema, encode the request (or take
// the payload as it is, when it already is that JSON) and seal it (SM4 +
// SM2, as sent). Each step is also measured alone; marshal is the
// encoding of a payload that is not canonical.
//
//	go test ./plugins/workinjury/adapter -run '^$' -bench GYU102Request -benchmem
func BenchmarkGYU102Request(b *testing.B) {
	payload := gyu102Payload(b)
	sc, ok := schemas.Embedded().Get(Name, "GYU102")
	if !ok {
		b.Fatal("no GYU102 schema")
	}
	c, ds := parseSettings(testSite, withDefaults(map[string]string{setURL: "http://placeholder.invalid", setRegionCode: "350200", setKeyDir: b.TempDir()}))
	if ds.HasError() {
		b.Fatal(ds)
	}
	keys := testKeys().AdapterKeys()
	env := map[string]string{c.opts.Fields.TxCode: "GYU102", c.opts.Fields.MsgID: "H350200202612031400000000001"}
	decode := func(b *testing.B) map[string]any {
		doc, ds := decodeObject(payload)
		if ds.HasError() {
			b.Fatal(ds)
		}
		return doc
	}
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			decode(b)
		}
	})
	b.Run("validate", func(b *testing.B) {
		doc := decode(b)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if errs := sc.ValidateInput(doc); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
		doc := decode(b)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := marshal(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			doc, raw, ds := decodePayload(payload)
			if ds.HasError() {
				b.Fatal(ds)
			}
			if errs := sc.ValidateInput(doc); len(errs) > 0 {
				b.Fatal(errs)
			}
			plain, owned, err := requestJSON(requestInput(doc, raw))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := smenvelope.SealJSON(c.opts, keys, env, plain); err != nil {
				b.Fatal(err)
			}
			if owned {
				clear(plain)
			}
		}
	})
}

// reportCPU starts counting the process's CPU time (garbage collection
// included; it varies much less than wall time on a shared machine); the
// function it returns reports it per operation as cpu-ms/op.
func reportCPU(b *testing.B) func() {
	runtime.GC()
	cpu0 := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkDecodeGYD051: the payload of a filing verification (GYD051),
// a few members, decoded as Handle does for every query.
//
//	go test ./plugins/workinjury/adapter -run '^$' -bench DecodeGYD051 -benchmem
func BenchmarkDecodeGYD051(b *testing.B) {
	p := []byte(`{"aac002":"350203199001011234","aac003":"张三","akb020":"H35020000001","visit_date":"2026-12-05"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, ds := decodeObject(p); ds.HasError() {
			b.Fatal(ds)
		}
	}
}
