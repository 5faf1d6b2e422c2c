package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pluginsYAML declares plugins a and b on an executable every machine has.
func pluginsYAML(t *testing.T, aLimits string) string {
	t.Helper()
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skipf("no %s to stand for a plugin binary", sh)
	}
	sum := strings.Repeat("0", 64)
	return "plugins:\n  - name: a\n    path: " + sh + "\n    sha256: " + sum + "\n" + aLimits +
		"  - name: b\n    path: " + sh + "\n    sha256: " + sum + "\n"
}

// TestPluginLimits: pluginLimits gives every plugin its values, a
// plugin's limits override them key by key, and keys left out everywhere
// take DefaultPluginLimits; -1 as a rate is no limit.
func TestPluginLimits(t *testing.T) {
	t.Parallel()
	src := "kafka:\n  embedded: {}\npluginLimits:\n  publishPerSecond: 500\n  stateValueBytes: 2048\n" +
		pluginsYAML(t, "    limits:\n      publishBurst: 7\n      journalPerSecond: -1\n")
	c, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultPluginLimits
	want := []PluginLimits{
		{PublishPerSecond: 500, PublishBurst: 7, JournalPerSecond: -1, JournalBurst: d.JournalBurst, StateValueBytes: 2048},
		{PublishPerSecond: 500, PublishBurst: d.PublishBurst, JournalPerSecond: d.JournalPerSecond, JournalBurst: d.JournalBurst, StateValueBytes: 2048},
	}
	for i := range want {
		want[i].PerSitePublishPerSecond, want[i].PerSitePublishBurst = d.PerSitePublishPerSecond, d.PerSitePublishBurst
		want[i].PerSiteJournalPerSecond, want[i].PerSiteJournalBurst = d.PerSiteJournalPerSecond, d.PerSiteJournalBurst
		want[i].StateWritesPerSecond, want[i].StateWritesBurst = d.StateWritesPerSecond, d.StateWritesBurst
		want[i].PerSiteStateWritesPerSecond, want[i].PerSiteStateWritesBurst = d.PerSiteStateWritesPerSecond, d.PerSiteStateWritesBurst
	}
	got := []PluginLimits{c.Plugins[0].Limits, c.Plugins[1].Limits}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plugin limits (-want +got):\n%s", diff)
	}
	if c.PluginLimits.JournalBurst != d.JournalBurst || c.PluginLimits.PublishPerSecond != 500 {
		t.Errorf("pluginLimits %+v", c.PluginLimits)
	}
}

