package simspec

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// testFiles is a small spec with one field per rule.
var testFiles = fstest.MapFS{
	"t/codes/gender.yaml": {Data: []byte("name: gender\nsource: test\ncodes:\n  \"1\": 男\n  \"2\": 女\n")},
	"t/T1.yaml": {Data: []byte(`code: T1
name: test
system: t
direction: upload
batchLimit: 3
batchField: items
source: test
input:
  - {name: name, type: string, maxLength: 2, required: true}
  - {name: raw, type: string, maxLength: 6, lengthUnit: bytes}
  - {name: amt, type: "decimal(5,2)"}
  - {name: n, type: integer, maxLength: 3}
  - {name: d, type: date}
  - {name: dt, type: datetime, format: "20060102150405"}
  - {name: sex, type: enum, codes: gender}
  - {name: flag, type: enum, codes: {"0": 否, "1": 是}}
  - {name: ok, type: boolean}
  - name: items
    type: array
    minItems: 1
    maxItems: 4
    fields:
      - {name: no, type: string, required: true}
      - name: sub
        type: object
        fields:
          - {name: inner, type: string, maxLength: 2, required: true}
output:
  - name: records
    type: array
    fields:
      - {name: no, type: string, required: true}
`)},
}

func TestCheck(t *testing.T) {
	t.Parallel()
	spec, err := Load(testFiles, "t")
	if err != nil {
		t.Fatal(err)
	}
	tx, ok := spec.Tx("t", "T1")
	if !ok {
		t.Fatal("T1 not loaded")
	}
	item := func(no string) map[string]any { return map[string]any{"no": no} }
	valid := func() map[string]any {
		return map[string]any{"name": "张三", "raw": "张三", "amt": json.Number("123.45"), "n": json.Number("999"), "d": "2026-02-28",
			"dt": "20260228235959", "sex": "1", "flag": "0", "ok": true, "items": []any{item("1")}}
	}
	cases := map[string]struct {
		set  map[string]any // replaces keys of the valid document; nil deletes
		want []string       // "path rule", in order
	}{
		"valid":                      {},
		"decimal as string":          {set: map[string]any{"amt": "-999.5"}},
		"decimal trailing zeros":     {set: map[string]any{"amt": json.Number("1.200")}},
		"decimal exponent":           {set: map[string]any{"amt": json.Number("1.5e2")}},
		"decimal float":              {set: map[string]any{"amt": 0.1}},
		"integer as string":          {set: map[string]any{"n": "-12"}},
		"missing required":           {set: map[string]any{"name": nil}, want: []string{"$.name required"}},
		"empty required":             {set: map[string]any{"name": ""}, want: []string{"$.name required"}},
		"three Chinese characters":   {set: map[string]any{"name": "张三丰"}, want: []string{"$.name length"}},
		"bytes: seven":               {set: map[string]any{"raw": "张三a"}, want: []string{"$.raw length"}},
		"bytes: six ASCII is fine":   {set: map[string]any{"raw": "abcdef"}},
		"number for text":            {set: map[string]any{"name": json.Number("12")}, want: []string{"$.name type"}},
		"three decimals":             {set: map[string]any{"amt": json.Number("1.234")}, want: []string{"$.amt type"}},
		"four integer digits":        {set: map[string]any{"amt": "1234.5"}, want: []string{"$.amt type"}},
		"exponent too large":         {set: map[string]any{"amt": json.Number("1e3")}, want: []string{"$.amt type"}},
		"exponent in a string":       {set: map[string]any{"amt": "1e2"}, want: []string{"$.amt type"}},
		"comma decimal":              {set: map[string]any{"amt": "12,5"}, want: []string{"$.amt type"}},
		"plus sign":                  {set: map[string]any{"amt": "+1"}, want: []string{"$.amt type"}},
		"integer with fraction":      {set: map[string]any{"n": json.Number("1.5")}, want: []string{"$.n type"}},
		"integer four digits":        {set: map[string]any{"n": json.Number("1000")}, want: []string{"$.n length"}},
		"integer negative 3 digits":  {set: map[string]any{"n": json.Number("-999")}},
		"date that does not exist":   {set: map[string]any{"d": "2026-02-30"}, want: []string{"$.d format"}},
		"date without zero padding":  {set: map[string]any{"d": "2026-2-3"}, want: []string{"$.d format"}},
		"date in another layout":     {set: map[string]any{"d": "20260203"}, want: []string{"$.d format"}},
		"datetime with fraction":     {set: map[string]any{"dt": "20260228235959.5"}, want: []string{"$.dt format"}},
		"datetime in default layout": {set: map[string]any{"dt": "2026-02-28 23:59:59"}, want: []string{"$.dt format"}},
		"code not in table":          {set: map[string]any{"sex": "9"}, want: []string{"$.sex enum"}},
		"code with a space":          {set: map[string]any{"sex": "1 "}, want: []string{"$.sex enum"}},
		"code not inline":            {set: map[string]any{"flag": "2"}, want: []string{"$.flag enum"}},
		"boolean as text":            {set: map[string]any{"ok": "true"}, want: []string{"$.ok type"}},
		"no items":                   {set: map[string]any{"items": []any{}}, want: []string{"$.items length"}},
		"required in an item": {set: map[string]any{"items": []any{item("1"), map[string]any{"no": ""}}},
			want: []string{"$.items[1].no required"}},
		"required in an object in an item": {set: map[string]any{"items": []any{map[string]any{"no": "1", "sub": map[string]any{}}}},
			want: []string{"$.items[0].sub.inner required"}},
		"long text in an object in an item": {set: map[string]any{"items": []any{map[string]any{"no": "1", "sub": map[string]any{"inner": "张三丰"}}}},
			want: []string{"$.items[0].sub.inner length"}},
		"over the batch limit": {set: map[string]any{"items": []any{item("1"), item("2"), item("3"), item("4")}},
			want: []string{"$.items batch"}},
		"over maxItems and the batch limit": {set: map[string]any{"items": []any{item("1"), item("2"), item("3"), item("4"), item("5")}},
			want: []string{"$.items batch", "$.items length"}},
		"item not an object": {set: map[string]any{"items": []any{"1"}}, want: []string{"$.items[0] type"}},
		"unknown key":        {set: map[string]any{"nmae": "x"}, want: []string{"$.nmae unknown"}},
		"paths in order": {set: map[string]any{"items": []any{item("1"), item("2"), item(""), item("4"), item("5"), item("6"), item("7"), item("8"), item("9"), item("10"), item("")}},
			want: []string{"$.items batch", "$.items length", "$.items[2].no required", "$.items[10].no required"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := valid()
			for k, v := range tc.set {
				if v == nil {
					delete(doc, k)
				} else {
					doc[k] = v
				}
			}
			var got []string
			for _, v := range tx.CheckInput(doc) {
				got = append(got, v.Path+" "+v.Rule)
				if !strings.Contains(v.Error(), v.Path) || v.Message == "" {
					t.Errorf("violation %q does not say where and what", v.Error())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckOutput(t *testing.T) {
	t.Parallel()
	spec, err := Load(testFiles, "t")
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := spec.Tx("t", "T1")
	if got := tx.CheckOutput(map[string]any{"records": []any{map[string]any{"no": "1"}}}); got != nil {
		t.Errorf("valid output refused: %v", got)
	}
	got := tx.CheckOutput(map[string]any{"records": []any{map[string]any{}}, "name": "x"})
	var paths []string
	for _, v := range got {
		paths = append(paths, v.Path+" "+v.Rule)
	}
	// The input's batch limit does not apply to the output; input fields
	// are unknown there.
	if want := []string{"$.name unknown", "$.records[0].no required"}; !slices.Equal(paths, want) {
		t.Errorf("got %q, want %q", paths, want)
	}
	if got := tx.CheckOutput([]any{}); len(got) != 1 || got[0].Rule != RuleType {
		t.Errorf("an array as the output: %v, want one type violation", got)
	}
}

func TestLoadRefusesWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ file, want string }{
		"misspelt key":   {"code: X\nsystem: t\ninput:\n  - {name: a, type: string, maxLenght: 2}\n", "maxLenght"},
		"unknown type":   {"code: X\nsystem: t\ninput:\n  - {name: a, type: money}\n", `unknown type "money"`},
		"missing table":  {"code: X\nsystem: t\ninput:\n  - {name: a, type: enum, codes: nope}\n", `code table "nope"`},
		"enum no codes":  {"code: X\nsystem: t\ninput:\n  - {name: a, type: enum}\n", "needs codes"},
		"bad unit":       {"code: X\nsystem: t\ninput:\n  - {name: a, type: string, maxLength: 2, lengthUnit: runes}\n", `lengthUnit "runes"`},
		"bad decimal":    {"code: X\nsystem: t\ninput:\n  - {name: a, type: \"decimal(2,3)\"}\n", "decimal(2,3)"},
		"nested unknown": {"code: X\nsystem: t\ninput:\n  - {name: a, type: object, fields: [{name: b, type: strin}]}\n", "input.a.b"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(fstest.MapFS{"t/X.yaml": {Data: []byte(tc.file)}}, "t")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "t/X.yaml") {
				t.Errorf("got %v, want an error naming t/X.yaml and %q", err, tc.want)
			}
		})
	}
	if _, err := Load(fstest.MapFS{}, "t"); err == nil {
		t.Error("a spec without files loaded")
	}
}

// TestPlatformOnlyRefused: a platform-only field (GYU002's file_url, a
// medgate extension) is not part of the national interface: the simulator
// refuses a request that carries one as unknown, and one that gives it in
// place of file_content lacks file_content.
func TestPlatformOnlyRefused(t *testing.T) {
	t.Parallel()
	files, err := RepoFiles()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Load(files, "workinjury")
	if err != nil {
		t.Fatal(err)
	}
	tx, ok := spec.Tx("workinjury", "GYU002")
	if !ok {
		t.Fatal("GYU002 not loaded")
	}
	doc := func(extra map[string]any) map[string]any {
		att := map[string]any{"attachment_type": "01", "file_name": "a.pdf", "file_format": "pdf", "file_size": json.Number("4")}
		for k, v := range extra {
			att[k] = v
		}
		return map[string]any{"biz_type": "1", "biz_no": "BA1", "attachments": []any{att}}
	}
	tests := map[string]struct {
		doc  map[string]any
		want []string // path and rule of each violation
	}{
		"content":            {doc: doc(map[string]any{"file_content": "JVBERi0xLjQK"})},
		"content and link":   {doc: doc(map[string]any{"file_content": "JVBERi0xLjQK", "file_url": "https://x/a.pdf"}), want: []string{"$.attachments[0].file_url unknown"}},
		"link instead":       {doc: doc(map[string]any{"file_url": "https://x/a.pdf"}), want: []string{"$.attachments[0].file_content required", "$.attachments[0].file_url unknown"}},
		"null link, content": {doc: doc(map[string]any{"file_content": "JVBERi0xLjQK", "file_url": nil}), want: []string{"$.attachments[0].file_url unknown"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, v := range tx.CheckInput(tc.doc) {
				got = append(got, v.Path+" "+v.Rule)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations %v, want %v", got, tc.want)
			}
		})
	}
}

// blankFiles holds one transaction with a required field of every type
// and optional ones beside them.
var blankFiles = fstest.MapFS{"b/B1.yaml": {Data: []byte(`code: B1
name: 必填
system: b
direction: upload
source: test
input:
  - {name: s, label: 文本, type: string, maxLength: 10, required: true}
  - {name: e, type: enum, codes: {"1": 是, "0": 否}, required: true}
  - {name: d, type: date, required: true}
  - {name: t, type: datetime, format: "20060102150405", required: true}
  - {name: i, type: integer, maxLength: 9, required: true}
  - {name: n, type: "decimal(8,2)", required: true}
  - {name: b, type: boolean, required: true}
  - {name: o, type: object, required: true, fields: [{name: x, type: string, required: true}]}
  - {name: a, type: array, required: true, fields: [{name: x, type: string, required: true}]}
  - {name: os, type: string}
  - {name: od, type: date}
  - {name: oe, type: enum, codes: {"1": 是}}
  - {name: oi, type: integer}
`)}}

// TestCheckRefusesBlank: the requirements' non-empty check (按【是否必填】
// 属性完成非空校验) refuses a required value of white space alone (ASCII
// spaces, tabs and line breaks, the full-width space U+3000, a no-break
// space, a zero-width space or BOM) as it refuses "", whatever the field's
// type, nested ones too. A value with anything else in it is judged as it
// is, and an optional field's blank value by its type.
func TestCheckRefusesBlank(t *testing.T) {
	t.Parallel()
	spec, err := Load(blankFiles, "b")
	if err != nil {
		t.Fatal(err)
	}
	tx, ok := spec.Tx("b", "B1")
	if !ok {
		t.Fatal("B1 not loaded")
	}
	valid := func() map[string]any {
		return map[string]any{"s": "张三", "e": "1", "d": "2026-02-28", "t": "20260228235959", "i": json.Number("12"),
			"n": "12.50", "b": true, "o": map[string]any{"x": "x"}, "a": []any{map[string]any{"x": "x"}}}
	}
	tests := map[string]struct {
		field   string
		value   any
		want    []string // "path rule"
		wantMsg string   // in the first violation's message
	}{
		"string of ASCII spaces":        {field: "s", value: "   ", want: []string{"$.s required"}, wantMsg: "文本 (s) is required and holds only white space"},
		"string of U+3000":              {field: "s", value: "\u3000\u3000", want: []string{"$.s required"}},
		"string of tabs and CRLF":       {field: "s", value: "\t\r\n", want: []string{"$.s required"}},
		"string of no-break space":      {field: "s", value: "\u00a0", want: []string{"$.s required"}},
		"string of zero-width and BOM":  {field: "s", value: "\u200b\ufeff", want: []string{"$.s required"}},
		"string of other Unicode space": {field: "s", value: "\u2028\u205f\u1680\u0085", want: []string{"$.s required"}},
		"string with content":           {field: "s", value: "\u3000张三 "},
		"zero-width joiner is content":  {field: "s", value: "\u200d"},
		"enum":                          {field: "e", value: " ", want: []string{"$.e required"}},
		"date":                          {field: "d", value: "\u3000", want: []string{"$.d required"}},
		"datetime":                      {field: "t", value: "  ", want: []string{"$.t required"}},
		"integer as a string":           {field: "i", value: " ", want: []string{"$.i required"}},
		"decimal as a string":           {field: "n", value: "\u3000", want: []string{"$.n required"}},
		"boolean":                       {field: "b", value: " ", want: []string{"$.b required"}},
		"object":                        {field: "o", value: " ", want: []string{"$.o required"}},
		"array":                         {field: "a", value: "\t", want: []string{"$.a required"}},
		"in an object":                  {field: "o", value: map[string]any{"x": "\u3000"}, want: []string{"$.o.x required"}},
		"in an array item":              {field: "a", value: []any{map[string]any{"x": "x"}, map[string]any{"x": " "}}, want: []string{"$.a[1].x required"}},
		"empty string is still missing": {field: "s", value: "", want: []string{"$.s required"}, wantMsg: "is missing, null or empty"},
		"optional string of spaces":     {field: "os", value: "  "},
		"optional date of spaces":       {field: "od", value: "  ", want: []string{"$.od format"}},
		"optional enum of U+3000":       {field: "oe", value: "\u3000", want: []string{"$.oe enum"}},
		"optional integer of spaces":    {field: "oi", value: " ", want: []string{"$.oi type"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := valid()
			doc[tc.field] = tc.value
			vs := tx.CheckInput(doc)
			var got []string
			for _, v := range vs {
				got = append(got, v.Path+" "+v.Rule)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q (%v)", got, tc.want, vs)
			}
			if tc.wantMsg != "" && !strings.Contains(vs[0].Message, tc.wantMsg) {
				t.Errorf("message %q does not say %q", vs[0].Message, tc.wantMsg)
			}
		})
	}
}

// TestBlank: what Blank counts as white space alone.
func TestBlank(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{" ", true}, {"\u3000", true}, {"\t\n\r\v\f", true}, {"\u00a0", true}, {"\u200b", true}, {"\ufeff", true},
		{"\u2000\u200a\u202f\u3000", true},
		{"", false}, {nil, false}, {json.Number("0"), false}, {true, false}, {" a ", false}, {"\u200c", false}, {"\u2060", false},
		{"\u3000张", false},
	} {
		if got := Blank(tc.v); got != tc.want {
			t.Errorf("Blank(%#v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}
