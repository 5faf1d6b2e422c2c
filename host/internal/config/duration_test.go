package config

import (
	"strings"
	"testing"
)

// TestDurationInDays: Go durations have no day unit, and retention is
// thought of in days: "90d" is refused with the unit list and the same
// length in hours, so that the fix can be copied.
func TestDurationInDays(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src, path string
		want      []string
	}{
		"days": {
			src:  "kafka:\n  embedded: {}\nretention:\n  messages: 90d\n",
			path: "retention.messages",
			want: []string{`"90d" is not a duration`, "no unit for days", `"2160h"`},
		},
		"one day": {
			src:  "kafka:\n  embedded: {}\nprocessing:\n  retryBudget: 1d\n",
			path: "processing.retryBudget",
			want: []string{`"1d" is not a duration`, `"24h"`},
		},
		"no unit": {
			src:  "kafka:\n  embedded: {}\nprocessing:\n  callTimeout: 30\n",
			path: "processing.callTimeout",
			want: []string{`"30" is not a duration`, "ns, us, ms, s, m or h", `"30s"`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			at := problemsAt(t, tc.src, tc.path)
			if len(at) != 1 {
				t.Fatalf("%d problems at %s, want 1: %v", len(at), tc.path, at)
			}
			for _, w := range tc.want {
				if !strings.Contains(at[0].Message, w) {
					t.Errorf("message %q lacks %q", at[0].Message, w)
				}
			}
		})
	}
}