// TestPluginLimitsPerSite: the perSite keys are no bucket per site (-1)
// unless set; a perSite burst left out is twice the perSite rate written
// beside it, else the pluginLimits value, like every other key.
func TestPluginLimitsPerSite(t *testing.T) {
	t.Parallel()
	d := DefaultPluginLimits
	if d.PerSitePublishPerSecond != -1 || d.PerSiteJournalPerSecond != -1 {
		t.Errorf("DefaultPluginLimits %+v: a site must share its plugin's buckets unless told otherwise (one site, as before)", d)
	}
	cases := map[string]struct {
		global, plugin string    // lines under pluginLimits: and plugins[0].limits:
		want           [2][4]int // plugins a and b: perSite publish rate, burst, journal rate, burst
	}{
		"left out": {
			want: [2][4]int{{-1, d.PerSitePublishBurst, -1, d.PerSiteJournalBurst}, {-1, d.PerSitePublishBurst, -1, d.PerSiteJournalBurst}},
		},
		"every plugin": {
			global: "  perSitePublishPerSecond: 500\n  perSiteJournalPerSecond: 300\n  perSiteJournalBurst: 301\n",
			want:   [2][4]int{{500, 1000, 300, 301}, {500, 1000, 300, 301}},
		},
		"one plugin's rate, its burst twice it": {
			global: "  perSitePublishPerSecond: 500\n  perSitePublishBurst: 700\n",
			plugin: "      perSitePublishPerSecond: 40\n      perSiteJournalPerSecond: 20\n      perSiteJournalBurst: 25\n",
			want:   [2][4]int{{40, 80, 20, 25}, {500, 700, -1, d.PerSiteJournalBurst}},
		},
		"one plugin's burst, the rate of every plugin": {
			global: "  perSitePublishPerSecond: 500\n",
			plugin: "      perSitePublishBurst: 9\n",
			want:   [2][4]int{{500, 9, -1, d.PerSiteJournalBurst}, {500, 1000, -1, d.PerSiteJournalBurst}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\n"
			if tc.global != "" {
				src += "pluginLimits:\n" + tc.global
			}
			aLimits := ""
			if tc.plugin != "" {
				aLimits = "    limits:\n" + tc.plugin
			}
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(src+pluginsYAML(t, aLimits)))
			if err != nil {
				t.Fatal(err)
			}
			var got [2][4]int
			for i, p := range c.Plugins {
				l := p.Limits
				got[i] = [4]int{l.PerSitePublishPerSecond, l.PerSitePublishBurst, l.PerSiteJournalPerSecond, l.PerSiteJournalBurst}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("per-site limits of plugins a and b (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPluginLimitsProblems: each wrong limit is a problem at its key and
// line, saying what is valid: a wrong type, a negative count, -1 where it
// means nothing, too large, an explicit 0 (which would refuse every write;
// removing the line gives the default), an unknown key. A plugin whose
// pluginLimits are wrong is not blamed for them.
func TestPluginLimitsProblems(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		global, plugin string // lines under pluginLimits: and plugins[0].limits:
		path, says     string
	}{
		"wrong type":               {global: "  journalPerSecond: fast\n", path: "pluginLimits.journalPerSecond", says: "takes a whole number"},
		"rate negative":            {global: "  publishPerSecond: -5\n", path: "pluginLimits.publishPerSecond", says: "must be between 1 and 1000000 (events a second), or -1 for no limit, is -5"},
		"rate zero":                {global: "  publishPerSecond: 0\n", path: "pluginLimits.publishPerSecond", says: "0 is not a valid value: must be at least 1 (a second), or -1 for no limit; write another value, or remove the line for the default 50000"},
		"burst -1":                 {global: "  journalBurst: -1\n", path: "pluginLimits.journalBurst", says: "must be between 1 and 10000000 (journal entries at once), is -1"},
		"burst zero":               {global: "  publishBurst: 0\n", path: "pluginLimits.publishBurst", says: "remove the line for the default 100000"},
		"value too large":          {global: "  stateValueBytes: 5000000\n", path: "pluginLimits.stateValueBytes", says: "must be between 1 and 4194304"},
		"value zero":               {global: "  stateValueBytes: 0\n", path: "pluginLimits.stateValueBytes", says: "remove the line for the default 1048576"},
		"plugin rate":              {plugin: "      publishPerSecond: -2\n", path: "plugins[0].limits.publishPerSecond", says: "or -1 for no limit, is -2"},
		"plugin zero":              {plugin: "      journalBurst: 0\n", path: "plugins[0].limits.journalBurst", says: "remove the line for the default 100000"},
		"plugin zero inherit":      {global: "  journalBurst: 9\n", plugin: "      journalBurst: 0\n", path: "plugins[0].limits.journalBurst", says: "remove the line for the default 9"},
		"plugin unknown key":       {plugin: "      burst: 3\n", path: "plugins[0].limits.burst", says: "unknown key; plugins[0].limits takes: journalBurst, journalPerSecond, perSiteJournalBurst, perSiteJournalPerSecond, perSitePublishBurst, perSitePublishPerSecond, perSiteStateWritesBurst, perSiteStateWritesPerSecond, publishBurst, publishPerSecond, stateValueBytes, stateWritesBurst, stateWritesPerSecond"},
		"state writes rate zero":   {global: "  stateWritesPerSecond: 0\n", path: "pluginLimits.stateWritesPerSecond", says: "remove the line for the default 20000"},
		"state writes rate":        {plugin: "      stateWritesPerSecond: -4\n", path: "plugins[0].limits.stateWritesPerSecond", says: "must be between 1 and 1000000 (state writes a second), or -1 for no limit, is -4"},
		"state writes burst":       {global: "  stateWritesBurst: -1\n", path: "pluginLimits.stateWritesBurst", says: "must be between 1 and 10000000 (state writes at once), is -1"},
		"per-site state writes":    {plugin: "      perSiteStateWritesPerSecond: 0\n", path: "plugins[0].limits.perSiteStateWritesPerSecond", says: "remove the line for the default -1"},
		"per-site state writes at": {global: "  perSiteStateWritesBurst: 10000001\n", path: "pluginLimits.perSiteStateWritesBurst", says: "must be between 1 and 10000000 (state writes at once of each site), is 10000001"},
		"per-site rate":            {global: "  perSitePublishPerSecond: -3\n", path: "pluginLimits.perSitePublishPerSecond", says: "must be between 1 and 1000000 (events a second of each site), or -1 for no limit, is -3"},
		"per-site rate zero":       {plugin: "      perSiteJournalPerSecond: 0\n", path: "plugins[0].limits.perSiteJournalPerSecond", says: "remove the line for the default -1"},
		"per-site burst":           {plugin: "      perSiteJournalBurst: 10000001\n", path: "plugins[0].limits.perSiteJournalBurst", says: "must be between 1 and 10000000 (journal entries at once of each site), is 10000001"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\n"
			if tc.global != "" {
				src += "pluginLimits:\n" + tc.global
			}
			line := strings.Count(src, "\n")
			aLimits := ""
			if tc.plugin != "" {
				aLimits = "    limits:\n" + tc.plugin
			}
			src += pluginsYAML(t, aLimits)
			if tc.plugin != "" {
				line = strings.Count(src[:strings.Index(src, tc.plugin)], "\n") + 1
			}
			_, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("no problem reported (err %v)", err)
			}
			if len(ps) != 1 {
				t.Errorf("%d problems, want 1 (the key's own, no plugin blamed for pluginLimits):\n%v", len(ps), ps)
			}
			p := ps[0]
			if p.Path != tc.path || p.Line != line || !strings.Contains(p.Message, tc.says) {
				t.Errorf("problem %s, want at %s (line %d) saying %q", p, tc.path, line, tc.says)
			}
		})
	}
}

// TestPluginLimitsStateWrites: the state-write keys take their defaults
// (20000 a second, a burst of 40000, no bucket per site), pluginLimits
// and a plugin's limits override them key by key, and a perSite burst
// left out is twice the perSite rate written beside it, as for events.
func TestPluginLimitsStateWrites(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		global, plugin string    // lines under pluginLimits: and plugins[0].limits:
		want           [2][4]int // plugins a and b: rate, burst, perSite rate, perSite burst
	}{
		"left out": {
			want: [2][4]int{{20000, 40000, -1, 40000}, {20000, 40000, -1, 40000}},
		},
		"every plugin": {
			global: "  stateWritesPerSecond: 300\n  perSiteStateWritesPerSecond: 50\n",
			want:   [2][4]int{{300, 40000, 50, 100}, {300, 40000, 50, 100}},
		},
		"one plugin": {
			global: "  stateWritesBurst: 900\n",
			plugin: "      stateWritesPerSecond: -1\n      perSiteStateWritesPerSecond: 7\n      perSiteStateWritesBurst: 8\n",
			want:   [2][4]int{{-1, 900, 7, 8}, {20000, 900, -1, 40000}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\n"
			if tc.global != "" {
				src += "pluginLimits:\n" + tc.global
			}
			aLimits := ""
			if tc.plugin != "" {
				aLimits = "    limits:\n" + tc.plugin
			}
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(src+pluginsYAML(t, aLimits)))
			if err != nil {
				t.Fatal(err)
			}
			var got [2][4]int
			for i, p := range c.Plugins {
				l := p.Limits
				got[i] = [4]int{l.StateWritesPerSecond, l.StateWritesBurst, l.PerSiteStateWritesPerSecond, l.PerSiteStateWritesBurst}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("state-write limits of plugins a and b (-want +got):\n%s", diff)
			}
		})
	}
}
