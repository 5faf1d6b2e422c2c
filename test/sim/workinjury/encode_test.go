package workinjury

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encodingJSON is what marshal wrote before appendJSON: encoding/json
// without HTML escaping.
func encodingJSON(t testing.TB, v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// TestAppendJSON: appendJSON writes what encoding/json writes, or leaves
// the value to it.
func TestAppendJSON(t *testing.T) {
	for _, v := range []any{
		nil, "", "a", true, false, 0, -7, int64(1) << 40,
		map[string]any{}, map[string]any(nil), []any{}, []any(nil), []map[string]any(nil), []string(nil), map[string]string(nil),
		map[string]any{"b": 1, "a": "x", "c": []any{"y", nil, map[string]any{"z": false}}},
		map[string]any{"accepted_count": 2, "results": []any{map[string]any{"detail_no": "D1", "result_flag": "1"}, map[string]any{"detail_no": "D2", "result_flag": "1"}}},
		[]map[string]any{{"k": "v"}}, []string{"a", "b"}, map[string]string{"y": "1", "x": "2"},
		"厦门市第一示例医院", "<&>", "a\"b", "a\\b", "\n\t\r\b\f\x01\x1f", "\u2028", "\u2029x", "\xff", "a\xc3", "\x7f",
		map[string]any{"\u2028": "k", "<": ">"},
	} {
		b, ok := appendJSON(nil, v)
		if !ok {
			t.Errorf("%#v: left to encoding/json", v)
			continue
		}
		if got, want := string(b), encodingJSON(t, v); got != want {
			t.Errorf("%#v: %s, want %s", v, got, want)
		}
	}
	for _, v := range []any{1.5, json.Number("1"), struct{}{}, map[string]any{"a": 1.5}, []any{float32(1)}} {
		if _, ok := appendJSON(nil, v); ok {
			t.Errorf("%#v: written by appendJSON", v)
		}
		got, err := marshal(v)
		if err != nil || string(got) != encodingJSON(t, v) {
			t.Errorf("marshal %#v: %s (%v)", v, got, err)
		}
	}
}

// FuzzAppendJSONString: every string is quoted as encoding/json quotes it.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "厦门", "\u2028", "\xff", "\"\\", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), encodingJSON(t, s); got != want {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
		m := map[string]any{s: []any{s, map[string]any{"k": s}}}
		b, ok := appendJSON(nil, m)
		if !ok || string(b) != encodingJSON(t, m) {
			t.Fatalf("%q in a map: %s", s, b)
		}
	})
}

// TestMarshalGYU102AnswerAllocs: the output of a 500-line GYU102 is
// encoded without reflection: a few allocations, not several per line.
func TestMarshalGYU102AnswerAllocs(t *testing.T) {
	results := make([]any, 500)
	for i := range results {
		results[i] = map[string]any{"detail_no": detailID("JZ350200", i), "result_flag": "1"}
	}
	out := map[string]any{"accepted_count": len(results), "results": results}
	b, err := marshal(out)
	if err != nil || string(b) != encodingJSON(t, out) {
		t.Fatalf("marshal: %v", err)
	}
	if n := testing.AllocsPerRun(10, func() { _, _ = marshal(out) }); n > 100 {
		t.Errorf("%.0f allocations to encode 500 results, want at most 100", n)
	}
}

// BenchmarkMarshalGYU102Answer: the output of a 500-line GYU102, by
// marshal and by encoding/json as marshal used before appendJSON.
func BenchmarkMarshalGYU102Answer(b *testing.B) {
	results := make([]any, 500)
	for i := range results {
		results[i] = map[string]any{"detail_no": detailID("JZ350200", i), "result_flag": "1"}
	}
	out := map[string]any{"accepted_count": len(results), "results": results}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = marshal(out)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = encodingJSON(b, out)
		}
	})
}
