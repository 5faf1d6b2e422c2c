package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/schemas"
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
