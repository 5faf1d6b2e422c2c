package schemas

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// A string field may declare a pattern its whole value must match.
func TestPattern(t *testing.T) {
	t.Parallel()
	set, err := Load(fstest.MapFS{"test/T1.yaml": schemaFile(`input:
  - name: link
    type: string
    maxLength: 200
    pattern: 'https://\S+'
    example: https://emr.hospital.local/docs/a.pdf
  - name: nos
    type: array
    fields:
      - name: no
        type: string
        pattern: '[0-9]{4}'
        example: "0001"
`)})
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := set.Get("test", "T1")
	cases := map[string]struct {
		doc  map[string]any
		want []pathRule
	}{
		"matches":                   {doc: map[string]any{"link": "https://emr/docs/a.pdf?token=s3cret"}},
		"other scheme":              {doc: map[string]any{"link": "http://emr/docs/a.pdf?token=s3cret"}, want: []pathRule{{"$.link", RulePattern}}},
		"anchored at the start":     {doc: map[string]any{"link": "see https://emr/docs/a.pdf"}, want: []pathRule{{"$.link", RulePattern}}},
		"anchored at the end":       {doc: map[string]any{"link": "https://emr/docs/a.pdf and more"}, want: []pathRule{{"$.link", RulePattern}}},
		"empty is absent":           {doc: map[string]any{"link": ""}},
		"not a string: type only":   {doc: map[string]any{"link": 42}, want: []pathRule{{"$.link", RuleType}}},
		"in array items":            {doc: map[string]any{"nos": []any{map[string]any{"no": "0001"}, map[string]any{"no": "12345"}}}, want: []pathRule{{"$.nos[1].no", RulePattern}}},
		"too long and not matching": {doc: map[string]any{"link": "x" + strings.Repeat("y", 200)}, want: []pathRule{{"$.link", RuleLength}, {"$.link", RulePattern}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := sc.ValidateInput(tc.doc)
			if diff := cmp.Diff(tc.want, pathRules(errs)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s\n%v", diff, errs)
			}
			for _, e := range errs {
				if e.Rule == RulePattern && (!strings.Contains(e.Message, "the pattern `") || strings.Contains(e.Message, "s3cret") || strings.Contains(e.Message, "12345")) {
					t.Fatalf("message %q: want the pattern named and the value not shown", e.Message)
				}
			}
		})
	}
}

func TestPatternLoadProblems(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body string
		want []string
	}{
		"on an integer": {
			body: "input:\n  - name: a\n    type: integer\n    pattern: '[0-9]+'\n",
			want: []string{`test/T1.yaml:9: field "input.a.pattern": pattern only applies to string fields, not integer — remove it: enums, dates, datetimes and numbers have rules of their own`},
		},
		"not a regular expression": {
			body: "input:\n  - name: a\n    type: string\n    pattern: 'a(b'\n",
			want: []string{`test/T1.yaml:9: field "input.a.pattern": pattern ` + "`a(b`" + ` is not a valid regular expression: error parsing regexp: missing closing ): ` + "`a(b`" + ` — write it in Go's regexp (RE2) syntax, for example ` + "`https://\\S+`" + `; it must match the whole value`},
		},
		"example not matching": {
			body: "input:\n  - name: a\n    type: string\n    pattern: 'https://\\S+'\n    example: http://x\n",
			want: []string{`test/T1.yaml:10: field "input.a.example": the example fails the field's own rules: a does not match the pattern ` + "`https://\\S+`" + ` its schema declares (the whole value must match); send a value of that form — fix the example or the field`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(fstest.MapFS{"test/T1.yaml": schemaFile(tc.body)})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LoadError", err)
			}
			var got []string
			for _, p := range le.Problems {
				got = append(got, p.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// A schema built in memory with a broken pattern refuses every value of
// the field rather than letting any through unchecked.
func TestPatternBrokenInMemory(t *testing.T) {
	t.Parallel()
	sc := &Schema{Code: "T9", Input: []Field{{Name: "a", Type: Type{Kind: KindString}, Pattern: "a(b"}}}
	errs := sc.ValidateInput(map[string]any{"a": "ab"})
	if len(errs) != 1 || errs[0].Rule != RulePattern || !strings.Contains(errs[0].Message, "not a valid regular expression") {
		t.Fatalf("errors %v, want one pattern error saying the pattern is broken", errs)
	}
}

// WriteYAML keeps a field's pattern.
func TestPatternWritten(t *testing.T) {
	t.Parallel()
	sc := &Schema{Code: "T1", Name: "测", System: "test", Direction: DirectionQuery, Source: "test",
		Input: []Field{{Name: "a", Type: Type{Kind: KindString}, Pattern: `https://\S+`}}}
	var b bytes.Buffer
	if err := WriteYAML(&b, sc); err != nil {
		t.Fatal(err)
	}
	set, err := Load(fstest.MapFS{"test/T1.yaml": {Data: b.Bytes()}})
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	back, _ := set.Get("test", "T1")
	if got := back.Input[0].Pattern; got != `https://\S+` {
		t.Fatalf("pattern read back %q from\n%s", got, b.String())
	}
}
