package schemas

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// brokenFS holds many mistakes; Load must report all of them at once.
var brokenFS = fstest.MapFS{
	"test/X001.yaml": {Data: []byte(`code: T009
name: 坏
system: other
direction: sideways
source: test
reconstructed: true
batchLimit: 5
batchField: items
input:
  - name: items
    type: string
    maxLenght: 5
  - name: kind
    type: enum
  - name: amt
    type: decimal(4,2)
    maxLength: 4
    example: 123.4
  - name: d
    type: date
    format: yyyy-MM-dd
  - name: s
    type: enum
    codes: nope
  - name: items
    type: string
  - name: o
    type: object
  - name: a.b
    type: strin
`)},
	"test/BAD.yaml":        {Data: []byte("code: BAD\nname: [unclosed\n")},
	"test/EMPTY.yaml":      {Data: []byte("")},
	"test/ALIAS.yaml":      {Data: []byte("code: &c ALIAS\nname: *c\n")},
	"test/OLD.yml":         {Data: []byte("code: OLD\n")},
	"test/deep/X.yaml":     {Data: []byte("code: X\n")},
	"test/codes/sex.yaml":  {Data: []byte("name: gender\ncodes: {}\n")},
	"test/testdata/x.yaml": {Data: []byte("ignored: true\n")},
	"test/.hidden.yaml":    {Data: []byte("ignored: true\n")},
	"test/README.md":       {Data: []byte("not a schema\n")},
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	set, err := Load(brokenFS)
	if set != nil {
		t.Errorf("Load returned a set despite problems")
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	var got []string
	for _, p := range le.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		`test/ALIAS.yaml:1: field "code": anchors and aliases (&x, *x) are not supported — write the value out in full`,
		`test/ALIAS.yaml:1: field "system": is required and missing — add system: …`,
		`test/ALIAS.yaml:1: field "direction": is required and missing — add direction: …`,
		`test/ALIAS.yaml:1: field "source": is required and missing — add source: …`,
		`test/ALIAS.yaml:2: field "name": anchors and aliases (&x, *x) are not supported — write the value out in full`,
		`test/BAD.yaml:1: not valid YAML: did not find expected ',' or ']' — fix the YAML syntax (indentation, quotes, colons)`,
		`test/EMPTY.yaml: file is empty — write a schema (see schemas/README.md) or delete the file`,
		`test/OLD.yml: schema files must end in .yaml — rename it to OLD.yaml`,
		`test/X001.yaml:1: field "code": code "T009" does not match the file name "X001.yaml" — write code: X001 or rename the file to T009.yaml`,
		`test/X001.yaml:1: field "reconstructionNote": reconstructed is true but there is no reconstructionNote — say what was reconstructed, from what, and how to replace it`,
		`test/X001.yaml:3: field "system": system "other" does not match the directory "test" — write system: test or move the file to other/`,
		`test/X001.yaml:4: field "direction": direction "sideways" is not known — use one of upload, download, query, revoke, feedback`,
		`test/X001.yaml:8: field "batchField": input field "items" is string, not an array — point batchField at an array field`,
		`test/X001.yaml:12: field "input.items.maxLenght": unknown key — did you mean "maxLength"? allowed keys are name, label, type, maxLength, lengthUnit, required, format, codes, example, fields, minItems, maxItems, description, platformOnly, requiredUnless, pattern, personal`,
		`test/X001.yaml:13: field "input.kind.codes": an enum needs a code table — add codes: with code: label lines, or codes: <name of a table in test/codes/>`,
		`test/X001.yaml:17: field "input.amt.maxLength": maxLength does not apply to decimal(4,2) — remove it; a decimal's length is its precision, decimal(p,s)`,
		`test/X001.yaml:18: field "input.amt.example": the example fails the field's own rules: amt has 3 digits before the decimal point, decimal(4,2) allows 2; the value is too large — fix the example or the field`,
		`test/X001.yaml:21: field "input.d.format": format "yyyy-MM-dd" looks like a Java pattern; medgate uses Go layouts — write "2006-01-02"`,
		`test/X001.yaml:24: field "input.s.codes": code table "nope" does not exist — create test/codes/nope.yaml or fix the name (known: none)`,
		`test/X001.yaml:25: field "input.items": field name is used twice (also on line 10) — rename or remove one of them`,
		`test/X001.yaml:27: field "input.o.fields": an object needs its fields — add fields: with at least one child field`,
		`test/X001.yaml:29: field "input.a.b": a field name may not contain spaces, dots, brackets or quotes — use the key exactly as the JSON carries it`,
		`test/X001.yaml:30: field "input.a.b.type": type "strin" is not known — did you mean "string"? use one of string, integer, decimal(p,s), date, datetime, enum, boolean, object, array`,
		`test/codes/sex.yaml:1: field "name": name "gender" does not match the file name "sex.yaml" — write name: sex or rename the file to gender.yaml`,
		`test/codes/sex.yaml:2: field "codes": code table is empty — list at least one code`,
		`test/deep/X.yaml: file is not where schema files go — move it to <system>/<code>.yaml (a transaction) or <system>/codes/<name>.yaml (a code table)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(err.Error(), "loading schemas: 26 problem(s)\n") {
		t.Errorf("Error() starts %q", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	var p Problem
	if !errors.As(err, &p) || p.File == "" {
		t.Errorf("errors.As(err, *Problem) failed: %v", p)
	}
}

func schemaFile(body string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("code: T1\nname: 测\nsystem: test\ndirection: query\nsource: test\n" + body)}
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		body string
		want []string // Problem.Error() of each problem
	}{
		"valid with comments and null output": {
			body: "# comment\ninput:\n  - name: a   # trailing\n    type: string\noutput:\n",
		},
		"unknown top-level key": {
			body: "inputs: []\n",
			want: []string{`test/T1.yaml:6: field "inputs": unknown key — did you mean "input"? allowed keys are code, name, system, direction, batchLimit, batchField, source, reconstructed, reconstructionNote, description, input, output`},
		},
		"duplicate key": {
			body: "source: again\n",
			want: []string{`test/T1.yaml:6: field "source": key is given twice — keep one of them`},
		},
		"batchLimit without batchField": {
			body: "batchLimit: 10\n",
			want: []string{`test/T1.yaml:6: field "batchLimit": batchLimit is set but batchField is missing — name the array it limits, e.g. batchField: fee (input) or batchField: output.records`},
		},
		"batchField without batchLimit": {
			body: "batchField: x\n",
			want: []string{`test/T1.yaml:6: field "batchField": batchField is set but batchLimit is 0 — set batchLimit to the most items per call, or remove batchField`},
		},
		"batchField names nothing": {
			body: "batchLimit: 10\nbatchField: output.list\n",
			want: []string{`test/T1.yaml:7: field "batchField": no output field "list" — give the dotted path of an array field; prefix output. for an output array`},
		},
		"negative batch limit": {
			body: "batchLimit: -1\n",
			want: []string{`test/T1.yaml:6: field "batchLimit": expected a whole number between 0 and 2147483647, got "-1" — write a non-negative number, for example 500`},
		},
		"note without reconstructed": {
			body: "reconstructionNote: x\n",
			want: []string{`test/T1.yaml:6: field "reconstructionNote": a reconstructionNote is given but reconstructed is not true — set reconstructed: true, or remove the note`},
		},
		"input is not a list": {
			body: "input: {a: 1}\n",
			want: []string{`test/T1.yaml:6: field "input": expected a list of fields, got a mapping — write one "- name: …" entry per field`},
		},
		"field without type and a string where a bool belongs": {
			body: "input:\n  - name: a\n    required: yes please\n",
			want: []string{
				`test/T1.yaml:7: field "input.a.type": is required and missing — add type: string (or integer, decimal(p,s), date, datetime, enum, boolean, object, array)`,
				`test/T1.yaml:8: field "input.a.required": expected true or false, got the value "yes please" — write true or false`,
			},
		},
		"enum example not in the codes": {
			body: "input:\n  - name: a\n    type: enum\n    codes: {\"1\": 是}\n    example: \"2\"\n",
			want: []string{`test/T1.yaml:10: field "input.a.example": the example fails the field's own rules: a: "2" is not a known code; use one of "1" (是) — fix the example or the field`},
		},
		// The example is checked against every rule of its field, required
		// included: an empty or blank one would make ExampleInput a document
		// its own schema refuses.
		"empty and blank examples of required fields": {
			body: "input:\n  - name: a\n    type: string\n    required: true\n    example: \"\"\n  - name: b\n    type: string\n    required: true\n    example: \"\u3000 \"\n  - name: c\n    type: string\n    example: \" \"\n",
			want: []string{
				`test/T1.yaml:10: field "input.a.example": the example of a required field is empty — write an example with a value`,
				`test/T1.yaml:14: field "input.b.example": the example of a required field holds only white space — write an example with a value`,
			},
		},
		"codes on a string and format on a string": {
			body: "input:\n  - name: a\n    type: string\n    codes: {\"1\": 是}\n    format: \"2006\"\n",
			want: []string{
				`test/T1.yaml:9: field "input.a.codes": codes only apply to enum fields, not string — set type: enum or remove codes`,
				`test/T1.yaml:10: field "input.a.format": format only applies to date and datetime, not string — remove it`,
			},
		},
		"layout that cannot hold a time": {
			body: "input:\n  - name: a\n    type: datetime\n    format: \"2006-01-02\"\n",
			want: []string{`test/T1.yaml:9: field "input.a.format": format "2006-01-02" cannot express a date and time — use a Go layout with year, month, day, hour and minute, like 2006-01-02 15:04:05 or 20060102150405`},
		},
		"date example in the wrong layout": {
			body: "input:\n  - name: a\n    type: date\n    format: \"20060102\"\n    example: \"2025-04-01\"\n",
			want: []string{`test/T1.yaml:10: field "input.a.example": the example fails the field's own rules: a: "2025-04-01" does not match the layout "20060102"; write it like "20250401" — fix the example or the field`},
		},
		"items bounds on a string and min above max": {
			body: "input:\n  - name: a\n    type: string\n    minItems: 1\n  - name: b\n    type: array\n    minItems: 3\n    maxItems: 2\n    fields:\n      - name: c\n        type: boolean\n",
			want: []string{
				`test/T1.yaml:7: field "input.a": minItems and maxItems only apply to arrays, not string — remove them`,
				`test/T1.yaml:12: field "input.b.minItems": minItems 3 is larger than maxItems 2 — lower minItems or raise maxItems`,
			},
		},
		"example on an object": {
			body: "input:\n  - name: a\n    type: object\n    example: x\n    fields:\n      - name: b\n        type: string\n",
			want: []string{`test/T1.yaml:9: field "input.a.example": an object takes its example from its fields — move the example to the child fields`},
		},
		"lengthUnit problems": {
			body: "input:\n  - name: a\n    type: string\n    lengthUnit: gbk\n    maxLength: 3\n  - name: b\n    type: string\n    lengthUnit: bytes\n",
			want: []string{
				`test/T1.yaml:9: field "input.a.lengthUnit": lengthUnit "gbk" is not known — use chars (characters) or bytes (UTF-8 bytes)`,
				`test/T1.yaml:13: field "input.b.lengthUnit": lengthUnit without maxLength has no effect — set maxLength or remove lengthUnit`,
			},
		},
		"platformOnly on an output, an array and a required field": {
			body: "input:\n  - name: a\n    type: array\n    platformOnly: true\n    fields:\n      - name: b\n        type: string\n  - name: c\n    type: string\n    required: true\n    platformOnly: true\noutput:\n  - name: d\n    type: string\n    platformOnly: true\n",
			want: []string{
				`test/T1.yaml:9: field "input.a.platformOnly": platformOnly applies to scalar fields, not array — remove it, or mark the scalar children instead`,
				`test/T1.yaml:15: field "input.c.required": a platformOnly field cannot be required: it stands in for a field of the external system — remove required, and give that field requiredUnless: c`,
				`test/T1.yaml:20: field "output.d.platformOnly": platformOnly applies to input fields only (platform messages are inputs) — remove it`,
			},
		},
		"requiredUnless naming a national field, and without required": {
			body: "input:\n  - name: a\n    type: string\n    required: true\n    requiredUnless: b\n  - name: b\n    type: string\n    requiredUnless: a\n",
			want: []string{
				`test/T1.yaml:7: field "input.a.requiredUnless": requiredUnless names "b", which is not a platformOnly field beside it — name a sibling field marked platformOnly: true, or remove requiredUnless`,
				`test/T1.yaml:11: field "input.b.requiredUnless": requiredUnless names "a", which is not a platformOnly field beside it — name a sibling field marked platformOnly: true, or remove requiredUnless`,
				`test/T1.yaml:13: field "input.b.requiredUnless": requiredUnless without required: true has no effect — add required: true or remove requiredUnless`,
			},
		},
		"two documents": {
			body: "---\ncode: T2\n",
			want: []string{`test/T1.yaml:6: file holds more than one YAML document — keep one schema per file and remove the extra ---`},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(fstest.MapFS{"test/T1.yaml": schemaFile(tc.body)})
			var got []string
			var le *LoadError
			if errors.As(err, &le) {
				for _, p := range le.Problems {
					got = append(got, p.Error())
				}
			} else if err != nil {
				t.Fatalf("err = %v, want a *LoadError", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetAccessors(t *testing.T) {
	t.Parallel()
	set := testSet(t)
	var codes []string
	for _, s := range set.List("test") {
		codes = append(codes, s.Code)
	}
	if diff := cmp.Diff([]string{"T001", "T002", "T003"}, codes); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"test"}, set.Systems()); diff != "" {
		t.Errorf("Systems (-want +got):\n%s", diff)
	}
	if got := set.List("nope"); len(got) != 0 {
		t.Errorf("List(nope) = %v", got)
	}
	if _, ok := set.Get("test", "T999"); ok {
		t.Errorf("Get(T999) found something")
	}
	if _, err := set.Lookup("test", "T999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup err = %v, want ErrNotFound", err)
	}
	tab, ok := set.CodeTable("test", "sex")
	if !ok || tab.Codes["1"] != "男" {
		t.Errorf("CodeTable(sex) = %+v, %v", tab, ok)
	}
	s, _ := set.Get("test", "T001")
	if f := find(s.Input, "code"); f.CodesRef != "sex" || f.Codes["2"] != "女" {
		t.Errorf("code field not resolved: %+v", f)
	}
	if s.File != "test/T001.yaml" {
		t.Errorf("File = %q", s.File)
	}
}

func writeFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestOverlay(t *testing.T) {
	t.Parallel()
	base := testSet(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		// Replace T002, add T004 and another system, and widen a code table.
		"test/T002.yaml":      "code: T002\nname: 附件（本院）\nsystem: test\ndirection: upload\nsource: site\ninput: []\n",
		"test/T004.yaml":      "code: T004\nname: 新增\nsystem: test\ndirection: query\nsource: site\n",
		"site/S1.yaml":        "code: S1\nname: 本地\nsystem: site\ndirection: query\nsource: site\n",
		"test/codes/sex.yaml": "name: sex\ncodes:\n  \"1\": 男\n  \"2\": 女\n  \"9\": 未说明\n",
	})
	over, err := base.Overlay(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := over.Get("test", "T002"); s.Name != "附件（本院）" || s.File != filepath.ToSlash(filepath.Join(dir, "test/T002.yaml")) {
		t.Errorf("T002 not replaced: %q from %q", s.Name, s.File)
	}
	if s, _ := base.Get("test", "T002"); s.Name != "附件" {
		t.Errorf("base changed: %q", s.Name)
	}
	if _, ok := over.Get("test", "T004"); !ok {
		t.Errorf("T004 not added")
	}
	if _, ok := over.Get("site", "S1"); !ok {
		t.Errorf("site/S1 not added")
	}
	if diff := cmp.Diff([]string{"site", "test"}, over.Systems()); diff != "" {
		t.Errorf("Systems (-want +got):\n%s", diff)
	}
	// T001 was not overlaid but uses the replaced table: it sees code 9.
	doc := decodeJSON(t, `{"name": "张三", "code": "9", "fee": [{"qty": 1}]}`)
	if errs := mustGet(t, over, "T001").ValidateInput(doc); errs != nil {
		t.Errorf("overlay T001: %v", errs)
	}
	if errs := mustGet(t, base, "T001").ValidateInput(doc); len(errs) != 1 || errs[0].Rule != RuleEnum {
		t.Errorf("base T001 should reject code 9: %v", errs)
	}
}

func mustGet(tb testing.TB, set *Set, code string) *Schema {
	tb.Helper()
	s, err := set.Lookup("test", code)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestOverlayErrors(t *testing.T) {
	t.Parallel()
	base := testSet(t)
	if _, err := base.Overlay(filepath.Join(t.TempDir(), "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: err = %v, want it to wrap os.ErrNotExist", err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"test/T002.yaml":      "code: T002\nname: x\nsystem: test\ndirection: upload\nsource: site\nbogus: 1\n",
		"test/codes/sex.yaml": "name: sex\ncodes:\n  \"3\": 其他\n",
	})
	_, err := base.Overlay(dir)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	var got []string
	for _, p := range le.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		filepath.ToSlash(filepath.Join(dir, "test/T002.yaml")) + `:6: field "bogus": unknown key — remove it; allowed keys are code, name, system, direction, batchLimit, batchField, source, reconstructed, reconstructionNote, description, input, output`,
		// T001 keeps its example "1", which the narrowed table no longer has.
		`test/T001.yaml: field "input.code.example": after the overlay replaced code table sex, the example fails: 性别 (code): "1" is not a known code; use one of "3" (其他) — overlay this schema too, with an example from the new table`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	file := filepath.Join(dir, "file.yaml")
	writeFiles(t, dir, map[string]string{"file.yaml": "x"})
	if _, err := base.Overlay(file); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("file as dir: err = %v", err)
	}
}
