package config

import (
	"strings"
	"testing"
)

// TestUnsetVariableSaysHowToCheckByHand: the README's install ran
// `sudo -u medgate medgate check-config`, which does not see the unit's
// EnvironmentFile, so every env: reference written there was reported as
// not set, telling the operator to set it in the EnvironmentFile it was
// already in. The error now says a command run by hand sees only its
// shell's environment and how to load the file (the README's install
// checks the configuration that way: TestREADMEInstallsWhatTheUnitNeeds).
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
}
