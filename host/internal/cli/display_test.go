package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestCopyResultIsPrivate: the file -out copies (an export that may hold
// patients' data) is readable by its owner only, like the artifact it
// comes from, and the directory holds nothing else afterwards.
func TestCopyResultIsPrivate(t *testing.T) {
	t.Parallel()
	arts := t.TempDir()
	st, err := artifact.New(arts, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Put("tracecode", "s1", "export.xlsx", "", strings.NewReader("PK workbook"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dst := filepath.Join(out, "export.xlsx")
	if _, err := copyResult(&sdk.FileResult{ArtifactField: "file"}, "tracecode", arts, []byte(`{"file":"`+m.ID+`"}`), dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %o, want 0600", dst, fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(dst); string(b) != "PK workbook" {
		t.Errorf("copied %q", b)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("%s holds %d entries, want only the copy", out, len(entries))
	}
}
