package sites

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/host/internal/pluginhost"
)

// TestChanged: a running plugin is launched again by a reload when its
// binary's path or checksum changed, and only then; the same file named
// by another spelling of its path, or its checksum in other case, is the
// same binary.
func TestChanged(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	const sum = "ab12"
	running := pluginhost.Spec{Name: "acme", Path: filepath.Join(wd, "plugins", "acme"), SHA256: sum}
	for _, tc := range []struct {
		name      string
		path, sum string
		want      bool
	}{
		{name: "same binary", path: running.Path, sum: sum, want: false},
		{name: "relative path to the same file", path: filepath.Join("plugins", "acme"), sum: sum, want: false},
		{name: "checksum in upper case", path: running.Path, sum: "AB12", want: false},
		{name: "new checksum", path: running.Path, sum: "cd34", want: true},
		{name: "new path", path: filepath.Join(wd, "plugins", "acme-2"), sum: sum, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Changed(running, tc.path, tc.sum); got != tc.want {
				t.Errorf("Changed(%s %s) = %v, want %v", tc.path, tc.sum, got, tc.want)
			}
		})
	}
}
