package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestExplicitZeroIsAProblem: a key where 0 is not a valid value, written
// with 0, is reported at its key with what is valid and the default that
// removing the line gives, instead of silently becoming that default; the
// key left out takes the default with no problem.
func TestExplicitZeroIsAProblem(t *testing.T) {
	t.Parallel()
	const listener = "sites:\n  - code: demo\nmllp:\n  listeners:\n    - address: \"127.0.0.1:2575\"\n      site: demo\n"
	for _, tc := range []struct {
		path    string
		section string // YAML before the key; the key is indented under its last line
		key     string // the key with its zero, e.g. "maxAttempts: 0"
		valid   string
		def     string
		got     func(*Config) any
		want    any
	}{
		{"kafka.maxInFlight", "", "  maxInFlight: 0", "between 1 and 10000", "64", func(c *Config) any { return c.Kafka.MaxInFlight }, 64},
		{"kafka.maxBufferedMB", "", "  maxBufferedMB: 0", "between 1 and 65536", "64", func(c *Config) any { return c.Kafka.MaxBufferedMB }, 64},
		{"kafka.partitions", "", "  partitions: 0", "at least 1", "6", func(c *Config) any { return c.Kafka.Partitions }, 6},
		{"kafka.replicationFactor", "", "  replicationFactor: 0", "at least 1", "1", func(c *Config) any { return c.Kafka.ReplicationFactor }, int16(1)},
		{"http.ingressTimeout", "http:\n", "  ingressTimeout: 0s", "positive", "30s", func(c *Config) any { return c.HTTP.IngressTimeout.D() }, 30 * time.Second},
		{"http.writeTimeout", "http:\n", "  writeTimeout: 0s", "longer than http.ingressTimeout", "45s", func(c *Config) any { return c.HTTP.WriteTimeout.D() }, 45 * time.Second},
		{"http.maxConnections", "http:\n", "  maxConnections: 0", "between 1 and 100000", "1024", func(c *Config) any { return c.HTTP.MaxConnections }, 1024},
		{"console.sessionIdle", "console:\n", "  sessionIdle: 0s", "at least 1m", "30m", func(c *Config) any { return c.Console.SessionIdle.D() }, 30 * time.Minute},
		{"console.lockout.failures", "console:\n  lockout:\n", "    failures: 0", "between 1 and 100", "5", func(c *Config) any { return c.Console.Lockout.Failures }, 5},
		{"console.lockout.userFailures", "console:\n  lockout:\n", "    userFailures: 0", "between 1 and 10000", "20", func(c *Config) any { return c.Console.Lockout.UserFailures }, 20},
		{"console.lockout.userMaxWait", "console:\n  lockout:\n", "    userMaxWait: 0s", "between 1s and 24h", "15m", func(c *Config) any { return c.Console.Lockout.UserMaxWait.D() }, 15 * time.Minute},
		{"processing.maxPayloadBytes", "processing:\n", "  maxPayloadBytes: 0", "between 1 and", "983616", func(c *Config) any { return c.Processing.MaxPayloadBytes }, MaxPayloadLimit},
		{"processing.maxAttempts", "processing:\n", "  maxAttempts: 0", "at least 1", "8", func(c *Config) any { return c.Processing.MaxAttempts }, 8},
		{"processing.initialBackoff", "processing:\n", "  initialBackoff: 0ms", "positive", "500ms", func(c *Config) any { return c.Processing.InitialBackoff.D() }, 500 * time.Millisecond},
		{"processing.uploadDeadline", "processing:\n", "  uploadDeadline: 0m", "positive", "30m", func(c *Config) any { return c.Processing.UploadDeadline.D() }, 30 * time.Minute},
		{"processing.pluginCrashLimit", "processing:\n", "  pluginCrashLimit: 0", "at least 1", "3", func(c *Config) any { return c.Processing.PluginCrashLimit }, 3},
		{"processing.breakerCooldown", "processing:\n", "  breakerCooldown: 0s", "positive", "30s", func(c *Config) any { return c.Processing.BreakerCooldown.D() }, 30 * time.Second},
		{"retention.messages", "retention:\n", "  messages: 0s", "positive", "2160h", func(c *Config) any { return c.Retention.Messages.D() }, 90 * 24 * time.Hour},
		{"retention.interval", "retention:\n", "  interval: 0s", "at least 1m", "1h", func(c *Config) any { return c.Retention.Interval.D() }, time.Hour},
		{"mllp.listeners[0].maxConnections", listener, "      maxConnections: 0", "between 1 and 10000", "32", func(c *Config) any { return c.MLLP.Listeners[0].MaxConnections }, 32},
		{"mllp.listeners[0].processTimeout", listener, "      processTimeout: 0s", "at least 100ms", "1m30s", func(c *Config) any { return c.MLLP.Listeners[0].ProcessTimeout.D() }, 90 * time.Second},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			head := "kafka:\n  embedded: {}\n"
			if strings.HasPrefix(tc.path, "kafka.") {
				head = "kafka:\n  embedded: {}\n" + tc.key + "\n"
			} else {
				head += tc.section + tc.key + "\n"
			}
			line := strings.Count(head, "\n")
			_, err := Parse("/etc/medgate/medgate.yaml", []byte(head))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("%s written as 0: no problem reported (err %v); it silently became the default", tc.path, err)
			}
			var found *Problem
			for i := range ps {
				if ps[i].Path == tc.path {
					if found != nil {
						t.Errorf("%s reported twice: %v", tc.path, ps)
					}
					found = &ps[i]
				}
			}
			if found == nil {
				t.Fatalf("%s written as 0: no problem at the key; got %v", tc.path, ps)
			}
			if found.Line != line {
				t.Errorf("problem at line %d, want %d (the key's line)", found.Line, line)
			}
			for _, w := range []string{tc.valid, "remove the line for the default " + tc.def} {
				if !strings.Contains(found.Message, w) {
					t.Errorf("message %q does not say %q", found.Message, w)
				}
			}

			// Left out: the default, and no problem.
			src := "kafka:\n  embedded: {}\n"
			if strings.HasPrefix(tc.path, "mllp.") {
				src += listener
			}
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
			if err != nil {
				t.Fatalf("%s left out: %v", tc.path, err)
			}
			if got := tc.got(c); got != tc.want {
				t.Errorf("%s left out reads as %v, want the default %v", tc.path, got, tc.want)
			}
		})
	}
}

// TestExplicitZeroAllProblemsAtOnce: explicit zeros are listed with the
// file's other problems, and a key left empty or with a value that is not
// a number is not reported as a zero.
func TestExplicitZeroAllProblemsAtOnce(t *testing.T) {
	t.Parallel()
	src := "kafka:\n  embedded: {}\n  maxInFlight: 0\nlog:\n  format: xml\nprocessing:\n  maxAttempts: 0\n  pluginCrashLimit:\n  callTimeout: soon\n"
	c, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("no problems: %v", err)
	}
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	want := "kafka.maxInFlight log.format processing.maxAttempts processing.callTimeout"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("problems at %q, want %q:\n%v", got, want, ps)
	}
	if c.Processing.PluginCrashLimit != 3 {
		t.Errorf("pluginCrashLimit left empty reads as %d, want the default 3", c.Processing.PluginCrashLimit)
	}
}
