package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
)

var (
	ledgerOnce sync.Once
	ledgerPath string
	ledgerErr  error
)

// ledgerConfig builds the test plugin once and writes a configuration
// with one site whose ledger holds two effects.
func ledgerConfig(t *testing.T) string {
	t.Helper()
	ledgerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cli-test-")
		if err != nil {
			ledgerErr = err
			return
		}
		ledgerPath = filepath.Join(dir, "ledger")
		if out, err := exec.Command("go", "build", "-o", ledgerPath, "github.com/medgate/medgate/test/plugins/ledger").CombinedOutput(); err != nil {
			ledgerErr = &buildError{err, string(out)}
		}
	})
	if ledgerErr != nil {
		t.Fatalf("build the ledger plugin: %v", ledgerErr)
	}
	bin, err := os.ReadFile(ledgerPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "effects.log"), []byte("m1\tk1\t1\nm2\tk2\t2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "medgate.yaml")
	conf := "plugins:\n  - name: ledger\n    path: " + ledgerPath + "\n    sha256: " + hex.EncodeToString(sum[:]) +
		"\nsites:\n  - code: s1\n    plugins:\n      ledger:\n        settings:\n          ledgerDir: " + dir + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// TestPluginCommands runs the test plugin's declared commands through the
// generic path: help generated from the declarations, a local command run
// in the plugin binary with the site's settings, and the mistakes an
// operator makes.
func TestPluginCommands(t *testing.T) {
	t.Parallel()
	cfg := ledgerConfig(t)
	cases := map[string]struct {
		args       []string
		code       int
		wantOut    []string
		wantErr    []string
		notWantOut []string
		notWantErr []string
	}{
		"help lists built-in and plugin commands": {args: []string{"help", "-config", cfg}, wantOut: []string{
			"medgate run ", "medgate send ", "medgate job run ", "medgate transform test ", "medgate import-spec ",
			"medgate ledger record [-config FILE] [-site S] [-timeout D] [-json] SEQ", "record an effect through the running medgate",
			"medgate ledger effects [-config FILE] [-site S] [-key KEY]",
		}},
		"plugin help": {args: []string{"ledger", "-h", "-config", cfg}, wantOut: []string{"ledger 1.0.0", "medgate ledger effects"}},
		"command help": {args: []string{"ledger", "record", "-h", "-config", cfg}, wantOut: []string{
			"usage: medgate ledger record", "Sends ledger.record through the running medgate", "SEQ", "sequence number of the effect (int); required",
		}},
		"local command": {args: []string{"ledger", "effects", "-config", cfg}, wantOut: []string{"2 effects at site s1", "MESSAGE  KEY", "m1       k*", "m2       k*"},
			notWantOut: []string{"k1", "k2"}}, // keys are declared personal: masked
		"local command with an argument": {args: []string{"ledger", "effects", "-config", cfg, "-key", "k2"},
			wantOut: []string{"1 effects at site s1", "m2       k*"}, notWantOut: []string{"m1"}},
		"site that does not enable the plugin": {args: []string{"ledger", "effects", "-config", cfg, "-site", "s9"}, code: 1,
			wantErr: []string{`site "s9" does not enable the ledger plugin`, "sites that do: s1"}},
		"missing required argument":  {args: []string{"ledger", "record", "-config", cfg}, code: 2, wantErr: []string{"seq: is required"}},
		"argument of the wrong type": {args: []string{"ledger", "record", "-config", cfg, "three"}, code: 2, wantErr: []string{`seq: "three" is not a whole number`}},
		"too many arguments":         {args: []string{"ledger", "record", "-config", cfg, "1", "2"}, code: 2, wantErr: []string{"takes 1 argument(s) without a flag"}},
		"unknown flag":               {args: []string{"ledger", "effects", "-config", cfg, "-nope"}, code: 2, wantErr: []string{"flag provided but not defined: -nope", "usage: medgate ledger effects"}},
		"unknown plugin command":     {args: []string{"ledger", "nosuch", "-config", cfg}, code: 2, wantErr: []string{`the ledger plugin has no command "nosuch"`, "medgate ledger record"}},
		"no command":                 {args: []string{"ledger", "-config", cfg}, code: 2, wantOut: []string{"medgate ledger effects"}, wantErr: []string{"give one of the ledger commands"}},
		"unknown command":            {args: []string{"nosuch", "-config", cfg}, code: 2, wantErr: []string{`unknown command "nosuch"`, "configures no such plugin"}},
		// A misspelling at 3 a.m.: the command it is closest to is named.
		"misspelled plugin command": {args: []string{"ledger", "efects", "-config", cfg}, code: 2, wantErr: []string{`the ledger plugin has no command "efects"`, "did you mean `medgate ledger effects`?"}},
		"misspelled built-in":       {args: []string{"relaod", "-config", cfg}, code: 2, wantErr: []string{`unknown command "relaod"`, "did you mean `medgate reload`?"}},
		"misspelled two-word":       {args: []string{"job", "rnu", "-config", cfg}, code: 2, wantErr: []string{`unknown command "job"`, "did you mean `medgate job run`?"}},
		"misspelled plugin":         {args: []string{"ledgr", "effects", "-config", cfg}, code: 2, wantErr: []string{`unknown command "ledgr"`, "did you mean `medgate ledger`?"}},
		"nothing close":             {args: []string{"xyzzyq", "-config", cfg}, code: 2, notWantErr: []string{"did you mean"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if code := Main(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.notWantOut {
				if strings.Contains(out.String(), w) {
					t.Errorf("stdout has %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			for _, w := range tc.notWantErr {
				if strings.Contains(errOut.String(), w) {
					t.Errorf("stderr has %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

// TestHelpListsEveryCommand checks that help shows every built-in command
// even without a configuration.
func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := Main([]string{"help", "-config", filepath.Join(t.TempDir(), "none.yaml")}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, c := range commands {
		if !strings.Contains(out.String(), "  medgate "+c.name+"\n") && !strings.Contains(out.String(), "  medgate "+c.name+" ") {
			t.Errorf("help lacks %q:\n%s", c.name, out.String())
		}
	}
	if !strings.Contains(out.String(), "cannot be read") {
		t.Errorf("help does not say why plugin commands are missing:\n%s", out.String())
	}
}

func TestCommandPayload(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(file, []byte("a,b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	decl := []sdk.Argument{
		{Name: "n", Type: sdk.SettingInt}, {Name: "b", Type: sdk.SettingBool}, {Name: "l", Type: sdk.ArgumentList},
		{Name: "f", Type: sdk.ArgumentFile}, {Name: "s", Type: sdk.SettingString}, {Name: "empty", Type: sdk.SettingString},
	}
	cases := map[string]struct {
		vals map[string]string
		want map[string]any
	}{
		"typed": {map[string]string{"n": "42", "b": "true", "l": "token, codes,", "s": "x", "empty": ""},
			map[string]any{"n": 42.0, "b": true, "l": []any{"token", "codes"}, "s": "x"}},
		"file": {map[string]string{"f": file},
			map[string]any{"f": map[string]any{"name": "list.csv", "content": base64.StdEncoding.EncodeToString([]byte("a,b\n"))}}},
		"nothing given": {map[string]string{}, map[string]any{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := commandPayload(decl, tc.vals)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := commandPayload(decl, map[string]string{"f": file + ".missing"}); err == nil {
		t.Fatal("a missing file must be an error")
	}
}

func TestShowPayload(t *testing.T) {
	t.Parallel()
	payload := `{"headline":"list.csv: 2 patients","time":"20250101","rows":[{"a":"x","b":"","n":3},{"a":"","b":"","n":4}]}`
	cases := map[string]struct {
		display sdk.Display
		want    string
	}{
		"headline, field and table without the empty column": {
			sdk.Display{Headline: "headline", Fields: []sdk.Column{{Field: "time", Title: "time"}}, Rows: "rows",
				Columns: []sdk.Column{{Field: "a", Title: "A"}, {Field: "b", Title: "B"}, {Field: "n", Title: "N"}}},
			"list.csv: 2 patients\ntime: 20250101\nA  N\nx  3\n-  4\n"},
		"nothing declared prints JSON": {sdk.Display{}, "{\n  \"headline\": \"list.csv: 2 patients\","},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := showPayload(&out, tc.display, []byte(payload), false); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.String(), tc.want) {
				t.Errorf("got\n%s\nwant it to start with\n%s", out.String(), tc.want)
			}
		})
	}
}

// TestEveryCommandHasHelp: `medgate COMMAND -h` exits 0 for every
// built-in command (its flag set prints the usage), without reading a
// configuration (an operator asks for help before there is one).
func TestEveryCommandHasHelp(t *testing.T) {
	t.Chdir(t.TempDir()) // no medgate.yaml here
	for _, c := range commands {
		if c.name == "help" || c.name == "version" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(append(strings.Fields(c.name), "-h"), &out, &errOut)
			all := out.String() + errOut.String()
			if code != 0 || strings.Contains(all, "configuration") && strings.Contains(all, "cannot read") {
				t.Fatalf("medgate %s -h: exit %d\n%s", c.name, code, all)
			}
		})
	}
}
