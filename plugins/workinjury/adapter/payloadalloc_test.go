package adapter

import (
	"runtime"
	"testing"
)

// bytesPerRun is the heap allocated per call of f, averaged over runs
// (TotalAlloc counts every allocation exactly; run without t.Parallel so
// that no other test allocates meanwhile).
func bytesPerRun(runs int, f func()) uint64 {
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestSmallPayloadDecodeAllocates: a query's payload (GYD051, a few
// members) is decoded with what it holds, not with tables sized for the
// 500 lines of a GYU102. Until 2026-12-05 the parser made its table of
// repeated values with room for 64 before the first value, 4.6 KB for a
// payload of 100 bytes: a fifth of what the plugin allocated for a
// GYD051.
func TestSmallPayloadDecodeAllocates(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	cases := map[string]struct {
		payload string
		max     uint64 // bytes per decode
	}{
		"GYD051":  {`{"aac002":"350203199001011234","aac003":"张三","akb020":"H35020000001","visit_date":"2026-12-05"}`, 1536},
		"numbers": {`{"a":1,"b":2.50,"c":-3,"d":"x"}`, 1024},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := []byte(tc.payload)
			got := bytesPerRun(200, func() {
				if _, ds := decodeObject(p); ds.HasError() {
					t.Fatal(ds)
				}
			})
			if got > tc.max {
				t.Errorf("decoding %d bytes of payload allocates %d bytes, want at most %d", len(p), got, tc.max)
			}
		})
	}
}
