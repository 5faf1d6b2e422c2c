package selfpay

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// simspecPath is the one medgate package the simulator may import.
const simspecPath = "github.com/medgate/medgate/test/sim/simspec"

// TestNoMedgateImports: the simulator is an independent implementation; its
// code (tests aside) imports nothing of medgate's but test/sim/simspec, the
// simulators' own checker (itself kept apart from schemas and plugins by
// its TestIndependent), so neither a schema file nor adapter code can make
// it agree with medgate by construction.
func TestNoMedgateImports(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(gotoken.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == simspecPath {
				continue
			}
			if p == "github.com/medgate/medgate" || strings.HasPrefix(p, "github.com/medgate/medgate/") {
				t.Errorf("%s imports %s: the simulator must not use medgate's code or schemas (only test/sim/simspec); write the rule here (rules.go, mask.go)", name, p)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}
