package hygiene

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ecard "github.com/medgate/medgate/plugins/ecard/adapter"
	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
	selfpay "github.com/medgate/medgate/plugins/selfpay/adapter"
	tracecode "github.com/medgate/medgate/plugins/tracecode/adapter"
	workinjury "github.com/medgate/medgate/plugins/workinjury/adapter"
)

// settingsTableRowRE is one row of a plugin README's "| setting | …" table:
// its first cell.
var settingsTableRowRE = regexp.MustCompile("(?m)^\\| (`[^|]*) \\|")

// settingsTables returns the setting names the first cells of README's
// "| setting | …" tables name in backticks, with their lines. A range
// written "`a` … `b`" names a and b.
func settingsTables(readme string) map[string]int {
	names := map[string]int{}
	in := false
	for i, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "| setting |"):
			in = true
			continue
		case !strings.HasPrefix(line, "|"):
			in = false
			continue
		case !in:
			continue
		}
		m := settingsTableRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, b := range backticked(m[1]) {
			names[b] = i + 1
		}
	}
	return names
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
			declared := map[string]bool{}
			for _, s := range settings {
				declared[s.Name] = true
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
			for name, line := range settingsTables(readme) {
				if !declared[name] {
					t.Errorf("%s:%d: `%s` is in the settings table but plugin %s declares no such setting; a site that sets it is refused", path, line, name, p.name)
				}
			}
		})
	}
}
