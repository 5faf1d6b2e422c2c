package siteadmin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/plugins/sdk"
)

const sample = `# medgate test configuration
kafka:
  embedded: {}
plugins:
  - name: ecard
    path: ./ecard
    sha256: SUM
  - name: ledger
    path: ./ecard
    sha256: SUM
sites:
  - code: s1
    name: 思明院区
    plugins:
      # the e-card platform
      ecard:
        settings:
          url: http://127.0.0.1:1/   # the simulator
          regionCode: "350200"
          mode: test
  - code: s2
    plugins:
      ledger: {}
`

func bool_(b bool) *bool { return &b }

func TestEdit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		site, plugin string
		ch           Change
		want, not    []string
	}{
		{"disable keeps comments and settings", "s1", "ecard", Change{Enabled: bool_(false)},
			[]string{"# medgate test configuration", "# the e-card platform", "# the simulator", "enabled: false", `regionCode: "350200"`}, nil},
		{"change, add and remove settings in place", "s1", "ecard",
			Change{Settings: map[string]string{"url": "https://ecard.example/", "regionCode": "350203", "retries": "3", "mode": ""}, Order: []string{"url", "regionCode", "retries", "mode"}},
			[]string{"url: https://ecard.example/ # the simulator", `regionCode: "350203"`, `retries: "3"`}, []string{"mode:"}},
		{"enable a plugin the site did not list", "s2", "ecard", Change{Enabled: bool_(true), Settings: map[string]string{"url": "http://x/"}},
			[]string{"ledger: {}", "ecard:\n        enabled: true\n        settings:\n          url: http://x/"}, nil},
		{"clear every setting", "s1", "ecard", Change{Settings: map[string]string{}}, []string{"# the e-card platform"}, []string{"settings:", "url:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Edit([]byte(sample), tc.site, tc.plugin, tc.ch)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(out), n) {
					t.Errorf("output still has %q:\n%s", n, out)
				}
			}
		})
	}
	if _, err := Edit([]byte(sample), "nowhere", "ecard", Change{}); err == nil || !strings.Contains(err.Error(), `no site "nowhere"`) {
		t.Errorf("unknown site: %v", err)
	}
	if _, err := Edit([]byte("kafka: [\n"), "s1", "ecard", Change{}); err == nil {
		t.Error("broken YAML accepted")
	}
}

// fakeHost is a running medgate: it reloads by parsing the file.
type fakeHost struct {
	cfg      *config.Config
	reloads  int
	failNext error
}

func (h *fakeHost) Config() *config.Config { return h.cfg }

var ecardSettings = []sdk.Setting{
	{Name: "url", Type: sdk.SettingURL, Required: true, Description: "the platform's address"},
	{Name: "regionCode", Type: sdk.SettingString},
	{Name: "mode", Type: sdk.SettingString, Enum: []string{"test", "live"}, Default: "test"},
	{Name: "retries", Type: sdk.SettingInt},
	{Name: "token", Type: sdk.SettingSecret},
}

func (h *fakeHost) Plugins() []Plugin {
	return []Plugin{{Name: "ecard", Version: "1.2.0", Running: true, Settings: ecardSettings}, {Name: "ledger", Running: true, Settings: []sdk.Setting{}}}
}

func (h *fakeHost) Reload(context.Context) error {
	h.reloads++
	if err := h.failNext; err != nil {
		h.failNext = nil
		return err
	}
	cfg, err := config.Load(h.cfg.File)
	if err != nil {
		return err
	}
	h.cfg = cfg
	return nil
}

