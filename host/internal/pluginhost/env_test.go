package pluginhost

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestPluginGetsCleanEnvironment starts a plugin that reports its
// environment: the host's secrets (the variables a configuration names
// as env:…) do not reach it; the search path, home and locale do.
func TestPluginGetsCleanEnvironment(t *testing.T) {
	path, sum := buildPlugin(t, "./testdata/envprobe")
	const token, key = "admin-token-do-not-leak-0123456789", "c3RvcmUta2V5LWRvLW5vdC1sZWFr"
	t.Setenv("MEDGATE_ADMIN_TOKEN", token)
	t.Setenv("MEDGATE_STORE_KEY", key)
	t.Setenv("PGPASSWORD", "pg-password-do-not-leak")
	t.Setenv("LANG", "zh_CN.UTF-8")
	t.Setenv("LC_TIME", "zh_CN.UTF-8")
	t.Setenv("HOME", t.TempDir())
	in, err := Start(t.Context(), Spec{Name: "envprobe", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	env := strings.Split(in.Description().Description, "\n")
	for _, secret := range []string{token, key, "MEDGATE_ADMIN_TOKEN", "MEDGATE_STORE_KEY", "pg-password-do-not-leak", "PGPASSWORD"} {
		for _, kv := range env {
			if strings.Contains(kv, secret) {
				t.Errorf("the plugin's environment holds %q (%s)", secret, kv)
			}
		}
	}
	for _, want := range []string{"LANG=zh_CN.UTF-8", "LC_TIME=zh_CN.UTF-8", "HOME="} {
		if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, want) }) {
			t.Errorf("the plugin's environment lacks %s:\n%s", want, strings.Join(env, "\n"))
		}
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		t.Error("the plugin's environment lacks PATH")
	}
}

func TestPluginEnv(t *testing.T) {
	t.Parallel()
	got := pluginEnv([]string{"PATH=/usr/bin", "MEDGATE_TOKEN=x", "LC_ALL=C", "TZ=Asia/Shanghai", "HTTPS_PROXY=http://proxy:3128", "AWS_SECRET_ACCESS_KEY=y", "TMPDIR=/tmp", "BROKEN"})
	want := []string{"PATH=/usr/bin", "LC_ALL=C", "TZ=Asia/Shanghai", "HTTPS_PROXY=http://proxy:3128", "TMPDIR=/tmp"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pluginEnv (-want +got):\n%s", diff)
	}
}
