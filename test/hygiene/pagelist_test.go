package hygiene

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ecard "github.com/medgate/medgate/plugins/ecard/adapter"
	"github.com/medgate/medgate/plugins/sdk"
	selfpay "github.com/medgate/medgate/plugins/selfpay/adapter"
	tracecode "github.com/medgate/medgate/plugins/tracecode/adapter"
	workinjury "github.com/medgate/medgate/plugins/workinjury/adapter"
)

// pageListHeading is the README section listing the console pages staff use.
const pageListHeading = "#### Pages for the operator and the cashier"

// declaredPage is a console page a plugin declares: a form or a document view.
type declaredPage struct {
	path  string // /console/form/<plugin>/<name> or /console/document/<plugin>/<name>
	title string // the declared title; its first word is the Chinese label
	admin bool   // declared sdk.RoleAdmin
}

// pageRow is one row of the page list whose first cell is a plugin page.
type pageRow struct {
	line  int
	label string // the words after the path in the first cell
	who   string // the second cell
}

// pageListRows reads the page list of README (the table under
// pageListHeading): the rows whose first cell starts with a backticked
// /console/form/ or /console/document/ path, by path.
func pageListRows(readme string) (map[string]pageRow, error) {
	lines := strings.Split(readme, "\n")
	start := slices.Index(lines, pageListHeading)
	if start < 0 {
		return nil, fmt.Errorf("README.md has no %q section", pageListHeading)
	}
	rows := map[string]pageRow{}
	inTable := false
	for i := start + 1; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "#") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) < 3 {
			continue
		}
		first := strings.TrimSpace(cells[0])
		if !strings.HasPrefix(first, "`/console/form/") && !strings.HasPrefix(first, "`/console/document/") {
			continue
		}
		path, label, _ := strings.Cut(strings.TrimPrefix(first, "`"), "`")
		rows[path] = pageRow{line: i + 1, label: strings.TrimSpace(label), who: strings.TrimSpace(cells[1])}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("README.md: the table under %q lists no plugin page (`/console/form/…`, `/console/document/…`)", pageListHeading)
	}
	return rows, nil
}

// pageListProblems compares the page list of README with the pages the
// shipped plugins declare: every declared page has a row, under its
// declared Chinese title, whose "who" says admin exactly when the plugin
// declares the admin role; every row of a shipped plugin's page is
// declared.
func pageListProblems(readme string, declared []declaredPage, plugins []string) []string {
	rows, err := pageListRows(readme)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	known := map[string]bool{}
	for _, p := range declared {
		known[p.path] = true
		zh, _, _ := strings.Cut(p.title, " ")
		r, ok := rows[p.path]
		if !ok {
			out = append(out, fmt.Sprintf("README.md, %s: no row for `%s` %s, a page the plugin declares; add one saying who uses it and what it does", pageListHeading, p.path, zh))
			continue
		}
		if !strings.HasPrefix(r.label, zh) {
			out = append(out, fmt.Sprintf("README.md:%d: `%s` is labelled %q, the plugin titles it %q; use the plugin's title", r.line, p.path, r.label, zh))
		}
		if saysAdmin := strings.HasPrefix(r.who, "admin"); saysAdmin != p.admin {
			want := "the staff who use it (the operator role)"
			if p.admin {
				want = "admin (the plugin declares sdk.RoleAdmin)"
			}
			out = append(out, fmt.Sprintf("README.md:%d: `%s` is for %q, but the host lets %s through; say so", r.line, p.path, r.who, want))
		}
	}
	for path, r := range rows {
		parts := strings.Split(path, "/") // "", console, form, plugin, name
		if len(parts) == 5 && slices.Contains(plugins, parts[3]) && !known[path] {
			out = append(out, fmt.Sprintf("README.md:%d: `%s` is in the page list but plugin %s declares no such page; remove the row or correct its path", r.line, path, parts[3]))
		}
	}
	slices.Sort(out)
	return out
}

