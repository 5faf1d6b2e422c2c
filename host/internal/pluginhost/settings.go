package pluginhost

import (
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// SettingProblem is one problem with a site's plugin settings.
type SettingProblem struct {
	Setting string
	Message string
}

// Resolver reads a secret reference ("env:NAME" / "file:PATH").
type Resolver = sdkhost.Resolver

// CheckSettings validates a site's settings against the plugin's declared
// fields (sdkhost.CheckSettings: unknown names, missing required values,
// types, enums, and secret references, which are resolved). It returns the
// settings with defaults applied and secrets resolved, and every problem at
// once.
//
// Relative values of path settings are resolved against baseDir (the
// directory of the configuration file).
func CheckSettings(decl []sdk.Setting, given map[string]string, baseDir string, isRef func(string) bool, resolve Resolver) (map[string]string, []SettingProblem) {
	out, sps := sdkhost.CheckSettings(decl, given, baseDir, isRef, resolve)
	var ps []SettingProblem
	for _, p := range sps {
		ps = append(ps, SettingProblem(p))
	}
	return out, ps
}
