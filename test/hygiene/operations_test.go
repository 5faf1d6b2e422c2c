package hygiene

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ecard "github.com/medgate/medgate/plugins/ecard/adapter"
	"github.com/medgate/medgate/plugins/sdk"
	selfpay "github.com/medgate/medgate/plugins/selfpay/adapter"
	tracecode "github.com/medgate/medgate/plugins/tracecode/adapter"
	workinjury "github.com/medgate/medgate/plugins/workinjury/adapter"
)

// opRangeRE is a range of operations a README names: `GYD401`–`GYD404`.
var opRangeRE = regexp.MustCompile("`([^`]+)`[–-]`([^`]+)`")

// operationProblems names the operations a plugin declares that its
// README does not name in backticks (`ecard.phone.correct`), unless
// family documents them by a rule the README states. A line that names
// an operation in full may name its siblings by their last part
// (`workinjury.GYD101`, `GYD102`) and a range of them (`GYD401`–`GYD404`).
func operationProblems(path, readme string, ops []string, family func(op string) (rule string, ok bool)) []string {
	named := map[string]bool{}
	type span struct{ prefix, lo, hi string }
	var spans []span
	for _, line := range strings.Split(readme, "\n") {
		prefix := ""
		for _, b := range backticked(line) {
			if i := strings.LastIndex(b, "."); i > 0 && prefix == "" {
				prefix = b[:i+1]
			}
			named[b] = true
			if prefix != "" && !strings.Contains(b, ".") {
				named[prefix+b] = true
			}
		}
		for _, m := range opRangeRE.FindAllStringSubmatch(line, -1) {
			if prefix != "" && !strings.Contains(m[1], ".") && len(m[1]) == len(m[2]) {
				spans = append(spans, span{prefix, m[1], m[2]})
			}
		}
	}
	inSpan := func(op string) bool {
		for _, s := range spans {
			if short, ok := strings.CutPrefix(op, s.prefix); ok && len(short) == len(s.lo) && short >= s.lo && short <= s.hi {
				return true
			}
		}
		return false
	}
	var out []string
	for _, op := range ops {
		if named[op] || inSpan(op) {
			continue
		}
		if family != nil {
			if rule, ok := family(op); ok && strings.Contains(readme, rule) {
				continue
			}
		}
		out = append(out, fmt.Sprintf("%s does not name the operation `%s` the plugin declares; document its payload and reply", path, op))
	}
	return out
}

func TestOperationProblems(t *testing.T) {
	t.Parallel()
	numbered := func(op string) (string, bool) {
		return "`selfpay.4201A` … `selfpay.4209`", strings.HasPrefix(op, "selfpay.42")
	}
	tests := []struct {
		name, readme string
		ops          []string
		family       func(string) (string, bool)
		want         []string
	}{
		{"named", "### `ecard.phone.correct`: correct the phone", []string{"ecard.phone.correct"}, nil, nil},
		{"in a table", "| `ecard.get` | reads a card |", []string{"ecard.get"}, nil, nil},
		{"missing", "### `ecard.rename`", []string{"ecard.rename", "ecard.phone.correct"}, nil, []string{"`ecard.phone.correct`"}},
		{"unbackticked is not named", "ecard.phone.correct corrects the phone", []string{"ecard.phone.correct"}, nil, []string{"`ecard.phone.correct`"}},
		{"siblings by their last part", "| `workinjury.GYD101`, `GYD102`, `GYD401`–`GYD404` | downloads |",
			[]string{"workinjury.GYD101", "workinjury.GYD102", "workinjury.GYD402", "workinjury.GYD404"}, nil, nil},
		{"outside a range", "| `workinjury.GYD101`, `GYD401`–`GYD404` | downloads |",
			[]string{"workinjury.GYD405", "workinjury.GYD103"}, nil, []string{"`workinjury.GYD405`", "`workinjury.GYD103`"}},
		{"a short name without a full one on its line", "GYD101 … `GYD102`", []string{"workinjury.GYD102"}, nil, []string{"`workinjury.GYD102`"}},
		{"a family stated", "| `selfpay.4201A` … `selfpay.4209` | one transaction |", []string{"selfpay.4202", "selfpay.4207"}, numbered, nil},
		{"a family no longer stated", "| `selfpay.upload` |", []string{"selfpay.4202"}, numbered, []string{"`selfpay.4202`"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := operationProblems("README.md", tc.readme, tc.ops, tc.family)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d problems containing %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestPluginREADMEsNameTheirOperations: the platform's integrators write
// messages from the plugin READMEs. Every operation a shipped plugin
// declares is named there (in backticks, with its payload), or, for the
// self-pay transactions 4201A to 4209, by the range the README states.
func TestPluginREADMEsNameTheirOperations(t *testing.T) {
	t.Parallel()
	plugins := []struct {
		name     string
		describe func() (*sdk.DescribeResponse, error)
		family   func(op string) (string, bool)
	}{
		{"ecard", func() (*sdk.DescribeResponse, error) { return ecard.New().Describe(t.Context(), nil) }, nil},
		{"selfpay", func() (*sdk.DescribeResponse, error) { return selfpay.New().Describe(t.Context(), nil) }, func(op string) (string, bool) {
			n := strings.TrimPrefix(op, "selfpay.")
			return "`selfpay.4201A` … `selfpay.4209`", len(n) >= 4 && n >= "4201" && n <= "4209z"
		}},
		{"tracecode", func() (*sdk.DescribeResponse, error) { return tracecode.New().Describe(t.Context(), nil) }, nil},
		{"workinjury", func() (*sdk.DescribeResponse, error) { return workinjury.New().Describe(t.Context(), nil) }, nil},
	}
	for _, p := range plugins {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			d, err := p.describe()
			if err != nil {
				t.Fatalf("plugin %s: Describe: %v", p.name, err)
			}
			var ops []string
			for _, o := range d.Operations {
				ops = append(ops, o.Type)
			}
			if len(ops) == 0 {
				t.Fatalf("plugin %s declares no operations; is Describe reached?", p.name)
			}
			path := filepath.Join("plugins", p.name, "README.md")
			data, err := os.ReadFile(filepath.Join("..", "..", path))
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range operationProblems(path, string(data), ops, p.family) {
				t.Error(problem)
			}
		})
	}
}
