package transforms

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEmbeddedLoads(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	var names []string
	for _, m := range set.List() {
		names = append(names, m.Name)
	}
	want := []string{
		"demo/hl7v2/ecard.register", "demo/hl7v2/ecard.scan", "demo/hl7v2/selfpay.4201A", "demo/hl7v2/selfpay.4202",
		"demo/hl7v2/workinjury.GYU101", "demo/hl7v2/workinjury.GYU102", "demo/hl7v2/workinjury.GYU103",
		"demo/json/ecard.register", "demo/json/selfpay.4201A", "demo/json/selfpay.4202",
		"demo/json/workinjury.GYU101", "demo/json/workinjury.GYU102", "demo/json/workinjury.GYU103",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("built-in mappings (-want +got):\n%s", diff)
	}
	if _, ok := set.Find("demo", FormatHL7v2, "workinjury.GYU102"); !ok {
		t.Error("Find(demo, hl7v2, workinjury.GYU102) found nothing")
	}
	if _, ok := set.Find("xm01", FormatHL7v2, "workinjury.GYU102"); ok {
		t.Error("a site without mappings must not get the demo site's")
	}
	if _, err := set.Get("xm01", FormatJSON, "workinjury.GYU101"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get for an unknown site: err = %v, want ErrNotFound", err)
	}
	if got := len(set.Tables("demo")); got == 0 {
		t.Error("the demo site has no tables")
	}
}

