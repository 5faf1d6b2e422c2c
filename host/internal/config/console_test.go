package config

import (
	"strings"
	"testing"
	"time"
)

// TestConsoleProblems: every malformed console setting is reported at
// once, with its line.
func TestConsoleProblems(t *testing.T) {
	t.Parallel()
	got := problemsOf(t, `kafka:
  embedded: {}
console:
  publicOrigins:
    - https://medgate.hospital.example
    - medgate.hospital.example
    - https://medgate.hospital.example/console/
  sessionIdle: 10s
  sessionMax: 5m
  lockout:
    failures: 500
    userFailures: 100000
    userMaxWait: 500ms
  maxSessionsPerUser: -3
  proxy:
    trusted: [10.0.0.5, 0.0.0.0/0, proxy.local]
    userHeader: "X Remote User"
    roleHeader: X-Remote-Role
`)
	for _, want := range []string{
		`m.yaml:6: console.publicOrigins[1]: "medgate.hospital.example" is not an origin`,
		`m.yaml:7: console.publicOrigins[2]: "https://medgate.hospital.example/console/" is not an origin`,
		"console.sessionIdle: must be at least 1m, is 10s",
		"console.lockout.failures: must be between 1 and 100, is 500",
		"console.lockout.userFailures: must be between 1 and 10000, is 100000",
		"console.lockout.userMaxWait: must be between 1s and 24h, is 500ms",
		"console.maxSessionsPerUser: must be between 1 and 1000, is -3",
		`console.proxy.trusted[1]: "0.0.0.0/0" trusts every address`,
		`console.proxy.trusted[2]: "proxy.local" is not an address or CIDR`,
		`console.proxy.userHeader: "X Remote User" is not an HTTP header name`,
	} {
		if !hasProblem(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if hasProblem(got, "publicOrigins[0]") {
		t.Errorf("a valid origin was refused:\n%s", strings.Join(got, "\n"))
	}
}

func TestConsoleDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse("m.yaml", []byte("kafka:\n  embedded: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cs := c.Console
	if cs.SessionIdle.D() != 30*time.Minute || cs.SessionMax.D() != 12*time.Hour || cs.Lockout.Failures != 5 ||
		cs.Lockout.Duration.D() != 15*time.Minute || cs.Lockout.UserFailures != 20 || cs.Lockout.UserMaxWait.D() != 15*time.Minute || cs.HTTPS || cs.Proxy != nil || cs.MaxSessionsPerUser != 20 {
		t.Fatalf("console defaults: %+v", cs)
	}
}

// TestConsoleMaxSessionsPerUser: console.maxSessionsPerUser takes a value
// from 1 to 1000 (the console keeps 1000 sessions in all); 0 written out
// is a problem naming the default, not silently the default, and a value
// past the bounds is reported with the other problems.
func TestConsoleMaxSessionsPerUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value   string
		want    int
		problem string
	}{
		{"1", 1, ""},
		{"5", 5, ""},
		{"1000", 1000, ""},
		{"0", 0, "console.maxSessionsPerUser: 0 is not a valid value: must be between 1 and 1000; write another value, or remove the line for the default 20"},
		{"-1", 0, "console.maxSessionsPerUser: must be between 1 and 1000, is -1"},
		{"1001", 0, "console.maxSessionsPerUser: must be between 1 and 1000, is 1001"},
		{"many", 0, "console.maxSessionsPerUser"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\nconsole:\n  maxSessionsPerUser: " + tc.value + "\n"
			if tc.problem != "" {
				got := problemsOf(t, src)
				if !hasProblem(got, tc.problem) {
					t.Errorf("maxSessionsPerUser %s: missing problem %q in:\n%s", tc.value, tc.problem, strings.Join(got, "\n"))
				}
				return
			}
			c, err := Parse("m.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if c.Console.MaxSessionsPerUser != tc.want {
				t.Errorf("maxSessionsPerUser %s: got %d, want %d", tc.value, c.Console.MaxSessionsPerUser, tc.want)
			}
		})
	}
}
