package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrorsExit2: a built-in command given a wrong command line
// (unknown flag, missing or extra argument) exits 2, as plugin commands
// do, so a script tells "called wrongly" from "it failed" (exit 1); the
// message says what is wrong.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "none.yaml")
	cases := map[string]struct {
		args []string
		want string
	}{
		"check-config unknown flag":   {[]string{"check-config", "-nope"}, "-nope"},
		"send unknown flag":           {[]string{"send", "-nope"}, "-nope"},
		"send without site and type":  {[]string{"send", "-config", cfg, "-payload", "{}"}, "-site is required"},
		"send with an argument":       {[]string{"send", "-config", cfg, "-site", "s1", "-type", "a.b", "-payload", "{}", "extra"}, `"extra"`},
		"reload unknown flag":         {[]string{"reload", "-nope"}, "-nope"},
		"reload with an argument":     {[]string{"reload", "-config", cfg, "now"}, `"now"`},
		"job run without a job":       {[]string{"job", "run", "-config", cfg}, "PLUGIN/SITE/JOB"},
		"replay without an id":        {[]string{"replay", "-config", cfg}, "MESSAGE-ID"},
		"transform test unknown flag": {[]string{"transform", "test", "-nope"}, "-nope"},
		"import-spec without -system": {[]string{"import-spec", "spec.csv"}, "-system"},
		"run unknown flag":            {[]string{"run", "-nope"}, "-nope"},
		"send an unknown format":      {[]string{"send", "-config", cfg, "-site", "s1", "-type", "a.b", "-payload", "{}", "-format", "xml"}, "-format"},
		"send a payload not JSON":     {[]string{"send", "-config", cfg, "-site", "s1", "-type", "a.b", "-payload", "{nope"}, "-payload"},
		"user without a subcommand":   {[]string{"user"}, "medgate user add"},
		"user unknown subcommand":     {[]string{"user", "frob", "-config", cfg}, `"frob"`},
		"user add unknown flag":       {[]string{"user", "add", "-nope"}, "-nope"},
		"user passwd extra argument":  {[]string{"user", "passwd", "-config", cfg, "amy", "pw-as-argument"}, "medgate user passwd"},
		"user sites missing argument": {[]string{"user", "sites", "-config", cfg, "amy"}, "medgate user sites"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := Main(tc.args, &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("medgate %s: exit %d, want 2 and %q on stderr\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.want, out.String(), errOut.String())
			}
		})
	}
}