// TestLoadErrors checks that every kind of mistake in a mapping file is
// reported with its file, line and field, all at once.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	const okTable = "codes:\n  A: \"1\"\n"
	tests := map[string]struct {
		files map[string]string
		want  []string // each a substring of one problem, in order
	}{
		"unknown function": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: {expr: upperr(\"x\")}\n"},
			want:  []string{`s/json/t.T1.yaml:2: field "fields.id.expr": unknown function or variable "upperr" — did you mean "upper"?`},
		},
		"unknown variable": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: {expr: valeu}\n"},
			want:  []string{`:2: field "fields.id.expr": unknown function or variable "valeu" — did you mean "value"?`},
		},
		"expression syntax on a later line of a block": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id:\n    expr: |\n      1 +\n      (2\n"},
			want:  []string{`s/json/t.T1.yaml:5: field "fields.id.expr": expression error at column`},
		},
		"target not in schema": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: $.id\n  amuont: $.a\n"},
			want:  []string{`:3: field "fields.amuont": "amuont" is not a field of T1 — did you mean "amount"?`},
		},
		"nested target not in schema": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: $.id\n  lines:\n    each: $.l\n    fields:\n      no: '@.n'\n      nope: '@.x'\n"},
			want:  []string{`:7: field "fields.lines.nope": "nope" is not a field of T1`},
		},
		"malformed paths": {
			files: map[string]string{
				"s/json/t.T1.yaml":  "fields:\n  id: $.a..b\n  name: {from: 'PID-5'}\n  amount: {expr: 'src(\"$.x[\")'}\n",
				"s/hl7v2/t.T1.yaml": "fields:\n  id: PID-3(0)\n  name: $.x\n  qty: {expr: 'list(\"PID3\")'}\n",
			},
			want: []string{
				`s/hl7v2/t.T1.yaml:2: field "fields.id": bad HL7 location "PID-3(0)"`,
				`s/hl7v2/t.T1.yaml:3: field "fields.name": bad source path "$.x": an hl7v2 mapping reads HL7 locations`,
				`s/hl7v2/t.T1.yaml:4: field "fields.qty.expr": bad HL7 location "PID3"`,
				`s/json/t.T1.yaml:2: field "fields.id": bad source path "$.a..b"`,
				`s/json/t.T1.yaml:3: field "fields.name.from": bad source path "PID-5": a JSON path starts with $`,
				`s/json/t.T1.yaml:4: field "fields.amount.expr": bad source path "$.x["`,
			},
		},
		"several values where one is needed": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: $.a[*].b\n  name: {expr: 'src(\"$.a[*]\")'}\n"},
			want:  []string{`:2: field "fields.id": "$.a[*].b" names several values`, `:3: field "fields.name.expr": src("$.a[*]") names several values`},
		},
		"relative path outside each": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: '@.id'\n"},
			want:  []string{`:2: field "fields.id": "@.id" is relative to the current item`},
		},
		"unknown keys": {
			files: map[string]string{"s/json/t.T1.yaml": "descripton: x\nfields:\n  id: {form: $.id}\n"},
			want: []string{
				`:1: field "descripton": unknown key — did you mean "description"?`,
				`:3: field "fields.id.form": unknown key — did you mean "from"?`,
				`:3: field "fields.id": no source`,
			},
		},
		"unknown tables": {
			files: map[string]string{
				"s/json/t.T1.yaml":    "fields:\n  id: {from: $.id, lookup: itmes}\n  name: {expr: 'lookup(\"nope\", value)'}\n",
				"s/tables/items.yaml": okTable,
			},
			want: []string{
				`:2: field "fields.id.lookup": code table "itmes" is not known — did you mean "items"?`,
				`:3: field "fields.name.expr": code table "nope" is not known`,
			},
		},
		"required target not mapped": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  name: $.n\n  lines:\n    each: $.l\n    fields:\n      amount: '@.a'\n"},
			want: []string{
				`:2: field "fields.id": target field id (编号) is required by T1 but the mapping gives it no value`,
				`:6: field "fields.lines.no": target field no is required by T1`,
			},
		},
		"constants of the wrong type": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: {value: x}\n  amount: {from: $.a, default: abc}\n  qty: {value: \"1.5\"}\n  day: {value: \"2025-01-01\"}\n"},
			want: []string{
				`:3: field "fields.amount.default": "abc" is not a number`,
				`:4: field "fields.qty.value": "1.5" is not a whole number`,
				`:5: field "fields.day.value": "2025-01-01" is not a date in the layout "20060102"`,
			},
		},
		"float arithmetic into a decimal": {
			files: map[string]string{"s/json/t.T1.yaml": "fields:\n  id: $.id\n  amount: {expr: '1 / 3'}\n"},
			want:  []string{`:3: field "fields.amount.expr": the expression computes with binary floating point`},
		},
		"shapes": {
			files: map[string]string{"s/hl7v2/t.T1.yaml": "messageTypes: [DFT, ADT^A01]\ncharset: EBCDIC\ntimezone: Mars\nfields:\n  id: PID-3\n  lines: {fields: {no: FT1-1}}\n  obj: PID-5\n  name: {fields: {a: PID-5}}\n"},
			want: []string{
				`:1: field "messageTypes[0]": "DFT" is not an HL7 message type`,
				`:2: field "charset": character set "EBCDIC" is not known`,
				`:3: field "timezone": time zone "Mars" is not UTC or an offset`,
				`:6: field "fields.lines": a list target needs each:`,
				`:7: field "fields.obj": expected a mapping of keys to values`,
				`:8: field "fields.name.fields": unknown key`,
				`:8: field "fields.name": no source`,
			},
		},
		"lets": {
			files: map[string]string{"s/json/t.T1.yaml": "let:\n  a: {expr: vars.b}\n  b: $.b\n  src: $.c\n  1x: $.d\nfields:\n  id: {expr: vars.a + vars.b}\n"},
			want: []string{
				`:2: field "let.a.expr": vars.b is not defined (or is defined after this entry)`,
				`:4: field "let.src": "src" is already a variable or function name`,
				`:5: field "let.1x": "1x" is not a variable name`,
			},
		},
		"json-only and hl7-only keys": {
			files: map[string]string{"s/json/t.T1.yaml": "messageTypes: [ADT^A01]\ncharset: GBK\nfields:\n  id: $.id\n  lines: {each: FT1, fields: {no: '@.n'}}\n"},
			want: []string{
				`:1: field "messageTypes": messageTypes is only for hl7v2 mappings`,
				`:2: field "charset": charset is only for hl7v2 mappings`,
				`:5: field "fields.lines.each": bad source path "FT1"`,
			},
		},
		"hl7 each": {
			files: map[string]string{"s/hl7v2/t.T1.yaml": "fields:\n  id: PID-3\n  lines: {each: FT1-1, fields: {no: FT1-1}}\n"},
			want:  []string{`:3: field "fields.lines.each": "FT1-1" is not a segment ID`},
		},
		"files in the wrong place": {
			files: map[string]string{
				"s/xml/t.T1.yaml":        "fields: {}\n",
				"s/json/GYU101.yaml":     "fields: {}\n",
				"s/json/t.NOPE.yaml":     "fields: {}\n",
				"s/json/t.T1.yml":        "fields: {}\n",
				"loose.yaml":             "fields: {}\n",
				"s/json/deeper/t.T.yaml": "fields: {}\n",
			},
			want: []string{
				"loose.yaml: file is not where mapping files go",
				"s/json/GYU101.yaml: file name \"GYU101.yaml\" is not a message type",
				"s/json/deeper/t.T.yaml: file is not where mapping files go",
				`s/json/t.NOPE.yaml: no schema for t/NOPE, the target of message type t.NOPE — have plugin "t" declare it in its Schemas (sdk.DescribeResponse) as "t/NOPE.yaml"`,
				"s/json/t.T1.yml: mapping files must end in .yaml — rename it to t.T1.yaml",
				"s/xml/t.T1.yaml: format directory \"xml\" is not known",
			},
		},
		"bad YAML and tables": {
			files: map[string]string{
				"s/json/t.T1.yaml":    "fields:\n  id: [\n",
				"s/json/t.T1b.yaml":   "",
				"s/tables/t.yaml":     "codes: {}\n",
				"s/tables/u.yaml":     "codes:\n  A: [1]\n",
				"s/tables/v w.yaml":   okTable,
				"s/json/ecard.x.yaml": "a: &x 1\nb: *x\n",
			},
			want: []string{
				"s/json/ecard.x.yaml: no schema for ecard/x",
				"s/json/t.T1.yaml:2: not valid YAML",
				"s/json/t.T1b.yaml: no schema for t/T1b",
				`s/tables/t.yaml:1: field "codes": the table has no codes`,
				`s/tables/u.yaml:2: field "codes.A": expected a text value`,
				`s/tables/v w.yaml: "v w" is not a table name`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := loadFiles(t, tc.files)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LoadError", err)
			}
			lines := strings.Split(err.Error(), "\n")[1:]
			if len(lines) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(lines), len(tc.want), err)
			}
			for i, want := range tc.want {
				if i < len(lines) && !strings.Contains(lines[i], want) {
					t.Errorf("problem %d = %q\nwant it to contain %q", i, lines[i], want)
				}
			}
		})
	}
}

