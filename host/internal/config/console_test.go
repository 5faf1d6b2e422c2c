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
		cs.Lockout.Duration.D() != 15*time.Minute || cs.HTTPS || cs.Proxy != nil {
		t.Fatalf("console defaults: %+v", cs)
	}
}
