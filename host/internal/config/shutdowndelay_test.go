package config

import (
	"strings"
	"testing"
	"time"
)

// TestHTTPShutdownDelay: http.shutdownDelay is 0s unless set (a machine
// with no load balancer in front stops at once), takes 0s to 2m, and a
// value outside is a problem saying what is valid.
func TestHTTPShutdownDelay(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		line string // under http:, or none
		want time.Duration
		says string // the problem, if any
	}{
		"left out":     {want: 0},
		"kubernetes":   {line: "  shutdownDelay: 10s\n", want: 10 * time.Second},
		"zero":         {line: "  shutdownDelay: 0s\n", want: 0},
		"negative":     {line: "  shutdownDelay: -1s\n", says: "m.yaml:4: http.shutdownDelay: must be between 0s and 2m, is -1s"},
		"too long":     {line: "  shutdownDelay: 5m\n", says: "m.yaml:4: http.shutdownDelay: must be between 0s and 2m, is 5m0s"},
		"not duration": {line: "  shutdownDelay: 10\n", says: "http.shutdownDelay"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\nhttp:\n" + tc.line + "  ingressTimeout: 30s\n"
			if tc.says != "" {
				if got := problemsOf(t, src); !hasProblem(got, tc.says) {
					t.Errorf("missing problem %q in:\n%s", tc.says, strings.Join(got, "\n"))
				}
				return
			}
			c, err := Parse("m.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.HTTP.ShutdownDelay.D(); got != tc.want {
				t.Errorf("http.shutdownDelay = %s, want %s", got, tc.want)
			}
		})
	}
}
