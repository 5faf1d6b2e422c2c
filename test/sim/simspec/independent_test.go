package simspec

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestIndependent: the simulators and this package run none of the code
// they are there to test. Outside _test.go files they import nothing of
// github.com/medgate/medgate/schemas or plugins/..., except the
// work-injury simulator's plugins/smenvelope, whose Options, Keys and key
// files are how a site configures the envelope (the simulator opens and
// seals with code of its own, envelope.go).
func TestIndependent(t *testing.T) {
	t.Parallel()
	for dir, allowed := range map[string][]string{
		".":             nil,
		"../workinjury": {"github.com/medgate/medgate/plugins/smenvelope"},
		"../tracecode":  nil,
		"../selfpay":    nil,
	} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range ast.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				if forbidden(p) && !contains(allowed, p) {
					t.Errorf("%s imports %s: a simulator must enforce the rules with code of its own (test/sim/simspec), not the code under test", f, p)
				}
			}
		}
	}
}

func forbidden(p string) bool {
	const mod = "github.com/medgate/medgate/"
	return p == mod+"schemas" || strings.HasPrefix(p, mod+"schemas/") || strings.HasPrefix(p, mod+"plugins/")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
