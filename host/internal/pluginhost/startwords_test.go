package pluginhost

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestStartFailureSaysWhy: a plugin that does not start is refused with
// go-plugin's generic notes (architecture, libraries, permissions), which
// name none of the usual causes of a vendor's plugin. The error now says
// what the plugin wrote to standard output before the handshake (it must
// write nothing there) and its last words on standard error, masked like
// its logs, so `medgate check-config`, which shows no logs, says why.
// A line a plugin prints to os.Stdout before it serves goes to its
// standard error (the SDK keeps os.Stdout off the handshake), so what it
// writes there afterwards is not lost: go-plugin used to kill the process
// on reading the line, before it said why it could not start.
func TestStartFailureSaysWhy(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		pkg    string
		want   []string
		hidden []string
	}{
		"writes to the stdout descriptor": {pkg: "rawstdout", want: []string{
			`plugin "rawstdout"`, `wrote "rawstdout plugin starting" to standard output before the handshake`, "sdk.Logger",
		}},
		"prints to stdout, then exits with words on stderr": {pkg: "chattydies", want: []string{
			`plugin "chattydies"`, "chattydies plugin starting",
			"its standard error ends with", "cannot start: open /etc/chattydies/key.pem: no such file or directory",
		}, hidden: []string{"s3cr3tvalue123"}},
		"exits at once": {pkg: "dies", want: []string{
			`plugin "dies"`, "its standard error ends with", "cannot start: the key file /etc/dies/key.pem is missing",
		}, hidden: []string{"s3cr3tvalue123"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/"+tc.pkg)
			in, err := Start(t.Context(), Spec{Name: tc.pkg, Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{Logger: quiet})
			if err == nil {
				in.Close()
				t.Fatal("the plugin was started")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %v\nwant it to contain %q", err, s)
				}
			}
			for _, s := range tc.hidden {
				if strings.Contains(err.Error(), s) {
					t.Errorf("err = %v\nshows %q", err, s)
				}
			}
		})
	}
}
