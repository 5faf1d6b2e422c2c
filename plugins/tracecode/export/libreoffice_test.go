package export

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/test/testenv"
)

// libreOfficeRows converts the workbook at path with LibreOffice (a reader
// nobody here wrote) to CSV in dir, with a profile of its own so that tests
// can run it at the same time, and returns the rows of csvName, the file
// LibreOffice writes for the sheet (<workbook>-<sheet>.csv).
func libreOfficeRows(t *testing.T, dir, path, csvName string) [][]string {
	t.Helper()
	soffice := testenv.Tool(t, "soffice", "libreoffice-calc-nogui")
	out, err := exec.Command(soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--headless",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir", dir, path).CombinedOutput()
	if err != nil {
		t.Fatalf("LibreOffice: %v\n%s", err, out)
	}
	cf, err := os.Open(filepath.Join(dir, csvName))
	if err != nil {
		t.Fatalf("LibreOffice wrote no CSV: %v\n%s", err, out)
	}
	defer cf.Close()
	rows, err := csv.NewReader(cf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
