package pii

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestPersonalKey(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		key  string
		want bool
	}{
		"name":                  {"name", true},
		"camel case":            {"patientName", true},
		"snake case":            {"psn_name", true},
		"dashes and capitals":   {"ID-Number", true},
		"work-injury code":      {"aac003", true},
		"address suffix":        {"homeAddr", true},
		"chinese suffix":        {"患者姓名", true},
		"chinese phone":         {"联系电话", true},
		"birth date":            {"birthDate", true},
		"birth date, insurance": {"brdy", true},
		"birth date, chinese":   {"患者出生日期", true},
		"greeting":              {"greeting", false},
		"pinyin abbreviation":   {"xm", false},
		"full name":             {"fullName", false},
		"card number is shown":  {"cardNo", false},
		"business key":          {"key", false},
		"empty":                 {"", false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := PersonalKey(tc.key); got != tc.want {
				t.Errorf("PersonalKey(%q) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

// TestPersonalKeyDocListsEveryKey: vendors read the keys medgate masks in
// PersonalKey's doc comment; a key added to personalKeys without it
// would be masked without their knowing.
func TestPersonalKeyDocListsEveryKey(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "keys.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "PersonalKey" {
			doc = NormalizeKey(strings.NewReplacer(",", " ", "(", "", ")", "", "/", " ", ";", " ").Replace(fn.Doc.Text()))
		}
	}
	if doc == "" {
		t.Fatal("PersonalKey has no doc comment")
	}
	for k := range personalKeys {
		if !strings.Contains(doc, k) {
			t.Errorf("PersonalKey's doc comment does not list the key %q", k)
		}
	}
}
