package sdktest

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/schemas"
)

// Configure configures site on c as medgate does: it checks the plugin's
// Describe answer with the rules medgate launches a plugin by, loads its
// schema documents (DescribeResponse.Schemas) over medgate's built-in ones
// as medgate does at start, checks given against the declared settings,
// fills in the defaults and calls Configure with every declared setting. A secret setting is given as its value (in
// medgate the site names an env: or file: reference, which the host
// resolves; a secret given here as such a reference fails the test, since
// the plugin would take the reference's text for the secret). The schema
// documents Configure returns for the site (ConfigureResponse.Schemas) are
// loaded over the declared ones as medgate loads them. What medgate would refuse, the plugin or the site's settings,
// fails the test; the plugin's own diagnostics are in the response.
//
// Calling the client's Configure directly skips those checks: the plugin
// then gets exactly the map it is given, without defaults.
func Configure(t testing.TB, c *sdkhost.Client, site string, given map[string]string) *sdk.ConfigureResponse {
	t.Helper()
	d, err := c.Describe(t.Context(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatalf("sdktest: describe: %v", err)
	}
	if errs := sdkhost.CheckDescriptionAt(d, c.Version()); len(errs) > 0 {
		t.Fatalf("sdktest: medgate would refuse to launch plugin %q: %v", d.Name, errors.Join(errs...))
	}
	base := schemas.Embedded()
	if len(d.Schemas) > 0 && c.Version() >= sdkhost.ProtocolV2 {
		if base, err = base.OverlayFS(mapFS(d.Schemas)); err != nil {
			t.Fatalf("sdktest: medgate would refuse to start with plugin %q: the schema documents it declares (its Describe's Schemas) do not load: %v; correct them as schemas/README.md describes", d.Name, err)
		}
	}
	for _, st := range d.Settings {
		if v := given[st.Name]; st.Type == sdk.SettingSecret && isReference(v) {
			t.Fatalf("sdktest: setting %q of site %q is a secret given as the reference %q: medgate resolves a site's env: or file: reference and hands the plugin the secret, "+
				"but sdktest.Configure gives a secret as it is given, so the plugin would take the reference's text for the secret; give the secret's value itself (a test key)", st.Name, site, v)
		}
	}
	secretAsValue := func(string) bool { return true }
	resolve := func(v string) (string, error) { return v, nil }
	settings, ps := sdkhost.CheckSettings(d.Settings, given, "", secretAsValue, resolve)
	if len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.Setting + ": " + p.Message
		}
		t.Fatalf("sdktest: medgate would refuse the settings of site %q: %s", site, strings.Join(msgs, "; "))
	}
	r, err := c.Configure(t.Context(), &sdk.ConfigureRequest{Site: site, Settings: settings})
	if err != nil {
		t.Fatalf("sdktest: configure site %q: %v", site, err)
	}
	// medgate loads the site's documents over the declared ones and
	// refuses the site (check-config, start, reload) when they do not load.
	if len(r.Schemas) > 0 && c.Version() >= sdkhost.ProtocolV2 {
		if _, err := base.OverlayFS(mapFS(r.Schemas)); err != nil {
			t.Fatalf("sdktest: medgate would refuse site %q: the schema documents plugin %q's Configure returned for it (ConfigureResponse.Schemas, the site's overlay) do not load: %v; correct them as schemas/README.md describes", site, d.Name, err)
		}
	}
	return r
}

// mapFS holds docs by path, as the host loads a plugin's documents.
func mapFS(docs map[string][]byte) fstest.MapFS {
	fsys := fstest.MapFS{}
	for p, data := range docs {
		fsys[p] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return fsys
}

// isReference reports whether v is written as medgate.yaml writes a
// secret, an env: or file: reference (the host's config.IsSecretRef).
func isReference(v string) bool {
	return strings.HasPrefix(v, "env:") && len(v) > 4 || strings.HasPrefix(v, "file:") && len(v) > 5
}
