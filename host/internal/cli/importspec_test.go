package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/schemas/importer/docxtest"
)

// TestImportSpec turns a specification table built here into schema files
// that load and validate.
func TestImportSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.csv")
	csv := "GYU101 入院登记上传\n" +
		"参数名,参数说明,类型,长度,是否必填\n" +
		"aac002,社会保障号码,字符型,20,是\n" +
		"akc190,住院号,字符型,30,是\n" +
		"ykc701,入院日期,日期,,是\n" +
		"aae013,备注,字符型,200,否\n"
	if err := os.WriteFile(spec, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout bytes.Buffer
	if err := importSpec(t.Context(), []string{"-system", "workinjury", "-out", out, spec}, &stdout); err != nil {
		t.Fatalf("import-spec: %v\n%s", err, stdout.String())
	}
	set, err := schemas.Load(os.DirFS(out))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := set.Get("workinjury", "GYU101")
	if !ok || len(s.Input) != 4 {
		t.Fatalf("schema %+v", s)
	}
	errs := s.ValidateInput(map[string]any{"aac002": strings.Repeat("1", 21), "ykc701": "2026-11-26"})
	rules := map[string]string{}
	for _, e := range errs {
		rules[e.Path] = e.Rule
	}
	if rules["$.aac002"] != "length" || rules["$.akc190"] != "required" {
		t.Fatalf("validation of the imported schema: %+v", errs)
	}
	// A second run refuses to overwrite without -force.
	if err := importSpec(t.Context(), []string{"-system", "workinjury", "-out", out, spec}, &stdout); err == nil {
		t.Fatal("existing files overwritten without -force")
	}
}

// TestImportSpecRefusesBeforeWriting: when some schema files exist,
// import-spec without -force writes none (not the ones before the first
// existing file) and names every existing one.
func TestImportSpecRefusesBeforeWriting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.csv")
	table := "参数名,参数说明,类型,长度,是否必填\n" +
		"aac002,社会保障号码,字符型,20,是\n"
	csv := "GYU101 入院登记上传\n" + table + "\nGYU102 出院登记上传\n" + table + "\nGYU103 费用明细上传\n" + table
	if err := os.WriteFile(spec, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "workinjury"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"GYU102", "GYU103"} {
		if err := os.WriteFile(filepath.Join(out, "workinjury", code+".yaml"), []byte("reviewed by hand\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	var stdout bytes.Buffer
	err := importSpec(t.Context(), []string{"-system", "workinjury", "-out", out, spec}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "GYU102.yaml") || !strings.Contains(err.Error(), "GYU103.yaml") || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("import over existing files: %v, want a refusal naming GYU102.yaml, GYU103.yaml and -force\n%s", err, stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "workinjury", "GYU101.yaml")); err == nil {
		t.Error("GYU101.yaml was written although the import was refused: a half-done import")
	}
	for _, code := range []string{"GYU102", "GYU103"} {
		if b, _ := os.ReadFile(filepath.Join(out, "workinjury", code+".yaml")); string(b) != "reviewed by hand\n" {
			t.Errorf("%s.yaml overwritten without -force", code)
		}
	}
}

// TestImportSpecDOCX: import-spec reads the Word document the
// specification is published as, and names the file in each warning.
func TestImportSpecDOCX(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "工伤接口规范V1.5.02.docx")
	doc, err := docxtest.Write([]docxtest.Block{
		{Para: "3.2.1 入院登记上传（GYU101）"},
		{Rows: [][]string{
			{"参数名", "参数说明", "类型", "长度", "是否必填"},
			{"aac002", "社会保障号码", "字符型", "VARCHAR2(20)", "是"},
			{"akc190", "住院号", "字符型", "30", "也许"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout bytes.Buffer
	if err := importSpec(t.Context(), []string{"-system", "workinjury", "-out", out, spec}, &stdout); err != nil {
		t.Fatalf("import-spec: %v\n%s", err, stdout.String())
	}
	wantWarning := "warning: " + spec + ": import spec: table 1 (under \"3.2.1 入院登记上传（GYU101）\") row 3 column 5 (是否必填): GYU101 input field \"akc190\": 是否必填 \"也许\" is not understood"
	if !strings.Contains(stdout.String(), wantWarning) {
		t.Errorf("output lacks %q:\n%s", wantWarning, stdout.String())
	}
	set, err := schemas.Load(os.DirFS(out))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := set.Get("workinjury", "GYU101")
	if !ok || len(s.Input) != 2 || s.Input[0].MaxLength != 20 {
		t.Fatalf("schema %+v", s)
	}
}
