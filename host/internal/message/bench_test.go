package message

import "testing"

// BenchmarkParse: the envelope of a pass-through request, parsed and
// checked as the pipeline does for every message.
//
//	go test ./host/internal/message -run '^$' -bench Parse -benchmem
func BenchmarkParse(b *testing.B) {
	v := []byte(`{"id":"bench-1764748800000000000-12345","site":"s1","type":"ledger.noop","occurredAt":"2026-12-03T07:30:00+08:00","payload":{"seq":12345,"note":"pass-through"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Parse(v); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
