package sdkhost

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestSecretDefaultsAreNeverResolved: a secret reaches a plugin only from
// the site's configuration. A plugin that declares a default reference
// for a secret setting ("env:MEDGATE_ADMIN_TOKEN", "file:" of another
// plugin's key) would otherwise have the host read that secret and hand
// it over in Configure (or to a command). CheckSettings leaves such a
// default unread, and CheckDescription refuses the declaration.
func TestSecretDefaultsAreNeverResolved(t *testing.T) {
	t.Parallel()
	isRef := func(v string) bool { return strings.HasPrefix(v, "env:") || strings.HasPrefix(v, "file:") }
	var asked []string
	resolve := func(ref string) (string, error) {
		asked = append(asked, ref)
		return "the host's secret", nil
	}
	cases := map[string]struct {
		decl     sdk.Setting
		given    map[string]string
		want     string // the value handed to the plugin
		problems int
	}{
		"optional, unset": {
			decl: sdk.Setting{Name: "token", Type: sdk.SettingSecret, Default: "env:MEDGATE_ADMIN_TOKEN"},
			want: "",
		},
		"required, unset": {
			decl:     sdk.Setting{Name: "token", Type: sdk.SettingSecret, Required: true, Default: "file:/etc/medgate/keys/other/private.pem"},
			want:     "",
			problems: 1,
		},
		"set in the configuration": {
			decl:  sdk.Setting{Name: "token", Type: sdk.SettingSecret, Default: "env:MEDGATE_ADMIN_TOKEN"},
			given: map[string]string{"token": "env:ACME_TOKEN"},
			want:  "the host's secret",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			asked = nil
			out, ps := CheckSettings([]sdk.Setting{tc.decl}, tc.given, "/etc/medgate", isRef, resolve)
			if out["token"] != tc.want || len(ps) != tc.problems {
				t.Errorf("CheckSettings = %q, %+v; want %q and %d problems", out["token"], ps, tc.want, tc.problems)
			}
			for _, ref := range asked {
				if ref == tc.decl.Default {
					t.Errorf("the plugin's default %q was resolved", ref)
				}
			}
		})
	}
	errs := CheckDescription(&sdk.DescribeResponse{Name: "p", Settings: []sdk.Setting{{Name: "token", Type: sdk.SettingSecret, Default: "env:MEDGATE_ADMIN_TOKEN"}}})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `setting "token"`) || !strings.Contains(errs[0].Error(), "Default") {
		t.Errorf("CheckDescription = %v; want one error saying the secret setting may have no Default", errs)
	}
}
