package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPluginIsolation: plugins[].isolation sets, per plugin, when medgate
// runs the plugin without one of its sites; keys left out take
// DefaultPluginIsolation, and a plugin without the block has the defaults.
func TestPluginIsolation(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		block string // lines under plugins[0] (plugin a)
		want  PluginIsolation
	}{
		"left out": {want: DefaultPluginIsolation},
		"every key": {
			block: "    isolation:\n      configureCrashes: 5\n      siteCrashes: 4\n      siteCrashWindow: 30m\n",
			want:  PluginIsolation{ConfigureCrashes: 5, SiteCrashes: 4, SiteCrashWindow: Duration(30 * time.Minute)},
		},
		"one key, the others default": {
			block: "    isolation:\n      configureCrashes: 1\n",
			want:  PluginIsolation{ConfigureCrashes: 1, SiteCrashes: DefaultPluginIsolation.SiteCrashes, SiteCrashWindow: DefaultPluginIsolation.SiteCrashWindow},
		},
		"message crashes never isolate": {
			block: "    isolation:\n      siteCrashes: -1\n",
			want:  PluginIsolation{ConfigureCrashes: DefaultPluginIsolation.ConfigureCrashes, SiteCrashes: -1, SiteCrashWindow: DefaultPluginIsolation.SiteCrashWindow},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("/etc/medgate/medgate.yaml", []byte("kafka:\n  embedded: {}\n"+pluginsYAML(t, tc.block)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, c.Plugins[0].Isolation); diff != "" {
				t.Errorf("plugin a's isolation (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(DefaultPluginIsolation, c.Plugins[1].Isolation); diff != "" {
				t.Errorf("plugin b (no isolation block) (-want +got):\n%s", diff)
			}
		})
	}
	if d := DefaultPluginIsolation; d.ConfigureCrashes != 3 || d.SiteCrashes != 3 || d.SiteCrashWindow.D() != 10*time.Minute {
		t.Errorf("DefaultPluginIsolation = %+v, want 3 relaunches, 3 messages, 10m (what the README says)", d)
	}
}

// TestPluginIsolationProblems: every wrong value of plugins[].isolation is
// reported at once, each at its key and line, saying what is valid.
func TestPluginIsolationProblems(t *testing.T) {
	t.Parallel()
	block := "    isolation:\n      configureCrashes: 0\n      siteCrashes: 101\n      siteCrashWindow: 10s\n      crashes: 2\n"
	src := "kafka:\n  embedded: {}\n" + pluginsYAML(t, block)
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("no problem reported (err %v)", err)
	}
	lineOf := func(s string) int { return strings.Count(src[:strings.Index(src, s)], "\n") + 1 }
	want := map[string]struct {
		line int
		says string
	}{
		"plugins[0].isolation.configureCrashes": {lineOf("configureCrashes: 0"), "0 is not a valid value: must be between 1 and 100; write another value, or remove the line for the default 3"},
		"plugins[0].isolation.siteCrashes":      {lineOf("siteCrashes: 101"), "must be between 1 and 100 (messages of the site that each crashed the plugin again), or -1 never to isolate a site for its messages' crashes, is 101"},
		"plugins[0].isolation.siteCrashWindow":  {lineOf("siteCrashWindow"), "must be between 1m and 24h, is 10s"},
		"plugins[0].isolation.crashes":          {lineOf("crashes: 2"), "unknown key; plugins[0].isolation takes: configureCrashes, siteCrashWindow, siteCrashes"},
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for _, p := range ps {
		w, ok := want[p.Path]
		if !ok {
			t.Errorf("unexpected problem %s", p)
			continue
		}
		if p.Line != w.line || !strings.Contains(p.Message, w.says) {
			t.Errorf("problem %s, want at line %d saying %q", p, w.line, w.says)
		}
	}
}
