package transforms

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/transforms/hl7"
)

// TestApplyJSON runs small json mappings against the test schema.
func TestApplyJSON(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mapping string
		tables  Tables
		input   string
		want    map[string]any
		rules   []string // the problems' Field:Rule, when the input is rejected
	}{
		"exact decimals": {
			mapping: "fields:\n  id: {value: x}\n  amount: {expr: 'dec(\"0.1\") + dec(\"0.2\")'}\n  lines:\n    each: $.l\n    fields:\n      no: {expr: str(pos)}\n      amount: {expr: 'round(dec(src(\"@.q\")) * dec(src(\"@.p\")), 2)'}\n",
			input:   `{"l":[{"q":3,"p":"0.335"},{"q":"1","p":1.005},{"q":-1,"p":"2.345"}]}`,
			want: map[string]any{"id": "x", "amount": "0.30", "lines": []any{
				map[string]any{"no": "1", "amount": "1.01"},
				map[string]any{"no": "2", "amount": "1.01"},
				map[string]any{"no": "3", "amount": "-2.35"},
			}},
		},
		"decimal functions and comparisons": {
			mapping: "fields:\n  id: {expr: 'dec(\"10\") > dec(\"9.99\") && dec(\"1.0\") == dec(\"1.00\") ? \"yes\" : \"no\"'}\n  amount: {expr: 'round(div(sum(list(\"$.a[*]\")), 3), 2)'}\n  qty: {expr: 'round(sub(mul(\"2.5\", 4), add(1, \"0.5\")), 0)'}\n",
			input:   `{"a":[1, "2", 0.5, null, ""]}`,
			want:    map[string]any{"id": "yes", "amount": "1.17", "qty": "9"},
		},
		"a time with fractional seconds its layout does not have": {
			mapping: "fields:\n  id: $.id\n  at: $.at\n  day: $.day\n",
			input:   `{"id":"1","at":"2025-04-01 08:30:00.5","day":"20250401.000"}`,
			rules:   []string{"$.at:format", "$.day:format"},
		},
		"numbers are written with the target's scale": {
			mapping: "fields:\n  id: $.id\n  amount: $.a\n  qty: $.q\n",
			input:   `{"id":"1","a":25,"q":"12"}`,
			want:    map[string]any{"id": "1", "amount": "25.00", "qty": "12"},
		},
		"too many decimals are reported, not rounded": {
			mapping: "fields:\n  id: $.id\n  amount: $.a\n",
			input:   `{"id":"1","a":25.005}`,
			rules:   []string{"$.amount:type"},
		},
		"times and zones": {
			mapping: "timezone: \"+08:00\"\nfields:\n  id: {value: x}\n  at: {from: $.t, expr: 'time(value, \"RFC3339\")'}\n  day: {from: $.d, expr: 'time(value, \"2006-01-02\")'}\n  name: {expr: 'formatTime(time(src(\"$.t\"), \"RFC3339\"), \"0102\")'}\n",
			input:   `{"t":"2025-03-31T18:30:00Z","d":"2025-04-01"}`,
			want:    map[string]any{"id": "x", "at": "2025-04-01 02:30:00", "day": "20250401", "name": "0401"},
		},
		"lookups with the caller's tables first": {
			mapping: "tables: [site]\nfields:\n  id: {from: $.c, lookup: site}\n  name: {expr: 'lookupOr(\"site\", src(\"$.d\"), \"none\")'}\n  kind: {from: $.k, lookup: shipped}\n",
			tables:  Tables{"site": {"A": "a1", "B": "b1"}},
			input:   `{"c":"A","d":"Z","k":"x"}`,
			want:    map[string]any{"id": "a1", "name": "none", "kind": "2"},
		},
		"unmapped code and missing table": {
			mapping: "tables: [site]\nfields:\n  id: {from: $.c, lookup: shipped}\n  name: {from: $.c, lookup: site}\n",
			input:   `{"c":"nope"}`,
			rules:   []string{"$.id:unmapped", "$.name:table"},
		},
		"defaults, conditions and coalesce": {
			mapping: "fields:\n  id: {from: $.id, default: D}\n  name: {when: src(\"$.show\") == true, expr: 'coalesce(src(\"$.a\"), src(\"$.b\"), \"c\")'}\n  flag: {from: $.f}\n  kind: {from: $.k, when: 'false'}\n  obj:\n    fields:\n      a: {value: fixed}\n      b: {from: $.missing}\n",
			input:   `{"show":true,"a":"","b":"B","f":"Y","k":"1"}`,
			want:    map[string]any{"id": "D", "name": "B", "flag": true, "obj": map[string]any{"a": "fixed"}},
		},
		"nested each with a filter": {
			mapping: "let:\n  base: {from: $.v, expr: upper(value)}\nfields:\n  id: {expr: vars.base}\n  lines:\n    each: $.visits[0].lines\n    filter: src(\"@.skip\") != true\n    fields:\n      no: {expr: 'vars.base + \"-\" + pad(pos, 3)'}\n      diags:\n        each: '@.dx'\n        fields:\n          code: '@'\n",
			input:   `{"v":"zy1","visits":[{"lines":[{"dx":["A","B"]},{"skip":true,"dx":["C"]},{"dx":[]}]}]}`,
			want: map[string]any{"id": "ZY1", "lines": []any{
				map[string]any{"no": "ZY1-001", "diags": []any{map[string]any{"code": "A"}, map[string]any{"code": "B"}}},
				map[string]any{"no": "ZY1-002"},
			}},
		},
		"resident ID helpers": {
			mapping: "fields:\n  id: {expr: idGender(src(\"$.n\"))}\n  day: {expr: idBirth(src(\"$.n\"))}\n  name: {expr: 'idGender(\"123\") ?? \"none\"'}\n",
			input:   `{"n":"11010519491231002x"}`,
			want:    map[string]any{"id": "2", "day": "19491231", "name": "none"},
		},
		"fail rejects the message": {
			mapping: "fields:\n  id: {from: $.id, expr: 'len(value) > 3 ? fail(\"the id is too long for the demo\") : value'}\n",
			input:   `{"id":"12345"}`,
			rules:   []string{"$.id:mapping"},
		},
		"required lists and wrong shapes": {
			mapping: "fields:\n  id: {value: x}\n  lines:\n    each: $.l\n    fields:\n      no: '@.n'\n  name: $.obj\n",
			input:   `{"l":{"n":1},"obj":{"a":1}}`,
			rules:   []string{"$.lines:type", "$.name:type"},
		},
		"every problem at once, sorted by path": {
			mapping: "fields:\n  id: $.id\n  name: $.name\n  kind: $.k\n  at: $.at\n  lines:\n    each: $.l\n    fields:\n      no: '@.n'\n      amount: '@.a'\n",
			input:   `{"name":"much too long","k":"9","at":"2025-04-01","l":[{"n":"1"},{"n":"2"},{"n":"3","a":"x"},{"a":1},{"n":"5"}]}`,
			rules:   []string{"$.at:format", "$.id:required", "$.kind:enum", "$.lines:batch", "$.lines[2].amount:type", "$.lines[3].no:required", "$.name:length"},
		},
		"bad input": {
			mapping: "fields:\n  id: $.id\n",
			input:   `{"id":`,
			rules:   []string{"$:format"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			set := mustLoad(t, map[string]string{
				"s/json/t.T1.yaml":      tc.mapping,
				"s/tables/shipped.yaml": "codes:\n  x: \"2\"\n",
			})
			m, _ := set.Find("s", FormatJSON, "t.T1")
			out, problems := m.Apply([]byte(tc.input), tc.tables)
			checkResult(t, m, out, problems, tc.want, tc.rules)
		})
	}
}

