package transforms

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/transforms/hl7"
)

// TestOutboundGolden runs every example under testdata/<site>/out/: each
// reply or event <case>.in.json must render as <case>.out.hl7 (one
// segment per line) or <case>.out.json, or be refused with the problems
// in <case>.problems.json. With -update the expected files are rewritten.
func TestOutboundGolden(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	examples, err := OutboundExamples(os.DirFS("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) == 0 {
		t.Fatal("no outbound examples under testdata/*/out")
	}
	for _, ex := range examples {
		t.Run(ex.Mapping+"/"+ex.Case, func(t *testing.T) {
			t.Parallel()
			res := set.RunOutbound(ex, nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if *update {
				dir := filepath.Join("testdata", filepath.FromSlash(ex.Mapping))
				want := filepath.Base(ex.WantFile)
				if strings.HasSuffix(want, ".problems.json") {
					want = ex.Case + ".out.json"
					if strings.Contains(ex.Mapping, "/hl7v2/") {
						want = ex.Case + ".out.hl7"
					}
				}
				other := ex.Case + ".problems.json"
				if len(res.Problems) > 0 {
					want, other = other, want
				}
				if err := os.WriteFile(filepath.Join(dir, want), res.Got, 0o644); err != nil {
					t.Fatal(err)
				}
				_ = os.Remove(filepath.Join(dir, other))
				return
			}
			if !res.Passed() {
				t.Errorf("%s differs from %s (run with -update to accept):\n%s\ngot:\n%s", ex.InputFile, ex.WantFile, strings.Join(res.Diffs, "\n"), res.Got)
			}
			for _, p := range res.Problems {
				if p.Mapping != ex.Mapping || p.Field == "" || p.Rule == "" || !strings.Contains(p.Message, ex.Mapping) {
					t.Errorf("problem %+v does not name its mapping, field and rule", p)
				}
			}
		})
	}
}

// TestEveryOutboundMappingHasExamples makes sure no shipped outbound
// mapping goes without a golden file.
func TestEveryOutboundMappingHasExamples(t *testing.T) {
	t.Parallel()
	examples, err := OutboundExamples(os.DirFS("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, ex := range examples {
		has[ex.Mapping] = true
	}
	for _, m := range mustEmbedded(t).OutboundList() {
		if !has[m.Name] {
			t.Errorf("outbound mapping %s has no example; add testdata/%s/<case>.in.json", m.Name, m.Name)
		}
	}
}

// TestOutboundLoadErrors checks that the mistakes particular to outbound
// mappings are reported with file, line and field, all at once.
func TestOutboundLoadErrors(t *testing.T) {
	t.Parallel()
	const msh = "segments:\n  MSH:\n    fields:\n      MSH-7: $.completedAt\n      MSH-10: $.id\n"
	tests := map[string]struct {
		files map[string]string
		want  []string
	}{
		"bad file name": {
			files: map[string]string{"s/out/hl7v2/replies.yaml": "messageType: ACK\n" + msh},
			want:  []string{`s/out/hl7v2/replies.yaml: file name "replies.yaml" is not an outbound mapping name — name it reply.yaml`},
		},
		"bad format directory": {
			files: map[string]string{"s/out/xml/reply.yaml": "fields:\n  a: $.id\n"},
			want:  []string{`format directory "xml" is not known`},
		},
		"hl7: no message type, MSH not first, bad locations": {
			files: map[string]string{"s/out/hl7v2/event.ecard.registered.yaml": "segments:\n  PID:\n    fields:\n      PID-3.x: $.a\n      PV1-2: $.b\n      PID-3(*).1: $.c\n  MSH:\n    fields:\n      MSH-2: {value: x}\n"},
			want: []string{
				`:1: field "messageType": an hl7v2 outbound mapping needs messageType:`,
				`:2: field "segments.PID": the first segment must be MSH`,
				`:4: field "segments.PID.fields.PID-3.x": bad HL7 location "PID-3.x"`,
				`:5: field "segments.PID.fields.PV1-2": PV1-2 is not a field of segment PID`,
				`:6: field "segments.PID.fields.PID-3(*).1": PID-3(*).1 selects among existing values`,
				`:7: field "segments.MSH": MSH must be the first segment`,
				`:9: field "segments.MSH.fields.MSH-2": MSH-1 and MSH-2 are the delimiters`,
				`field "segments.MSH.fields.MSH-7": MSH-7 is not mapped`,
				`field "segments.MSH.fields.MSH-10": MSH-10 is not mapped`,
			},
		},
		"unknown key and bad type": {
			files: map[string]string{"s/out/json/reply.yaml": "fields:\n  a: {from: $.id, typ: integer}\n  b: {from: $.id, type: intger}\n  c: {from: $.id, required: yes}\n"},
			want: []string{
				`:2: field "fields.a.typ": unknown key — did you mean "type"?`,
				`:3: field "fields.b.type": "intger" is not a value type`,
				`:4: field "fields.c.required": required takes true or false`,
			},
		},
		"ambiguous reverse lookup": {
			files: map[string]string{
				"s/tables/sex.yaml":     "codes:\n  M: \"1\"\n  male: \"1\"\n  F: \"2\"\n",
				"s/out/json/reply.yaml": "fields:\n  sex: {from: $.sex, reverseLookup: sex}\n  other: {from: $.x, reverseLookup: sexes}\n",
			},
			want: []string{
				`:2: field "reverseLookup": code table "sex" maps codes M, male to the same entry "1"`,
				`:3: field "fields.other.reverseLookup": code table "sexes" is not known`,
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

// TestRender covers what the golden files do not: lists in JSON output,
// type conversion, escaping and the lookup order of FindOutbound.
func TestRender(t *testing.T) {
	t.Parallel()
	set := mustLoad(t, map[string]string{
		"s/tables/sex.yaml": "codes:\n  M: \"1\"\n  F: \"2\"\n",
		"s/out/json/event.t.x.yaml": `fields:
  n: {from: $.payload.n, type: "decimal(10,2)"}
  at: {from: $.payload.at, type: datetime}
  sex: {from: $.payload.sex, reverseLookup: sex}
  lines:
    each: $.payload.lines
    filter: 'src("@.skip") != true'
    fields:
      no: {expr: pos}
      v: '@.v'
`,
		"s/out/hl7v2/event.yaml":      "messageType: ZZZ^Z01\nsegments:\n  MSH:\n    fields:\n      MSH-7: {from: $.at, expr: hl7ts(value)}\n      MSH-10: $.id\n  NTE:\n    each: $.notes\n    fields:\n      NTE-1: {expr: pos}\n      NTE-3: '@'\n",
		"default/out/json/reply.yaml": "fields:\n  ok: {from: $.status, expr: 'value == \"ok\"'}\n",
	})
	m, ok := set.FindOutbound("s", FormatJSON, KindEvent, "t.x")
	if !ok || m.Name != "s/out/json/event.t.x" {
		t.Fatalf("FindOutbound(s, json, event, t.x) = %v, %v", m, ok)
	}
	got, problems := m.Render([]byte(`{"payload":{"n":"12.5","at":"2026-12-03 10:00:00","sex":"2","lines":[{"v":"a"},{"v":"b","skip":true},{"v":3}]}}`), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	want := `{"at":"2026-12-03 10:00:00","lines":[{"no":1,"v":"a"},{"no":2,"v":3}],"n":12.50,"sex":"F"}`
	if string(got) != want {
		t.Errorf("Render = %s\nwant    %s", got, want)
	}
	if _, ok := set.FindOutbound("s", FormatJSON, KindEvent, "t.y"); ok {
		t.Error("an event type without a mapping (and no event.yaml) must not be mapped")
	}
	if m, ok := set.FindOutbound("s", FormatHL7v2, KindEvent, "t.y"); !ok || m.Name != "s/out/hl7v2/event" {
		t.Errorf("event.yaml must serve every event type: %v, %v", m, ok)
	}
	if m, ok := set.FindOutbound("xm01", FormatJSON, KindReply, "ecard.register"); !ok || m.Name != "default/out/json/reply" {
		t.Errorf("the default site's reply mapping must serve other sites: %v, %v", m, ok)
	}
	m, _ = set.FindOutbound("s", FormatHL7v2, KindEvent, "t.y")
	got, problems = m.Render([]byte(`{"id":"1","at":"2026-12-03T02:00:00Z","notes":["a|b^c~d\\e&f\nline 2","second"]}`), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	want = "MSH|^~\\&|||||20261203100000||ZZZ^Z01|1||2.5\rNTE|1||a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\.br\\line 2\rNTE|2||second\r"
	if string(got) != want {
		t.Errorf("Render = %q\nwant    %q", got, want)
	}
}

// FuzzRender renders arbitrary replies and events with the demo site's
// outbound mappings: Render never panics, and whatever it renders as HL7
// parses back with every segment the mapping wrote.
func FuzzRender(f *testing.F) {
	examples, err := OutboundExamples(os.DirFS("testdata"))
	if err != nil {
		f.Fatal(err)
	}
	for _, ex := range examples {
		f.Add(ex.Input)
	}
	f.Add([]byte(`{"status":"ok","requestId":"a|b","id":"x^y","errors":[{"rule":"r","message":"m\r\nMSH|evil"}]}`))
	set := Embedded()
	maps := set.OutboundList()
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, m := range maps {
			out, problems := m.Render(doc, nil)
			if len(problems) > 0 || m.Output != FormatHL7v2 {
				continue
			}
			msg, err := hl7.Parse(out)
			if err != nil {
				t.Fatalf("%s rendered %q, which does not parse: %v", m.Name, out, err)
			}
			if got, want := len(msg.Segments), strings.Count(string(out), "\r"); got != want {
				t.Fatalf("%s rendered %d segments but %d parse back: %q", m.Name, want, got, out)
			}
			if msg.Type() == "" {
				t.Fatalf("%s rendered no message type: %q", m.Name, out)
			}
		}
	})
}

func TestHL7Target(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`$.PID["PID-3.1"]`:  "PID-3.1",
		`$.MSA.MSA-1`:       "MSA-1",
		`$.ERR[1]["ERR-8"]`: "ERR[2]-8",
		`$.ERR[0].ERR-8`:    "ERR[1]-8",
		`$.ZEC`:             "ZEC",
		`$`:                 "$",
		`$.PID.XYZ-1`:       `$.PID.XYZ-1`,
	} {
		if got := hl7Target(in); got != want {
			t.Errorf("hl7Target(%s) = %s, want %s", in, got, want)
		}
	}
}
