package pluginhost

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// SettingProblem is one problem with a site's plugin settings.
type SettingProblem struct {
	Setting string
	Message string
}

// Resolver reads a secret reference ("env:NAME" / "file:PATH").
type Resolver func(ref string) (string, error)

// CheckSettings validates a site's settings against the plugin's declared
// fields: unknown names, missing required values, types, enums, and secret
// references (which are resolved). It returns the settings with defaults
// applied and secrets resolved, and every problem at once.
//
// Relative values of path settings are resolved against baseDir (the
// directory of the configuration file).
func CheckSettings(decl []sdk.Setting, given map[string]string, baseDir string, isRef func(string) bool, resolve Resolver) (map[string]string, []SettingProblem) {
	var ps []SettingProblem
	known := map[string]sdk.Setting{}
	for _, d := range decl {
		known[d.Name] = d
	}
	names := make([]string, 0, len(given))
	for n := range given {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := known[n]; !ok {
			valid := make([]string, 0, len(decl))
			for _, d := range decl {
				valid = append(valid, d.Name)
			}
			ps = append(ps, SettingProblem{n, fmt.Sprintf("unknown setting; this plugin accepts: %s", strings.Join(valid, ", "))})
		}
	}
	out := map[string]string{}
	for _, d := range decl {
		v, ok := given[d.Name]
		if !ok || v == "" {
			if d.Required && d.Default == "" {
				ex := ""
				if d.Example != "" {
					ex = fmt.Sprintf(" (for example %q)", d.Example)
				}
				ps = append(ps, SettingProblem{d.Name, fmt.Sprintf("is required: %s%s", d.Description, ex)})
				continue
			}
			v = d.Default
		}
		if v == "" {
			out[d.Name] = ""
			continue
		}
		if msg := checkValue(d, v, isRef); msg != "" {
			ps = append(ps, SettingProblem{d.Name, msg})
			continue
		}
		if d.Type == sdk.SettingPath && !filepath.IsAbs(v) {
			v = filepath.Join(baseDir, v)
		}
		if d.Type == sdk.SettingSecret {
			s, err := resolve(v)
			if err != nil {
				ps = append(ps, SettingProblem{d.Name, "cannot read the secret: " + err.Error()})
				continue
			}
			v = s
		}
		out[d.Name] = v
	}
	return out, ps
}

func checkValue(d sdk.Setting, v string, isRef func(string) bool) string {
	// A secret is checked for a reference first: a value that is none may
	// be the secret itself, and no other message may repeat it.
	if d.Type == sdk.SettingSecret && !isRef(v) {
		return `secrets are never written in the configuration; write "env:VARIABLE" or "file:/path/to/secret"`
	}
	if len(d.Enum) > 0 && !slices.Contains(d.Enum, v) {
		return fmt.Sprintf("%q is not allowed; use one of: %s", v, strings.Join(d.Enum, ", "))
	}
	switch d.Type {
	case sdk.SettingInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Sprintf("%q is not a whole number", v)
		}
	case sdk.SettingBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Sprintf("%q is not true or false", v)
		}
	case sdk.SettingDuration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Sprintf("%q is not a duration; write e.g. \"30m\"", v)
		}
	case sdk.SettingURL:
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("%q is not an http(s) URL", v)
		}
	}
	return ""
}