func TestOverlay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(p, data string) {
		t.Helper()
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The demo site's item table is replaced, a new site gets its own
	// GYU101 mapping, and a default mapping serves every other site.
	write("demo/tables/items.yaml", "codes:\n  Y00012: SITE-CODE\n  F00021: SITE-BED\n  C00105: SITE-CT\n  M00233: SITE-SYRINGE\n")
	write("xm01/json/ecard.register.yaml", "fields:\n  name: $.n\n  idType: {value: \"01\"}\n  idNumber: $.id\n  phone: $.p\n")
	write("default/json/ecard.register.yaml", "fields:\n  name: $.who\n  idType: {value: \"99\"}\n  idNumber: $.id\n  phone: $.p\n")
	write("testdata/xm01/json/ecard.register/a.in.json", `{"n":"张三","id":"X1","p":"13800000000"}`)
	base := mustEmbedded(t)
	set, err := base.Overlay(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := set.Find("demo", FormatHL7v2, "workinjury.GYU102")
	ex, err := Examples(EmbeddedExamples())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		if e.Mapping == m.Name && e.Case == "charges" {
			out, problems := m.Apply(e.Input, nil)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			if got := out["fee"].([]any)[0].(map[string]any)["ake001"]; got != "SITE-CODE" {
				t.Errorf("ake001 = %v, want the overlaid table's SITE-CODE", got)
			}
		}
	}
	if orig, _ := base.Find("demo", FormatHL7v2, "workinjury.GYU102"); orig.tables["items"]["Y00012"] == "SITE-CODE" {
		t.Error("Overlay changed the base set")
	}
	for site, want := range map[string]string{"xm01": "张三", "other": "李四"} {
		m, ok := set.Find(site, FormatJSON, "ecard.register")
		if !ok {
			t.Fatalf("no ecard.register mapping for site %s", site)
		}
		out, problems := m.Apply([]byte(`{"n":"张三","who":"李四","id":"X1","p":"13800000000"}`), nil)
		if len(problems) > 0 || out["name"] != want {
			t.Errorf("site %s: name = %v (problems %v), want %s", site, out["name"], problems, want)
		}
	}
	if m, _ := set.Find("demo", FormatJSON, "ecard.register"); m.Site != "demo" {
		t.Errorf("the demo site's own mapping must win over default, got %s", m.Name)
	}
	// An example without expected output fails, saying where to save
	// what it printed: a site's examples (medgate transform test -dir)
	// cannot be written with go test -update, which the message told.
	write("testdata/xm01/json/ecard.register/b.in.json", `{"n":"张三","id":"X1"}`)
	exs, err := Examples(os.DirFS(filepath.Join(dir, "testdata")))
	if err != nil || len(exs) != 2 {
		t.Fatalf("examples = %v, %v", exs, err)
	}
	for i, want := range []string{"save it as xm01/json/ecard.register/a.out.json", "save them as xm01/json/ecard.register/b.problems.json"} {
		if res := set.Run(exs[i], nil); res.Passed() || !strings.Contains(strings.Join(res.Diffs, "\n"), want) {
			t.Errorf("example %s without expected output must fail and say %q, got %+v", exs[i].Case, want, res.Diffs)
		}
	}

	write("xm01/json/selfpay.4202.yaml", "fields:\n  nope: $.x\n")
	if _, err := base.Overlay(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "xm01/json/selfpay.4202.yaml")+":2:") {
		t.Errorf("a broken overlay file must be named with its directory and line, got %v", err)
	}
	if _, err := base.Overlay(filepath.Join(dir, "missing")); err == nil {
		t.Error("Overlay of a missing directory must fail")
	}
}

func TestWithSchemas(t *testing.T) {
	t.Parallel()
	set := mustLoad(t, map[string]string{"s/json/t.T1.yaml": "fields:\n  id: $.id\n"})
	if _, err := set.WithSchemas(testSchemas(t)); err != nil {
		t.Errorf("same schema: %v", err)
	}
	other := mustEmbedded(t)
	if _, err := set.WithSchemas(other.schemas); err == nil || !strings.Contains(err.Error(), "no schema for t/T1") {
		t.Errorf("a schema set without T1 must reject the mapping, got %v", err)
	}
}
