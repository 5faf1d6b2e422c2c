package schemas

import (
	"os/exec"
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
