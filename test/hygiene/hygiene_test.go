// Package hygiene holds repository-wide checks, such as every package
// having a doc comment.
package hygiene

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// TestEveryPackageHasDocComment fails on any package without a package doc
// comment, so a newcomer can always run `go doc` on what they find.
func TestEveryPackageHasDocComment(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-json", "github.com/medgate/medgate/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	n := 0
	for dec.More() {
		var p struct {
			ImportPath, Doc, Name string
			GoFiles               []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if len(p.GoFiles) == 0 {
			continue
		}
		n++
		if p.Doc == "" {
			t.Errorf("package %s has no doc comment; add one (\"// Package %s …\" or \"// Command …\")", p.ImportPath, p.Name)
		}
	}
	if n < 10 {
		t.Fatalf("only %d packages listed; is the module path right?", n)
	}
}
