package schemas

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidationLinksNoSpreadsheetStack: package schemas is the validation
// library every plugin links, and vendors may import it; the spreadsheet
// importer and its Excel stack live in schemas/importer, so that validating
// a message does not link excelize and the OLE readers it needs.
func TestValidationLinksNoSpreadsheetStack(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH (%v); this test lists the package's dependencies with go list", err)
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps of package schemas: %v", err)
	}
	deps := strings.Fields(string(out))
	forbidden := map[string]string{
		"excelize": "github.com/xuri/excelize/",
		"msoleps":  "github.com/richardlehane/msoleps",
		"mscfb":    "github.com/richardlehane/mscfb",
	}
	for name, prefix := range forbidden {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, d := range deps {
				if strings.HasPrefix(d, prefix) {
					t.Errorf("package schemas depends on %s; code that reads spreadsheets belongs in schemas/importer, which only medgate import-spec uses", d)
				}
			}
		})
	}
}

// TestValidatingLinksNoBuiltinSchemas: a program that validates against
// documents of its own (a vendor's plugin, testdata/validateonly) and never
// calls Embedded, Documents or EmbeddedFS does not carry medgate's built-in
// schema files (some 260 KB of YAML).
func TestValidatingLinksNoBuiltinSchemas(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH (%v); this test builds a program with it", err)
	}
	bin := filepath.Join(t.TempDir(), "validateonly")
	build := exec.CommandContext(t.Context(), goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./testdata/validateonly")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/validateonly: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var linked []string
	err = fs.WalkDir(EmbeddedFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		file, err := fs.ReadFile(EmbeddedFS(), p)
		if err == nil && bytes.Contains(data, file) {
			linked = append(linked, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(linked) == 0 {
		return
	}
	t.Errorf("a program that only validates its own documents links %d built-in schema files (%s, …); only functions that serve the built-in set may refer to the embedded files, no package-level value", len(linked), linked[0])
}
