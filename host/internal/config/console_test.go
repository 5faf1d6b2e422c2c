package config

import (
	"strings"
	"testing"
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
`)
	for _, want := range []string{
		`m.yaml:6: console.publicOrigins[1]: "medgate.hospital.example" is not an origin`,
		`m.yaml:7: console.publicOrigins[2]: "https://medgate.hospital.example/console/" is not an origin`,
	} {
		if !hasProblem(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if hasProblem(got, "publicOrigins[0]") {
		t.Errorf("a valid origin was refused:\n%s", strings.Join(got, "\n"))
	}
}
