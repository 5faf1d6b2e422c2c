package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkValidate500 validates one GYU102 input of 500 fee lines (the
// batch limit), decoded from JSON with numbers kept as json.Number as the
// adapters decode a request, against the embedded schema. It reports
// lines per second next to the allocation counts.
//
//	go test ./schemas -run '^$' -bench Validate500 -benchmem
func BenchmarkValidate500(b *testing.B) {
	sc, ok := Embedded().Get("workinjury", "GYU102")
	if !ok {
		b.Fatal("no embedded workinjury GYU102 schema")
	}
	in := sc.ExampleInput()
	lines, _ := in["fee"].([]any)
	if len(lines) == 0 {
		b.Fatalf("the GYU102 example has no fee lines: %v", in)
	}
	fee := make([]any, 500)
	for i := range fee {
		line := map[string]any{}
		for k, v := range lines[0].(map[string]any) {
			line[k] = v
		}
		line["detail_no"] = fmt.Sprintf("D%07d", i)
		fee[i] = line
	}
	in["fee"] = fee
	raw, err := json.Marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		b.Fatal(err)
	}
	if errs := sc.ValidateInput(doc); len(errs) > 0 {
		b.Fatalf("the example input does not validate: %v", errs[:min(5, len(errs))])
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if errs := sc.ValidateInput(doc); len(errs) > 0 {
			b.Fatal(errs[0])
		}
	}
	b.ReportMetric(float64(b.N*len(fee))/b.Elapsed().Seconds(), "lines/s")
}
