package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestKafkaReleaseGrace: kafka.releaseGrace is 15s unless set; a value
// outside 1s..20s (within half the consumer group's rebalance timeout,
// and within the Kubernetes manifest's shutdown budget) is a problem at
// its key.
func TestKafkaReleaseGrace(t *testing.T) {
	t.Parallel()
	const head = "kafka:\n  embedded: {}\n"
	for name, tc := range map[string]struct {
		line string // the key's line, under kafka:
		want time.Duration
		msg  string // the problem at kafka.releaseGrace, if any
	}{
		"left out":    {"", 15 * time.Second, ""},
		"set":         {"  releaseGrace: 5s\n", 5 * time.Second, ""},
		"at most 20s": {"  releaseGrace: 20s\n", 20 * time.Second, ""},
		"too short":   {"  releaseGrace: 500ms\n", 0, "must be between 1s and 20s (the shutdown waits for it after the HTTP and MLLP requests, within Kubernetes' terminationGracePeriodSeconds), is 500ms"},
		"too long":    {"  releaseGrace: 30s\n", 0, "must be between 1s and 20s (the shutdown waits for it after the HTTP and MLLP requests, within Kubernetes' terminationGracePeriodSeconds), is 30s"},
		"zero":        {"  releaseGrace: 0s\n", 0, "remove the line for the default 15s"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(head+tc.line))
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := c.Kafka.ReleaseGrace.D(); got != tc.want {
					t.Errorf("kafka.releaseGrace reads as %s, want %s", got, tc.want)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse: %v, want a problem at kafka.releaseGrace", err)
			}
			for _, p := range ps {
				if p.Path == "kafka.releaseGrace" {
					if !strings.Contains(p.Message, tc.msg) {
						t.Errorf("problem %q does not say %q", p.Message, tc.msg)
					}
					if p.Line != 3 {
						t.Errorf("problem at line %d, want 3 (the key's line)", p.Line)
					}
					return
				}
			}
			t.Errorf("no problem at kafka.releaseGrace: %v", ps)
		})
	}
}