func TestPageListProblems(t *testing.T) {
	t.Parallel()
	const table = pageListHeading + "\n\ntext\n\n| page | who | what |\n|---|---|---|\n"
	desk := declaredPage{path: "/console/form/ecard/desk", title: "收费处电子卡 Cashier e-card desk"}
	revoke := declaredPage{path: "/console/form/ecard/revoke", title: "电子卡注销 Revoke", admin: true}
	draft := declaredPage{path: "/console/document/tracecode/draft", title: "入库单审核 Drafts"}
	tests := []struct {
		name   string
		readme string
		pages  []declaredPage
		want   []string // a word each problem must contain, in order
	}{
		{"all listed", table +
			"| `/console/form/ecard/desk` 收费处电子卡 | cashier | the desk |\n" +
			"| `/console/form/ecard/revoke` 电子卡注销 | admin (declared) | revokes |\n" +
			"| `/console/document/tracecode/draft` 入库单审核 | pharmacy | review |\n" +
			"| `/console/jobs` 定时任务 | operator | jobs |\n",
			[]declaredPage{desk, revoke, draft}, nil},
		{"a declared page missing", table +
			"| `/console/form/ecard/desk` 收费处电子卡 | cashier | the desk |\n",
			[]declaredPage{desk, draft}, []string{"no row for `/console/document/tracecode/draft`"}},
		{"an admin page said to be the cashier's", table +
			"| `/console/form/ecard/revoke` 电子卡注销 | cashier | revokes |\n",
			[]declaredPage{revoke}, []string{"lets admin"}},
		{"an operator page said to be admin's", table +
			"| `/console/form/ecard/desk` 收费处电子卡 | admin | the desk |\n",
			[]declaredPage{desk}, []string{"operator role"}},
		{"another title", table +
			"| `/console/form/ecard/desk` 电子卡 | cashier | the desk |\n",
			[]declaredPage{desk}, []string{"titles it \"收费处电子卡\""}},
		{"a row no plugin declares", table +
			"| `/console/form/ecard/desk` 收费处电子卡 | cashier | the desk |\n" +
			"| `/console/form/ecard/gone` 旧 | cashier | removed |\n",
			[]declaredPage{desk}, []string{"declares no such page"}},
		{"another plugin's row is not judged", table +
			"| `/console/form/ecard/desk` 收费处电子卡 | cashier | the desk |\n" +
			"| `/console/form/vendor/x` 其他 | cashier | a vendor's |\n",
			[]declaredPage{desk}, nil},
		{"no section", "# medgate\n", []declaredPage{desk}, []string{"has no"}},
		{"a table past the section is not read", table +
			"| `/console/form/ecard/desk` 收费处电子卡 | cashier | the desk |\n\n## Next\n\n" +
			"| `/console/document/tracecode/draft` 入库单审核 | pharmacy | review |\n",
			[]declaredPage{desk, draft}, []string{"no row for `/console/document/tracecode/draft`"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pageListProblems(tc.readme, tc.pages, []string{"ecard", "tracecode"})
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d containing %q", len(got), got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestREADMEPageListNamesEveryPluginPage: staff and whoever sets up their
// accounts find the console's pages in README's page list. Every form and
// document page the four shipped plugins declare (sdk.Form,
// sdk.DocumentView) is a row of it, under the title the console shows,
// and its "who" says admin exactly when the plugin declares the admin
// role (an operator is refused such a page); every row naming a page of
// a shipped plugin is one it declares.
func TestREADMEPageListNamesEveryPluginPage(t *testing.T) {
	t.Parallel()
	describe := map[string]func() (*sdk.DescribeResponse, error){
		"ecard":      func() (*sdk.DescribeResponse, error) { return ecard.New().Describe(t.Context(), nil) },
		"selfpay":    func() (*sdk.DescribeResponse, error) { return selfpay.New().Describe(t.Context(), nil) },
		"tracecode":  func() (*sdk.DescribeResponse, error) { return tracecode.New().Describe(t.Context(), nil) },
		"workinjury": func() (*sdk.DescribeResponse, error) { return workinjury.New().Describe(t.Context(), nil) },
	}
	var pages []declaredPage
	var plugins []string
	for name, f := range describe {
		plugins = append(plugins, name)
		d, err := f()
		if err != nil {
			t.Fatalf("plugin %s: Describe: %v", name, err)
		}
		for _, f := range d.Forms {
			pages = append(pages, declaredPage{path: "/console/form/" + name + "/" + f.Name, title: f.Title, admin: f.Role == sdk.RoleAdmin})
		}
		for _, v := range d.Documents {
			pages = append(pages, declaredPage{path: "/console/document/" + name + "/" + v.Name, title: v.Title})
		}
	}
	if len(pages) < 5 {
		t.Fatalf("the shipped plugins declare only %d console pages; is Describe reached?", len(pages))
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pageListProblems(string(data), pages, plugins) {
		t.Error(p)
	}
}
