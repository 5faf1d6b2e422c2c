package adapter_test

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/testenv"
)

// libreOfficeSheets opens the workbook at path with LibreOffice Calc, a
// reader independent of the library that wrote it, and returns every
// sheet as LibreOffice shows it (cell texts as formatted). It skips the
// test, saying why, when LibreOffice is not installed (and fails then
// under make test: testenv.Tool).
func libreOfficeSheets(t *testing.T, path string, sheets []string) map[string][][]string {
	t.Helper()
	soffice := testenv.Tool(t, "soffice", "libreoffice-calc-nogui")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Every sheet to its own CSV (the last option, -1), texts as shown,
	// UTF-8 (76), with a profile of its own so that tests can run at once.
	cmd := exec.CommandContext(ctx, soffice, "-env:UserInstallation=file://"+filepath.Join(out, "profile"), "--headless",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir", out, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("LibreOffice could not open the export: %v\n%s", err, b)
	}
	base := strings.TrimSuffix(filepath.Base(path), ".xlsx")
	got := map[string][][]string{}
	for _, sheet := range sheets {
		f, err := os.Open(filepath.Join(out, base+"-"+sheet+".csv"))
		if err != nil {
			t.Fatalf("LibreOffice wrote no sheet %s: %v", sheet, err)
		}
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("sheet %s as CSV: %v", sheet, err)
		}
		for i := range rows {
			rows[i] = trim(rows[i])
		}
		got[sheet] = rows
	}
	return got
}

// TestExportOpensInLibreOffice: every sheet of the export, opened by
// LibreOffice Calc, shows the same texts, dates and times as the cells
// compared with the state in TestExportWorkbookMatchesTheData.
func TestExportOpensInLibreOffice(t *testing.T) {
	t.Parallel()
	// An independent reader: missing, the test skips, but fails under
	// make test (MEDGATE_REQUIRE_SERVICES=1).
	testenv.Tool(t, "soffice", "libreoffice-calc-nogui")
	e := newEnv(t, nil)
	seed(t, e)
	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26"}), sdk.StatusOK)
	lo := libreOfficeSheets(t, rep.Path, sheetOrder)
	want := expected(t, e, "")
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, sheet := range sheetOrder {
		rows := lo[sheet]
		if len(rows) == 0 {
			t.Errorf("%s: LibreOffice shows no rows", sheet)
			continue
		}
		if diff := cmp.Diff(headers[sheet], rows[0]); diff != "" {
			t.Errorf("%s header in LibreOffice (-want +got):\n%s", sheet, diff)
		}
		if diff := cmp.Diff(want[sheet], rows[1:]); diff != "" {
			t.Errorf("%s rows in LibreOffice (-want +got):\n%s", sheet, diff)
		}
	}
}
