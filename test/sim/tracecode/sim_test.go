package tracecode

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var day = time.Date(2026, 11, 26, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

// TestGeneratedHierarchy checks the generated deliveries: 20-digit codes
// starting with 8 with the product's identifier, a real parent/child tree
// whose sizes follow the package ratio (except declared partial cases),
// quantities equal to the smallest units, and determinism by seed.
func TestGeneratedHierarchy(t *testing.T) {
	t.Parallel()
	s := New(Options{Seed: 1, BillsPerDay: 12})
	bills := s.StockIn(day)
	if len(bills) != 12 {
		t.Fatalf("%d bills, want 12", len(bills))
	}
	partial := 0
	seen := map[string]bool{}
	for _, b := range bills {
		for _, l := range b.Lines {
			parts := ratioParts(l.PackRatio)
			perCase := parts[len(parts)-1]
			units := 0
			for _, c := range l.Codes {
				n := s.nodes[c.Code]
				if n == nil || n.ParentCode != "" || n.CodeLevel != 1 {
					t.Fatalf("%s: shipped code %s is not a top code: %+v", b.BillNo, c.Code, n)
				}
				got := s.SmallestOf(c.Code)
				for _, code := range s.subtree(c.Code, 0) {
					if len(code.Code) != 20 || code.Code[0] != '8' || !strings.HasPrefix(code.Code, l.ProductCode) || strings.Trim(code.Code, "0123456789") != "" {
						t.Fatalf("malformed code %q", code.Code)
					}
					if seen[code.Code] {
						t.Fatalf("code %s generated twice", code.Code)
					}
					seen[code.Code] = true
					if code.ParentCode != "" && s.nodes[code.ParentCode].CodeLevel != code.CodeLevel-1 {
						t.Fatalf("%s: level %d under a level-%d parent", code.Code, code.CodeLevel, s.nodes[code.ParentCode].CodeLevel)
					}
				}
				switch {
				case n.BoxStatus == "2" && len(got) < perCase:
					partial++
				case n.BoxStatus == "0" && len(got) == perCase:
				default:
					t.Errorf("%s: case %s of ratio %s holds %d units with box status %s", b.BillNo, c.Code, l.PackRatio, len(got), n.BoxStatus)
				}
				units += len(got)
			}
			if units != l.Qty {
				t.Errorf("%s line %d: qty %d, %d units shipped", b.BillNo, l.LineNo, l.Qty, units)
			}
		}
	}
	if partial == 0 {
		t.Error("no partial case generated")
	}
	again := New(Options{Seed: 1, BillsPerDay: 12}).StockIn(day)
	if !reflect.DeepEqual(bills, again) {
		t.Error("the same seed generated different deliveries")
	}
}

// TestIndependentOfPluginCode: the simulator checks what the plugin sends,
// so it must not share the plugin's code (a signature computed by the
// plugin's own function always matches, right or wrong).
func TestIndependentOfPluginCode(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, "github.com/medgate/medgate/plugins/") {
				t.Errorf("%s imports plugin code %s", name, p)
			}
		}
	}
}
