package config

import (
	"errors"
	"strings"
	"testing"
)

// TestMissingPluginBinarySaysWhereItComesFrom: a plugin binary missing at
// its path was met with "build it with `make build`", which on a server
// installed as README "Installing on a server" says builds it in a
// checkout, not at /opt/medgate/plugins where the configuration looks. It
// now says to install the binary at that path or correct the path.
func TestMissingPluginBinarySaysWhereItComesFrom(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		path string
		want []string
	}{
		"production layout": {path: "/opt/medgate/plugins/no-such-plugin", want: []string{"/opt/medgate/plugins/no-such-plugin", "install", "correct the path", "make build"}},
		"relative path":     {path: "bin/plugins/no-such-plugin", want: []string{"install", "correct the path"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\nplugins:\n  - name: ecard\n    path: " + tc.path + "\n    sha256: \"" + strings.Repeat("0", 64) + "\"\n"
			_, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse: %v, want the missing binary reported", err)
			}
			var msg string
			for _, p := range ps {
				if p.Path == "plugins[0].path" {
					msg = p.Message
				}
			}
			if msg == "" {
				t.Fatalf("no problem at plugins[0].path in %v", ps)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("plugins[0].path: %s\nwant it to say %q", msg, w)
				}
			}
		})
	}
}