func newHost(t *testing.T) (*fakeHost, string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ecard")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	path := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(sample, "SUM", hex.EncodeToString(sum[:]))), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeHost{cfg: cfg}, path
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	h, path := newHost(t)
	s := New(h)
	before, _ := os.ReadFile(path)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "ecard-token"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Every problem at once, the file untouched, nothing reloaded.
	err := s.Update(t.Context(), "s1", "ecard", Change{Settings: map[string]string{"url": "", "mode": "prod", "retries": "three", "token": "plain-secret", "colour": "red"}})
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("bad settings: %v, want config.Problems", err)
	}
	for _, want := range []string{"settings.url: is required", "settings.mode", "settings.retries", "settings.token", "settings.colour: unknown setting"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) || h.reloads != 0 {
		t.Fatalf("a refused change touched the file or reloaded (%d)", h.reloads)
	}

	// A good change is written back (comments kept, .bak), reloaded and in force.
	err = s.Update(t.Context(), "s1", "ecard", Change{Settings: map[string]string{"url": "https://ecard.example/", "regionCode": "350200", "mode": "live", "token": "file:ecard-token"}})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	for _, want := range []string{"# the e-card platform", "url: https://ecard.example/ # the simulator", "mode: live", "token: file:ecard-token"} {
		if !strings.Contains(string(after), want) {
			t.Errorf("file lacks %q:\n%s", want, after)
		}
	}
	if bak, _ := os.ReadFile(path + ".bak"); string(bak) != string(before) {
		t.Error("the .bak is not the previous file")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %o, want the file's 0640", st.Mode().Perm())
	}
	sp, err := s.SitePlugin("s1", "ecard")
	if err != nil || h.reloads != 1 || sp.Settings[2].Value != "live" {
		t.Fatalf("after the change: %+v %v reloads %d", sp, err, h.reloads)
	}

	// Disable and enable.
	if err := s.Update(t.Context(), "s1", "ecard", Change{Enabled: bool_(false)}); err != nil {
		t.Fatal(err)
	}
	if sp, _ := s.SitePlugin("s1", "ecard"); sp.Enabled || !sp.Listed {
		t.Fatalf("disabled: %+v", sp)
	}

	// A failed reload puts the previous file back and reloads it.
	good, _ := os.ReadFile(path)
	h.failNext = errors.New("plugin ecard refused: url unreachable")
	err = s.Update(t.Context(), "s1", "ecard", Change{Enabled: bool_(true)})
	if err == nil || !strings.Contains(err.Error(), "previous configuration is back in force") || !strings.Contains(err.Error(), "url unreachable") {
		t.Fatalf("failed reload: %v", err)
	}
	if now, _ := os.ReadFile(path); string(now) != string(good) {
		t.Fatalf("the previous file was not restored:\n%s", now)
	}
	if sp, _ := s.SitePlugin("s1", "ecard"); sp.Enabled {
		t.Fatal("the refused enable is in force")
	}

	for _, tc := range [][2]string{{"s9", "ecard"}, {"s1", "nope"}} {
		if err := s.Update(t.Context(), tc[0], tc[1], Change{}); !errors.Is(err, ErrUnknown) {
			t.Errorf("%v: %v, want ErrUnknown", tc, err)
		}
	}
	// Status: checksum and sites.
	ps2 := s.Plugins()
	if len(ps2) != 2 || len(ps2[0].SHA256) != 64 || ps2[0].Version != "1.2.0" || ps2[1].Sites[0] != "s2" {
		t.Fatalf("plugins: %+v", ps2)
	}
}

// TestEditKeepsTheDemoConfiguration: editing one plugin of the shipped
// demo configuration keeps every comment and every other value.
func TestEditKeepsTheDemoConfiguration(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../../deploy/demo/medgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Edit(src, "demo", "ledger", Change{Enabled: bool_(false)})
	if err != nil {
		t.Fatal(err)
	}
	comments := func(b []byte) []string {
		var out []string
		for line := range strings.SplitSeq(string(b), "\n") {
			if _, c, ok := strings.Cut(line, "# "); ok {
				out = append(out, strings.TrimSpace(c))
			}
		}
		return out
	}
	if a, b := comments(src), comments(out); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("comments changed: %d before, %d after", len(a), len(b))
	}
	before, err1 := config.Parse("demo.yaml", src)
	after, err2 := config.Parse("demo.yaml", out)
	if before == nil || after == nil {
		t.Fatalf("parse: %v / %v", err1, err2)
	}
	if after.Sites[0].Plugins["ledger"].IsEnabled() {
		t.Fatal("ledger still enabled")
	}
	for name, sp := range before.Sites[0].Plugins {
		if name == "ledger" {
			continue
		}
		if got := after.Sites[0].Plugins[name]; strings.Join(mapPairs(got.Settings), ",") != strings.Join(mapPairs(sp.Settings), ",") {
			t.Errorf("%s settings changed: %v → %v", name, sp.Settings, got.Settings)
		}
	}
}

