package simspec

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// A string field's pattern (schemas/README.md) must match the whole value.
func TestPattern(t *testing.T) {
	t.Parallel()
	spec, err := Load(fstest.MapFS{"t/T1.yaml": {Data: []byte(`code: T1
name: test
system: t
direction: upload
source: test
input:
  - {name: link, type: string, pattern: 'https://\S+'}
  - name: items
    type: array
    fields:
      - {name: no, type: string, pattern: '[0-9]{4}'}
`)}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := spec.Tx("t", "T1")
	cases := map[string]struct {
		doc  map[string]any
		want []string // "path rule"
	}{
		"matches":               {doc: map[string]any{"link": "https://emr/a.pdf", "items": []any{map[string]any{"no": "0001"}}}},
		"other scheme":          {doc: map[string]any{"link": "http://emr/a.pdf"}, want: []string{"$.link pattern"}},
		"anchored at the start": {doc: map[string]any{"link": "x https://emr/a.pdf"}, want: []string{"$.link pattern"}},
		"anchored at the end":   {doc: map[string]any{"link": "https://emr/a.pdf x"}, want: []string{"$.link pattern"}},
		"empty is absent":       {doc: map[string]any{"link": ""}},
		"in an item":            {doc: map[string]any{"items": []any{map[string]any{"no": "12345"}}}, want: []string{"$.items[0].no pattern"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, v := range tx.CheckInput(tc.doc) {
				got = append(got, v.Path+" "+v.Rule)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("violations %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPatternRefusedWhereItCannotApply(t *testing.T) {
	t.Parallel()
	for name, field := range map[string]string{
		"on an integer":      `{name: n, type: integer, pattern: '[0-9]+'}`,
		"not a regular expr": `{name: s, type: string, pattern: 'a(b'}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(fstest.MapFS{"t/T1.yaml": {Data: []byte("code: T1\nname: test\nsystem: t\ndirection: upload\nsource: test\ninput:\n  - " + field + "\n")}}, "t")
			if err == nil || !strings.Contains(err.Error(), "pattern") {
				t.Fatalf("err = %v, want the pattern refused", err)
			}
		})
	}
}
