package hygiene

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	ecard "github.com/medgate/medgate/plugins/ecard/adapter"
	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
	selfpay "github.com/medgate/medgate/plugins/selfpay/adapter"
	tracecode "github.com/medgate/medgate/plugins/tracecode/adapter"
	workinjury "github.com/medgate/medgate/plugins/workinjury/adapter"
)

// settingsRow is one row of a plugin README's "| setting | …" table.
type settingsRow struct {
	line     int
	names    []string // the backticked names of its first cell
	defaults []string // what its default cell says for each name ("" for nothing)
	ranged   bool     // the first cell is a range "`a` … `b`"
}

// settingsTables reads README's "| setting | …" tables: the names in the
// first cell of each row and, when the table has a default column, the
// default of each ("`a` / `b`" or "`a` · `b`" for several names; the first
// backticked word of a part is the value, a part without one says none).
func settingsTables(t *testing.T, path, readme string) []settingsRow {
	var rows []settingsRow
	in, defCol := false, -1
	for i, line := range strings.Split(readme, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		switch {
		case strings.HasPrefix(line, "| setting |"):
			in, defCol = true, -1
			for j, c := range cells {
				if strings.HasPrefix(strings.TrimSpace(c), "default") {
					defCol = j
				}
			}
			continue
		case !strings.HasPrefix(line, "|"):
			in = false
			continue
		case !in || strings.HasPrefix(line, "|---"):
			continue
		}
		r := settingsRow{line: i + 1, names: backticked(cells[0]), ranged: strings.Contains(cells[0], "…")}
		if defCol < 0 || defCol >= len(cells) || r.ranged {
			rows = append(rows, r)
			continue
		}
		cell := cells[defCol]
		parts := []string{cell}
		for _, sep := range []string{" / ", " · "} {
			if strings.Contains(cell, sep) {
				parts = strings.Split(cell, sep)
			}
		}
		if len(parts) == 1 {
			parts = slices.Repeat(parts, len(r.names))
		}
		if len(parts) != len(r.names) {
			t.Errorf("%s:%d: %d settings but %d defaults (%q); separate them with \" / \"", path, r.line, len(r.names), len(parts), cell)
			continue
		}
		for _, p := range parts {
			d := ""
			if b := backticked(p); len(b) > 0 && strings.HasPrefix(strings.TrimSpace(p), "`") {
				d = b[0]
			}
			r.defaults = append(r.defaults, d)
		}
		rows = append(rows, r)
	}
	return rows
}

var backtickRE = regexp.MustCompile("`([^`]+)`")

// backticked returns the texts between pairs of backticks of one line.
func backticked(s string) []string {
	var out []string
	for _, m := range backtickRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestPluginREADMEsDocumentTheirSettings: an integrator configures a site
// from the plugin's README, and the host refuses a setting the plugin does
// not declare. So every setting a shipped plugin declares is named (in
// backticks) in its README, and every name in the first column of the
// README's settings table is a declared setting. Two families are
// documented as a rule rather than one by one, as the READMEs say:
// workinjury's envelope member names (`field.txCode` … `field.message`)
// and tracecode's medical-insurance settings (every plugins/hsa setting
// prefixed with mi).
func TestPluginREADMEsDocumentTheirSettings(t *testing.T) {
	t.Parallel()
	hsaNames := map[string]bool{}
	for _, s := range hsa.Settings() {
		hsaNames[s.Name] = true
	}
	plugins := []struct {
		name     string
		describe func(t *testing.T) []sdk.Setting
		// family tells whether a setting is documented by a rule the
		// README states, and the text of the README that states it.
		family func(name string) (rule string, ok bool)
	}{
		{"ecard", func(t *testing.T) []sdk.Setting {
			d, err := ecard.New().Describe(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return d.Settings
		}, nil},
		{"selfpay", func(t *testing.T) []sdk.Setting {
			d, err := selfpay.New().Describe(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return d.Settings
		}, nil},
		{"tracecode", func(t *testing.T) []sdk.Setting {
			d, err := tracecode.New().Describe(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return d.Settings
		}, func(name string) (string, bool) {
			base, ok := strings.CutPrefix(name, "mi")
			if !ok || base == "" {
				return "", false
			}
			base = strings.ToLower(base[:1]) + base[1:]
			return "every `plugins/hsa` setting prefixed with `mi`", hsaNames[base]
		}},
		{"workinjury", func(t *testing.T) []sdk.Setting {
			d, err := workinjury.New().Describe(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return d.Settings
		}, func(name string) (string, bool) {
			return "`field.txCode` … `field.message`", strings.HasPrefix(name, "field.")
		}},
	}
	for _, p := range plugins {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("..", "..", "plugins", p.name, "README.md")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			readme := string(data)
			mentioned := map[string]bool{}
			for _, line := range strings.Split(readme, "\n") {
				for _, b := range backticked(line) {
					mentioned[b] = true
				}
			}
			settings := p.describe(t)
			if len(settings) == 0 {
				t.Fatalf("plugin %s declares no settings; is Describe reached?", p.name)
			}
			declared := map[string]sdk.Setting{}
			for _, s := range settings {
				declared[s.Name] = s
				if mentioned[s.Name] {
					continue
				}
				if p.family != nil {
					if rule, ok := p.family(s.Name); ok {
						if !strings.Contains(readme, rule) {
							t.Errorf("%s: the setting %s is documented by the rule %s, which the README no longer states; document it", path, s.Name, rule)
						}
						continue
					}
				}
				t.Errorf("%s does not name the setting `%s` that plugin %s declares (%s); add it to the settings documentation with its default %q", path, s.Name, p.name, s.Description, s.Default)
			}
			for _, r := range settingsTables(t, path, readme) {
				for i, name := range r.names {
					s, ok := declared[name]
					if !ok {
						t.Errorf("%s:%d: `%s` is in the settings table but plugin %s declares no such setting; a site that sets it is refused", path, r.line, name, p.name)
						continue
					}
					// A setting declared without a default whose
					// README names one takes it from another
					// (senderCode: regionCode) or merges over
					// built-in values (paths); only declared
					// defaults are compared.
					if i < len(r.defaults) && s.Default != "" && r.defaults[i] != s.Default {
						t.Errorf("%s:%d: `%s`: the README gives the default %q, plugin %s declares %q; correct the README (or the declaration, if the README states the intended default)", path, r.line, name, r.defaults[i], p.name, s.Default)
					}
				}
			}
		})
	}
}