func mapPairs(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// TestUpdateDisabledKeepsSecretsOut: a secret written as such is refused
// for a plugin disabled at the site too, so it never reaches the file
// (nor, from there, the admin pages and API that show settings).
func TestUpdateDisabledKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	h, path := newHost(t)
	s := New(h)
	before, _ := os.ReadFile(path)
	err := s.Update(t.Context(), "s1", "ecard", Change{Enabled: bool_(false), Settings: map[string]string{"url": "https://ecard.example/", "token": "plain-secret"}})
	if err == nil || !strings.Contains(err.Error(), "settings.token") {
		t.Fatalf("a literal secret for a disabled plugin: %v, want a problem naming settings.token", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) || strings.Contains(string(after), "plain-secret") {
		t.Fatalf("the refused change reached the file:\n%s", after)
	}
}

// TestUpdateTwoAdmins: two admins open the same form; the second save
// neither undoes the first one's change (settings or enabled) nor
// silently overwrites a setting both changed.
func TestUpdateTwoAdmins(t *testing.T) {
	t.Parallel()
	h, path := newHost(t)
	s := New(h)
	seen := func() (map[string]string, bool) {
		sp, err := s.SitePlugin("s1", "ecard")
		if err != nil {
			t.Fatal(err)
		}
		base := map[string]string{}
		for _, st := range sp.Settings {
			base[st.Name] = st.Value
		}
		return base, sp.Enabled
	}
	// The form as each admin sends it: every setting, changed or not.
	form := func(base map[string]string, change map[string]string) map[string]string {
		out := maps.Clone(base)
		maps.Copy(out, change)
		return out
	}
	baseA, enA := seen()
	baseB, enB := seen()

	// A changes the url and disables the plugin.
	if err := s.Update(t.Context(), "s1", "ecard", Change{Enabled: bool_(false), Settings: form(baseA, map[string]string{"url": "https://a.example/"}), Base: baseA, BaseEnabled: &enA}); err != nil {
		t.Fatal(err)
	}
	// B, from the form opened before, changes the mode only: merged.
	if err := s.Update(t.Context(), "s1", "ecard", Change{Enabled: &enB, Settings: form(baseB, map[string]string{"mode": "live"}), Base: baseB, BaseEnabled: &enB}); err != nil {
		t.Fatalf("a change to another setting was refused: %v", err)
	}
	sp, _ := s.SitePlugin("s1", "ecard")
	got := map[string]string{}
	for _, st := range sp.Settings {
		got[st.Name] = st.Value
	}
	if got["url"] != "https://a.example/" || got["mode"] != "live" || got["regionCode"] != "350200" || sp.Enabled {
		t.Fatalf("after both saves: enabled %v, settings %v; want A's url and disable kept, B's mode", sp.Enabled, got)
	}

	// B, still from the old form, changes the url too: refused, A's stays.
	before, _ := os.ReadFile(path)
	err := s.Update(t.Context(), "s1", "ecard", Change{Enabled: &enB, Settings: form(baseB, map[string]string{"url": "https://b.example/"}), Base: baseB, BaseEnabled: &enB})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "url") {
		t.Fatalf("both changed url: %v, want ErrConflict naming url", err)
	}
	var ce *ConflictError
	if !errors.As(err, &ce) || !slices.Equal(ce.Settings, []string{"url"}) || ce.Current["url"] != "https://a.example/" || ce.Current["mode"] != "live" || ce.CurrentEnabled {
		t.Fatalf("conflict %+v; want settings [url] and the file's values (A's url, B's mode, disabled)", ce)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatalf("the refused change reached the file:\n%s", after)
	}
}

