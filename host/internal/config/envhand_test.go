package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUnsetVariableSaysHowToCheckByHand: the README's install ran
// `sudo -u medgate medgate check-config`, which does not see the unit's
// EnvironmentFile, so every env: reference written there was reported as
// not set, telling the operator to set it in the EnvironmentFile it was
// already in. The error now says a command run by hand sees only its
// shell's environment and how to load the file, and the README's install
// checks the configuration that way, with the unit's user (the line is
// run by sh: its quotes must pair).
func TestUnsetVariableSaysHowToCheckByHand(t *testing.T) {
	_, err := ResolveSecret("env:MEDGATE_TEST_UNSET_BY_HAND")
	if err == nil {
		t.Fatal("an unset variable resolved")
	}
	for _, w := range []string{"MEDGATE_TEST_UNSET_BY_HAND is not set", "EnvironmentFile", "run by hand", "set -a; . /etc/medgate/environment", "runuser -u medgate"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v\nwant it to say %q", err, w)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "### Installing on a server")
	if start < 0 {
		t.Fatal("README has no section Installing on a server")
	}
	section := string(readme[start:])
	section = section[:strings.Index(section[3:], "\n### ")+3]
	var checks []string
	for _, line := range strings.Split(section, "\n") {
		if strings.Contains(line, "check-config") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			checks = append(checks, line)
		}
	}
	if len(checks) != 1 {
		t.Fatalf("the install section runs check-config %d times, want once:\n%s", len(checks), strings.Join(checks, "\n"))
	}
	want := regexp.MustCompile(`^sudo sh -c 'set -a; \. /etc/medgate/environment; exec runuser -u medgate -- /opt/medgate/bin/medgate check-config -config /etc/medgate/medgate\.yaml'`)
	if !want.MatchString(checks[0]) {
		t.Errorf("the install section checks the configuration without the unit's EnvironmentFile or user:\n%s", checks[0])
	}
}
