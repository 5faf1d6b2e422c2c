package daemon

import (
	"strings"
	"testing"
)

func TestInstanceID(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"node-1":                 "medgate-node-1",
		"his host:8080":          "medgate-his-host-8080",
		"厦门一院":                   "medgate-------------",
		"a.b_c-D":                "medgate-a.b_c-D",
		strings.Repeat("n", 300): "medgate-" + strings.Repeat("n", 240),
	}
	for in, want := range cases {
		if got := instanceID(in); got != want {
			t.Errorf("instanceID(%q) = %q, want %q", in, got, want)
		}
		if len(instanceID(in)) > 249 {
			t.Errorf("instanceID(%q) is longer than Kafka's 249", in)
		}
	}
}
