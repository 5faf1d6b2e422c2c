package transforms

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/schemas"
)

var update = flag.Bool("update", false, "rewrite the expected outputs of the golden-file tests")

// TestGolden runs every example under testdata/<site>/<format>/<type>/
// against the built-in mappings: <case>.in.json or <case>.in.hl7 must give
// <case>.out.json (which must also validate against the target schema), or
// the problems in <case>.problems.json. With -update the expected files are
// rewritten from what the mappings produce.
func TestGolden(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	examples, err := Examples(os.DirFS("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) == 0 {
		t.Fatal("no examples under testdata")
	}
	for _, ex := range examples {
		t.Run(ex.Mapping+"/"+ex.Case, func(t *testing.T) {
			t.Parallel()
			res := set.Run(ex, nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if *update {
				want := filepath.Join("testdata", filepath.FromSlash(ex.Mapping), ex.Case+".out.json")
				other := filepath.Join("testdata", filepath.FromSlash(ex.Mapping), ex.Case+".problems.json")
				if len(res.Problems) > 0 {
					want, other = other, want
				}
				if err := os.WriteFile(want, res.Got, 0o644); err != nil {
					t.Fatal(err)
				}
				_ = os.Remove(other)
				return
			}
			if !res.Passed() {
				t.Errorf("%s differs from %s (run with -update to accept):\n%s\ngot:\n%s", ex.InputFile, ex.WantFile, strings.Join(res.Diffs, "\n"), res.Got)
			}
			if len(res.Problems) > 0 {
				for _, p := range res.Problems {
					if p.Mapping != ex.Mapping || p.Field == "" || p.Rule == "" || !strings.Contains(p.Message, ex.Mapping) {
						t.Errorf("problem %+v does not name its mapping, field and rule", p)
					}
				}
				return
			}
			m, _ := set.Mapping(ex.Mapping)
			var doc any
			if err := json.Unmarshal(res.Got, &doc); err != nil {
				t.Fatal(err)
			}
			if errs := m.Schema.ValidateInput(doc); len(errs) > 0 {
				t.Errorf("the output does not validate against %s/%s: %v", m.Schema.System, m.Schema.Code, errs)
			}
			if sc, ok := schemas.Embedded().Get(m.Schema.System, m.Schema.Code); ok {
				if errs := sc.ValidateInput(doc); len(errs) > 0 {
					t.Errorf("the output does not validate against the embedded schema: %v", errs)
				}
			}
		})
	}
}

// TestEveryMappingHasExamples makes sure no shipped mapping goes without a
// golden file.
func TestEveryMappingHasExamples(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	examples, err := Examples(os.DirFS("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, ex := range examples {
		have[ex.Mapping] = true
		if _, ok := set.Mapping(ex.Mapping); !ok {
			t.Errorf("%s: no mapping %s", ex.InputFile, ex.Mapping)
		}
	}
	for _, m := range set.List() {
		if !have[m.Name] {
			t.Errorf("mapping %s has no examples under testdata/%s", m.Name, m.Name)
		}
	}
}

func mustEmbedded(t testing.TB) *Set {
	t.Helper()
	if err := CheckEmbedded(); err != nil {
		t.Fatalf("built-in mappings: %v", err)
	}
	return Embedded()
}