func checkResult(t *testing.T, m *Mapping, out map[string]any, problems []Problem, want map[string]any, rules []string) {
	t.Helper()
	if rules != nil {
		var got []string
		for _, p := range problems {
			got = append(got, p.Field+":"+p.Rule)
			if p.Mapping != m.Name || !strings.Contains(p.Message, m.Name) {
				t.Errorf("problem %+v does not name the mapping", p)
			}
		}
		if diff := cmp.Diff(rules, got); diff != "" {
			t.Errorf("problems (-want +got):\n%s\n%v", diff, problems)
		}
		return
	}
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if diff := cmp.Diff(want, roundTripStrings(t, out)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if errs := m.Schema.ValidateInput(out); len(errs) > 0 {
		t.Errorf("output does not validate: %v", errs)
	}
}

// roundTripStrings encodes the output and decodes it with numbers as their
// JSON text, so that tests see exactly what is sent.
func roundTripStrings(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return numbersToStrings(out)
}

func numbersToStrings(v any) any {
	switch x := v.(type) {
	case json.Number:
		return string(x)
	case map[string]any:
		for k, e := range x {
			x[k] = numbersToStrings(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersToStrings(e)
		}
	}
	return v
}

// TestApplyHL7 runs small hl7v2 mappings.
func TestApplyHL7(t *testing.T) {
	t.Parallel()
	const msg = "MSH|^~\\&|HIS|H|MG|H|20250401101500||DFT^P03|1|P|2.5\r" +
		"PID|1||A1^^^HIS^PI~110105194912310021^^^CHN^NN||张\\T\\三^^^^^^L\r" +
		"PV1|1|I|W1^^3\r" +
		"FT1|1|T1||20250401110000+0000||CG|I1^药品一\r" +
		"DG1|1||D1^诊断一\r" +
		"DG1|2||D2^诊断二\r" +
		"FT1|2|T2||20250401|||I2^药品二\r" +
		"DG1|1||D3^诊断三\r"
	tests := map[string]struct {
		mapping string
		input   []byte
		want    map[string]any
		rules   []string
	}{
		"groups, repetitions and escapes": {
			mapping: "messageTypes: [DFT^P03]\nfields:\n  id: PID-3(5=NN).1\n  name: PID-5.1\n  obj:\n    fields:\n      a: {expr: 'join(list(\"PID-3(*).5\"), \",\")'}\n      b: {expr: 'join(list(\"DG1-3.1\"), \",\")'}\n  lines:\n    each: FT1\n    fields:\n      no: FT1-2\n      diags:\n        each: DG1\n        fields:\n          code: {expr: 'src(\"FT1-7.1\") + \"/\" + src(\"DG1-3.1\")'}\n",
			input:   []byte(msg),
			want: map[string]any{"id": "110105194912310021", "name": "张&三",
				"obj": map[string]any{"a": "PI,NN", "b": "D1,D2,D3"},
				"lines": []any{
					map[string]any{"no": "T1", "diags": []any{map[string]any{"code": "I1/D1"}, map[string]any{"code": "I1/D2"}}},
					map[string]any{"no": "T2", "diags": []any{map[string]any{"code": "I2/D3"}}},
				}},
		},
		"times with offsets": {
			mapping: "fields:\n  id: {value: x}\n  lines:\n    each: FT1\n    fields:\n      no: {from: FT1-4, expr: 'formatTime(hl7time(value), \"2006-01-02 15:04\")'}\n",
			input:   []byte(msg),
			want: map[string]any{"id": "x", "lines": []any{
				map[string]any{"no": "2025-04-01 19:00"}, map[string]any{"no": "2025-04-01 00:00"}}},
		},
		"MLLP framing and a JSON string": {
			mapping: "fields:\n  id: PID-3\n  name: {expr: msgType}\n",
			input:   append(append([]byte{hl7.StartBlock}, msg...), hl7.EndBlock, '\r'),
			want:    map[string]any{"id": "A1", "name": "DFT^P03"},
		},
		"GB 18030 without MSH-18": {
			mapping: "charset: GB18030\nfields:\n  id: PID-3\n  name: PID-5.1\n",
			input:   mustGB(t, msg),
			want:    map[string]any{"id": "A1", "name": "张&三"},
		},
		// Over Kafka an HL7 payload is a JSON string: Unicode text that may
		// still declare (or default to) GB 18030.
		"GB 18030 in MSH-18, in a JSON string": {
			mapping: "fields:\n  id: PID-3\n  name: PID-5.1\n",
			input:   mustJSON(t, strings.Replace(msg, "|2.5\r", "|2.5|||||CHN|GB 18030-2000\r", 1)),
			want:    map[string]any{"id": "A1", "name": "张&三"},
		},
		"GB 18030 default, in a JSON string": {
			mapping: "charset: GB18030\nfields:\n  id: PID-3\n  name: PID-5.1\n",
			input:   mustJSON(t, msg),
			want:    map[string]any{"id": "A1", "name": "张&三"},
		},
		"wrong message type": {
			mapping: "messageTypes: [ADT^A01]\nfields:\n  id: PID-3\n",
			input:   []byte(msg),
			rules:   []string{"$:type"},
		},
		"not HL7": {
			mapping: "fields:\n  id: PID-3\n",
			input:   []byte(`{"id":1}`),
			rules:   []string{"$:format"},
		},
		"sources named with their occurrence": {
			mapping: "fields:\n  id: PID-3\n  lines:\n    each: FT1\n    fields:\n      no: FT1-99\n",
			input:   []byte(msg),
			rules:   []string{"$.lines[0].no:required", "$.lines[1].no:required"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			set := mustLoad(t, map[string]string{"s/hl7v2/t.T1.yaml": tc.mapping})
			m, _ := set.Find("s", FormatHL7v2, "t.T1")
			out, problems := m.Apply(tc.input, nil)
			checkResult(t, m, out, problems, tc.want, tc.rules)
		})
	}

	set := mustLoad(t, map[string]string{"s/hl7v2/t.T1.yaml": "fields:\n  id: PID-3\n  lines:\n    each: FT1\n    fields:\n      no: FT1-99\n"})
	m, _ := set.Find("s", FormatHL7v2, "t.T1")
	quoted, _ := json.Marshal(msg)
	_, problems := m.Apply(quoted, nil)
	if len(problems) != 2 || problems[1].Source != "FT1[2]-99" || !strings.Contains(problems[1].Message, "FT1[2]-99") {
		t.Errorf("problems = %+v, want the second to name FT1[2]-99", problems)
	}
}

func mustJSON(t testing.TB, s string) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGB(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hl7.Encode(s, "GB18030")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestApplyConcurrent maps from many goroutines at once (run with -race).
func TestApplyConcurrent(t *testing.T) {
	t.Parallel()
	m := mustMapping(t, "demo/hl7v2/workinjury.GYU102")
	msg := dftBatch(20)
	want, problems := m.Apply(msg, nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 10 {
				got, problems := m.Apply(msg, nil)
				if len(problems) > 0 || !cmp.Equal(want, got) {
					done <- errWrong
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

var errWrong = errorString("concurrent Apply gave a different result")

type errorString string

func (e errorString) Error() string { return string(e) }

func TestDiffJSON(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		want, got string
		diffs     []string
	}{
		"equal":          {`{"a":[1,{"b":"x"}]}`, `{"a": [1, {"b": "x"}]}`, nil},
		"number as text": {`{"a":25.00}`, `{"a":25.0}`, []string{`$.a: want 25.00, got 25.0`}},
		"missing/extra":  {`{"a":1,"b":2}`, `{"a":1,"c":2}`, []string{`$.b: want 2, got nothing`, `$.c: want nothing, got 2`}},
		"list length":    {`[1,2]`, `[1]`, []string{`$[1]: want 2, got nothing`}},
		"type":           {`{"a":"1"}`, `{"a":1}`, []string{`$.a: want "1", got 1`}},
		"string":         {`{"a b":"abc"}`, `{"a b":"abd"}`, []string{`$["a b"]: want "abc", got "abd"`}},
		"bad JSON":       {`{`, `{}`, []string{"the expected output is not valid JSON: unexpected EOF"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.diffs, DiffJSON([]byte(tc.want), []byte(tc.got))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestApplyManySegmentsLinear maps a crafted message with a hundred
// thousand FT1 segments whose items read segments the message does not
// have (PV1-19, as the demo 4201A mapping does, and DG1[6=A]): each read
// searched every segment of the message again, so one message of about a
// megabyte cost minutes of CPU. The searches must be answered once per
// message.
func TestApplyManySegmentsLinear(t *testing.T) {
	t.Parallel()
	const n = 100_000
	set := mustLoad(t, map[string]string{"s/hl7v2/t.T1.yaml": "fields:\n  id: {value: x}\n  lines:\n    each: FT1\n    fields:\n      no: {expr: 'src(\"PV1-19\") ?? \"x\"'}\n      amount: DG1[6=A]-3\n"})
	m, _ := set.Find("s", FormatHL7v2, "t.T1")
	msg := "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20250401101500||DFT^P03|MSG0001|P|2.5\r" + strings.Repeat("FT1|1\r", n)
	type result struct {
		out      map[string]any
		problems []Problem
	}
	done := make(chan result, 1)
	go func() {
		out, problems := m.Apply([]byte(msg), nil)
		done <- result{out, problems}
	}()
	select {
	case r := <-done:
		lines, _ := r.out["lines"].([]any)
		if len(lines) != n {
			t.Fatalf("%d lines, want %d (problems %v)", len(lines), n, r.problems[:min(len(r.problems), 3)])
		}
		if no := lines[n-1].(map[string]any)["no"]; no != "x" {
			t.Errorf("last line's no = %v, want x", no)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("mapping %d FT1 segments took over 30s; segment searches must not repeat per item", n)
	}
}

// TestApplyNestedEachLinear maps a crafted message of a hundred thousand
// FT1 segments each followed by a DG1, with a nested group (each: DG1
// inside each: FT1): every FT1 item counted the occurrences of DG1 over
// the whole message, so the mapping cost CPU quadratic in the number of
// segments.
func TestApplyNestedEachLinear(t *testing.T) {
	t.Parallel()
	const n = 100_000
	set := mustLoad(t, map[string]string{"s/hl7v2/t.T1.yaml": "fields:\n  id: {value: x}\n  lines:\n    each: FT1\n    fields:\n      no: FT1-1\n      diags:\n        each: DG1\n        fields:\n          code: DG1-3\n"})
	m, _ := set.Find("s", FormatHL7v2, "t.T1")
	msg := "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20250401101500||DFT^P03|MSG0001|P|2.5\r" + strings.Repeat("FT1|1\rDG1|1||S82\r", n)
	done := make(chan map[string]any, 1)
	go func() {
		out, _ := m.Apply([]byte(msg), nil)
		done <- out
	}()
	select {
	case out := <-done:
		lines, _ := out["lines"].([]any)
		if len(lines) != n {
			t.Fatalf("%d lines, want %d", len(lines), n)
		}
		diags, _ := lines[n-1].(map[string]any)["diags"].([]any)
		if len(diags) != 1 || diags[0].(map[string]any)["code"] != "S82" {
			t.Errorf("last line's diags = %v, want one with code S82", diags)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("mapping %d FT1 segments with nested DG1 took over 30s; a nested group must read only its parent's segments", n)
	}
}
