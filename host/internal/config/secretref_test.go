package config

import (
	"strings"
	"testing"
)

// TestSecretReferenceNames: a reference whose variable name or path has
// a space ("env: NAME", as YAML's "key: value" invites) was looked up
// with the space and reported as "environment variable  NAME is not
// set", the space invisible, while NAME is set; a variable set but empty
// was reported as not set. Each now says what is wrong with the
// reference, without quoting it.
func TestSecretReferenceNames(t *testing.T) {
	t.Setenv("MEDGATE_TEST_REF", "set-and-long-enough")
	t.Setenv("MEDGATE_TEST_EMPTY", "")
	t.Setenv("medgate.test-ref", "set-and-long-enough")
	cases := map[string]struct {
		ref    string
		want   string // "" when it resolves
		hidden string
	}{
		"env":              {ref: "env:MEDGATE_TEST_REF"},
		"env with a space": {ref: "env: MEDGATE_TEST_REF", want: `the name after "env:" has a space, '='`},
		"env trailing tab": {ref: "env:MEDGATE_TEST_REF\t", want: `the name after "env:" has a space, '='`},
		"env with =":       {ref: "env:MEDGATE=TEST", want: `the name after "env:" has a space, '='`, hidden: "MEDGATE=TEST"},
		"env dotted name":  {ref: "env:medgate.test-ref"}, // Kubernetes allows such names
		"env empty":        {ref: "env:MEDGATE_TEST_EMPTY", want: "environment variable MEDGATE_TEST_EMPTY is set but empty"},
		"env unset":        {ref: "env:MEDGATE_TEST_UNSET_9", want: "environment variable MEDGATE_TEST_UNSET_9 is not set"},
		"file with space":  {ref: "file: /etc/medgate/secret", want: `the path after "file:" starts or ends with a space`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ResolveSecret(tc.ref)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("%q: %v", tc.ref, err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("%q resolved, want %q", tc.ref, tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("%q: %v, want %q", tc.ref, err, tc.want)
			}
			if tc.hidden != "" && strings.Contains(err.Error(), tc.hidden) {
				t.Errorf("%q: the error quotes the reference: %v", tc.ref, err)
			}
		})
	}
	// Load reports a malformed reference at its key with the others.
	at := problemsAt(t, "kafka:\n  brokers: [k:9092]\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password: \"env: KAFKA_PW\"\n", "kafka.sasl.password")
	if len(at) != 1 || at[0].Line != 6 || !strings.Contains(at[0].Message, `the name after "env:" has a space`) {
		t.Errorf("password \"env: KAFKA_PW\": %v, want one problem at line 6 about the space", at)
	}
}
