// Package hygiene holds repository-wide checks, such as every package
// having a doc comment.
package hygiene

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

// TestNoBinariesOrLargeFilesTracked fails when git tracks an executable
// (ELF) or any file over 1 MiB: build outputs belong in bin/ and .gitignore,
// and large test data belongs in a generator, not in the repository.
func TestNoBinariesOrLargeFilesTracked(t *testing.T) {
	t.Parallel()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	top := string(bytes.TrimSpace(root))
	out, err := exec.Command("git", "-C", top, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	const limit = 1 << 20
	for _, name := range bytes.Split(out, []byte{0}) {
		if len(name) == 0 {
			continue
		}
		path := filepath.Join(top, string(name))
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		if fi.Size() > limit {
			t.Errorf("%s is tracked and %d bytes (> 1 MiB); remove it with `git rm --cached %s` and generate it instead", name, fi.Size(), name)
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if n == 4 && bytes.Equal(head, []byte("\x7fELF")) {
			t.Errorf("%s is a tracked executable; build outputs go to bin/ (ignored): `git rm --cached %s`", name, name)
		}
	}
}
