package config

import (
	"errors"
	"strings"
	"testing"
)

// TestYAMLSyntaxErrorsSayHowToFix: a file YAML cannot read was reported
// in the YAML library's words alone ("mapping values are not allowed in
// this context", "found a tab character that violates indentation" at the
// line before the tab), which name no fix; "password: env: NAME" — the
// mistake the README warns of — read so. Each is now placed at its line
// and says what to change.
func TestYAMLSyntaxErrorsSayHowToFix(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src  string
		line int
		want []string
	}{
		"tab indentation": {
			src:  "log:\n  format: text\n\tlevel: info\n",
			line: 3,
			want: []string{"tab", "indent with spaces"},
		},
		"colon and space in a value": {
			src:  "store:\n  driver: postgres\n  dsn: env: PG_DSN\n",
			line: 3,
			want: []string{`": "`, "quotes", `"env:NAME"`},
		},
		"key indented too deep": {
			src:  "http:\n  listen: 127.0.0.1:8080\n   adminToken: file:t\n",
			line: 3,
			want: []string{"indent"},
		},
		"key without a colon": {
			src:  "node: a\nkafka\n  brokers: [k:9092]\n",
			line: 2,
			want: []string{`":"`, "indent"},
		},
		"bracket not closed": { // YAML names the line of the section: the message says "at or after"
			src:  "kafka:\n  brokers: [k:9092\n",
			want: []string{"]", "close", "at or after this line"},
		},
		"value starting with @": {
			src:  "node: @a\n",
			want: []string{"quote"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("medgate.yaml", []byte(tc.src))
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 {
				t.Fatalf("Parse(%q): %v, want one problem", tc.src, err)
			}
			if tc.line != 0 && ps[0].Line != tc.line {
				t.Errorf("Parse(%q): %v, want it at line %d", tc.src, ps[0], tc.line)
			}
			for _, w := range tc.want {
				if !strings.Contains(ps[0].Message, w) {
					t.Errorf("Parse(%q): %v\nwant it to say %q", tc.src, ps[0], w)
				}
			}
		})
	}
}