// TestWriteFailureSaysHowToFix: a configuration medgate may not write
// (systemd's ProtectSystem=strict, a ConfigMap, file permissions) or a
// full disk gives an error that says the file is unchanged and what to do.
func TestWriteFailureSaysHowToFix(t *testing.T) {
	t.Parallel()
	const path = "/etc/medgate/medgate.yaml"
	cases := map[string]struct {
		err  error
		want []string
	}{
		"read-only file system": {&os.PathError{Op: "open", Path: "/etc/medgate/.medgate.yaml.tmp-1", Err: syscall.EROFS},
			[]string{"read-only file system", "unchanged", "ReadWritePaths=/etc/medgate", "medgate reload"}},
		"permission denied": {&os.PathError{Op: "open", Path: "/etc/medgate/.medgate.yaml.tmp-1", Err: syscall.EACCES},
			[]string{"permission denied", "unchanged", "ReadWritePaths=/etc/medgate", "medgate reload"}},
		"disk full": {&os.PathError{Op: "write", Path: "/etc/medgate/.medgate.yaml.tmp-1", Err: syscall.ENOSPC},
			[]string{"no space left on device", "unchanged", "free space"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := writeError("write the configuration "+path, path, tc.err)
			if !errors.Is(err, tc.err.(*os.PathError).Err) {
				t.Errorf("%v does not wrap %v", err, tc.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestWriteFileThroughSymlink: a configuration path that is a symbolic
// link (a checked-out configuration repository, a ConfigMap's ..data
// link) stays a link; the file it points to gets the change.
func TestWriteFileThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real := filepath.Join(dir, "repo", "medgate.yaml")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "medgate.yaml")
	if err := os.Symlink(filepath.Join("repo", "medgate.yaml"), link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("old\n"), []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a symbolic link (%v): the file it pointed to kept the old configuration", link, err)
	}
	if b, _ := os.ReadFile(real); string(b) != "new\n" {
		t.Errorf("the linked file holds %q, want the change", b)
	}
	if b, _ := os.ReadFile(real + ".bak"); string(b) != "old\n" {
		t.Errorf("%s.bak holds %q, want the previous file", real, b)
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %o, want the file's 0640", fi.Mode().Perm())
	}
}

// TestEditTouchesOnlyThePluginEntry: a change to one plugin at one site
// leaves every other line of the shipped configurations byte for byte as
// it was: comment alignment, quoting of lists, and a commented-out block
// after the entry (it used to move into the plugin's settings, where
// uncommenting it would make a wrong setting).
func TestEditTouchesOnlyThePluginEntry(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		file, site, plugin string
		ch                 Change
		check              func(t *testing.T, sp config.SitePlugin)
	}{
		"production: disable ecard": {"../../../deploy/config/medgate.yaml", "main", "ecard", Change{Enabled: bool_(false)},
			func(t *testing.T, sp config.SitePlugin) {
				if sp.IsEnabled() || sp.Settings["cardPrefix"] != "8801" {
					t.Errorf("ecard: enabled %v, settings %v", sp.IsEnabled(), sp.Settings)
				}
			}},
		"production: change a setting": {"../../../deploy/config/medgate.yaml", "main", "ecard",
			Change{Settings: map[string]string{"identitySecret": "file:/etc/medgate/secrets/ecard-identity", "qrKeys": "file:/etc/medgate/secrets/ecard-qrkeys", "cardPrefix": "8802", "tempCardPrefixes": "9"}},
			func(t *testing.T, sp config.SitePlugin) {
				if sp.Settings["cardPrefix"] != "8802" || sp.Settings["tempCardPrefixes"] != "9" {
					t.Errorf("ecard settings %v", sp.Settings)
				}
			}},
		"demo: disable tracecode": {"../../../deploy/demo/medgate.yaml", "demo", "tracecode", Change{Enabled: bool_(false)},
			func(t *testing.T, sp config.SitePlugin) {
				if sp.IsEnabled() {
					t.Error("tracecode still enabled")
				}
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Edit(src, tc.site, tc.plugin, tc.ch)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(src), "\n")
			start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), tc.plugin+":") })
			if start < 0 {
				t.Fatalf("%s names no %s: update this test", tc.file, tc.plugin)
			}
			indent := len(lines[start]) - len(strings.TrimLeft(lines[start], " "))
			end := start + 1
			for end < len(lines) && (strings.TrimSpace(lines[end]) == "" || len(lines[end])-len(strings.TrimLeft(lines[end], " ")) > indent) {
				end++
			}
			for end > start+1 && strings.TrimSpace(lines[end-1]) == "" {
				end--
			}
			prefix, suffix := strings.Join(lines[:start], ""), strings.Join(lines[end:], "")
			if !strings.HasPrefix(string(out), prefix) {
				t.Errorf("the lines before %s's entry changed:\n%s", tc.plugin, out)
			}
			if !strings.HasSuffix(string(out), suffix) {
				t.Errorf("the lines after %s's entry changed:\n%s", tc.plugin, out)
			}
			cfg, _ := config.Parse(tc.file, out)
			if cfg == nil || cfg.Site(tc.site) == nil {
				t.Fatalf("the edited file does not parse:\n%s", out)
			}
			tc.check(t, cfg.Site(tc.site).Plugins[tc.plugin])
		})
	}
}
