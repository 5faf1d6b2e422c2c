package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{} // package → binary
)

// buildPlugin builds a plugin package once per test binary.
func buildPlugin(t testing.TB, pkg string) (path, sum string) {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	path, ok := built[pkg]
	if !ok {
		dir, err := os.MkdirTemp("", "pluginhost-test-")
		if err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(dir, filepath.Base(pkg))
		if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build plugin %s: %v\n%s", pkg, err, out)
		}
		built[pkg] = path
	}
	s, err := fileSum(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, s
}

// ledger builds the test plugin once.
func ledger(t testing.TB) (path, sum string) {
	t.Helper()
	return buildPlugin(t, "github.com/medgate/medgate/test/plugins/ledger")
}

func fileSum(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestChecksumMismatchIsRefused(t *testing.T) {
	t.Parallel()
	path, _ := ledger(t)
	_, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: strings.Repeat("1", 64)}, sdktest.NewMemoryHost(), Options{Logger: quiet})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "configuration expects") {
		t.Fatalf("err = %v, want a checksum mismatch that names both sums", err)
	}
}

// TestCrashedPluginIsRelaunched kills the plugin process and checks that
// the supervisor relaunches it and re-applies the site configuration.
func TestCrashedPluginIsRelaunched(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	var restarts sync.WaitGroup
	restarts.Add(1)
	var once sync.Once
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, HealthInterval: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond,
		OnRestart: func(string) { once.Do(restarts.Done) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if d := in.Description(); d.Name != "ledger" || len(d.Operations) == 0 {
		t.Fatalf("description = %+v", d)
	}
	dir := t.TempDir()
	if diags, err := in.Configure(t.Context(), "s1", map[string]string{"ledgerDir": dir, "label": "x"}); err != nil || diags.HasError() {
		t.Fatalf("configure: %v %v", err, diags)
	}
	call := func(id string) (*sdk.HandleResponse, error) {
		return in.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "ledger.record", MessageID: id, Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 1})
	}
	if r, err := call("before"); err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("before the crash: %v %+v", err, r)
	}
	pid := in.Pid()
	in.Kill()
	restarts.Wait()
	r, err := call("after")
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("after the relaunch: %v %+v (the site configuration must be re-applied)", err, r)
	}
	if running, n, _ := in.Status(); !running || n < 1 || in.Pid() == pid {
		t.Fatalf("running=%v restarts=%d pid %d→%d", running, n, pid, in.Pid())
	}
}

// TestCrashDuringCall tells a call during which the plugin process died
// (a *CrashError naming the launch it ran on) from a call made while the
// plugin is down (ErrUnavailable, no CrashError).
func TestCrashDuringCall(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	restarted := make(chan struct{}, 10)
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, HealthInterval: time.Hour, MinBackoff: 200 * time.Millisecond,
		OnRestart: func(string) { restarted <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if diags, err := in.Configure(t.Context(), "s1", map[string]string{"ledgerDir": t.TempDir()}); err != nil || diags.HasError() {
		t.Fatalf("configure: %v %v", err, diags)
	}
	call := func(ctx context.Context, typ, payload string) error {
		_, err := in.Handle(ctx, &sdk.HandleRequest{Site: "s1", Type: typ, MessageID: "m", Key: "k", Payload: []byte(payload), Attempt: 1})
		return err
	}
	// An error the plugin answers is no crash, and is not held back.
	at := time.Now()
	_, err = in.Handle(t.Context(), &sdk.HandleRequest{Site: "nosuch", Type: "ledger.record", MessageID: "m", Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 1})
	var ce *CrashError
	if err == nil || errors.As(err, &ce) || time.Since(at) >= exitGrace {
		t.Fatalf("a plugin error: err = %v after %s; want a plain error at once", err, time.Since(at))
	}
	for gen := uint64(1); gen <= 2; gen++ {
		err := call(t.Context(), "ledger.crash", `{"seq":1,"crashTimes":-1}`)
		if !errors.As(err, &ce) || ce.Generation != gen || ce.Plugin != "ledger" || ce.Uptime <= 0 {
			t.Fatalf("call %d: err = %v (%+v), want a CrashError of launch %d", gen, err, ce, gen)
		}
		// Down now: a call that cannot reach the plugin is not a crash.
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		err = call(ctx, "ledger.record", `{"seq":2}`)
		cancel()
		if !errors.Is(err, ErrUnavailable) || errors.As(err, &ce) {
			t.Fatalf("call while down: err = %v, want ErrUnavailable and no CrashError", err)
		}
		<-restarted
	}
	if err := call(t.Context(), "ledger.record", `{"seq":3}`); err != nil {
		t.Fatalf("after the relaunch: %v", err)
	}
}

func TestCheckSettings(t *testing.T) {
	t.Parallel()
	decl := []sdk.Setting{
		{Name: "url", Type: sdk.SettingURL, Required: true, Description: "endpoint", Example: "https://x"},
		{Name: "interval", Type: sdk.SettingDuration, Default: "30m"},
		{Name: "batch", Type: sdk.SettingInt, Default: "500"},
		{Name: "strict", Type: sdk.SettingBool, Default: "true"},
		{Name: "mode", Type: sdk.SettingString, Default: "ecb", Enum: []string{"ecb", "cbc"}},
		{Name: "token", Type: sdk.SettingSecret},
		{Name: "dir", Type: sdk.SettingPath, Default: "data"},
	}
	isRef := func(v string) bool { return strings.HasPrefix(v, "env:") }
	resolve := func(ref string) (string, error) {
		if ref == "env:GOOD" {
			return "s3cret", nil
		}
		return "", errors.New("variable not set")
	}
	cases := map[string]struct {
		given    map[string]string
		want     map[string]string
		problems []SettingProblem
	}{
		"defaults and resolution": {
			given: map[string]string{"url": "https://gov.example/api", "token": "env:GOOD"},
			want:  map[string]string{"url": "https://gov.example/api", "interval": "30m", "batch": "500", "strict": "true", "mode": "ecb", "token": "s3cret", "dir": "/etc/medgate/data"},
		},
		"every problem at once": {
			given: map[string]string{"interval": "soon", "batch": "many", "strict": "maybe", "mode": "gcm", "token": "plain", "extra": "1"},
			problems: []SettingProblem{
				{"extra", "unknown setting; this plugin accepts: url, interval, batch, strict, mode, token, dir"},
				{"url", `is required: endpoint (for example "https://x")`},
				{"interval", `"soon" is not a duration; write e.g. "30m"`},
				{"batch", `"many" is not a whole number`},
				{"strict", `"maybe" is not true or false`},
				{"mode", `"gcm" is not allowed; use one of: ecb, cbc`},
				{"token", `secrets are never written in the configuration; write "env:VARIABLE" or "file:/path/to/secret"`},
			},
		},
		"unreadable secret": {
			given:    map[string]string{"url": "ftp://x", "token": "env:MISSING"},
			problems: []SettingProblem{{"url", `"ftp://x" is not an http(s) URL`}, {"token", "cannot read the secret: variable not set"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ps := CheckSettings(decl, tc.given, "/etc/medgate", isRef, resolve)
			if diff := cmp.Diff(tc.problems, ps); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("settings (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestRelativePluginPath: a plugin path relative to the working directory
// runs that file, even when it has no directory part ("acme", as a
// configuration file given as "medgate.yaml" makes of "./acme"), instead
// of a program of that name looked up in $PATH.
func TestRelativePluginPath(t *testing.T) {
	path, sum := ledger(t)
	t.Chdir(filepath.Dir(path))
	t.Setenv("PATH", t.TempDir())
	for _, rel := range []string{filepath.Base(path), "./" + filepath.Base(path)} {
		p, err := Launch(t.Context(), Spec{Name: "ledger", Path: rel, SHA256: sum}, io.Discard)
		if err != nil {
			t.Fatalf("Launch(%q) = %v, want the file %s started", rel, err, path)
		}
		if d := p.Description(); d.Name != "ledger" {
			t.Errorf("Launch(%q) described %+v", rel, d)
		}
		p.Close()
	}
}

// TestCheckSettingsKeepsSecretsOut: a secret written into the
// configuration instead of a reference is refused without being repeated
// in the problem, whatever else the declaration restricts.
func TestCheckSettingsKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	decl := []sdk.Setting{{Name: "key", Type: sdk.SettingSecret, Enum: []string{"env:KEY_A", "env:KEY_B"}}}
	isRef := func(v string) bool { return strings.HasPrefix(v, "env:") }
	resolve := func(string) (string, error) { return "resolved", nil }
	_, ps := CheckSettings(decl, map[string]string{"key": "s3cret-inline"}, "/etc/medgate", isRef, resolve)
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "never written in the configuration") {
		t.Fatalf("problems = %+v, want one saying secrets are references", ps)
	}
	if strings.Contains(fmt.Sprint(ps), "s3cret-inline") {
		t.Fatalf("problems = %+v repeat the secret", ps)
	}
}

// TestUnansweredBeforeTheTimerFires: the plugin's end of a call can close
// the stream with DeadlineExceeded a moment before the call's own timer
// fires (CI saw "stream terminated by RST_STREAM ... CANCEL"); that is still
// the plugin not answering in time, unless the caller's deadline was first.
func TestUnansweredBeforeTheTimerFires(t *testing.T) {
	t.Parallel()
	rst := status.Error(codes.DeadlineExceeded, "stream terminated by RST_STREAM with error code: CANCEL")
	later, cancelLater := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLater()
	sooner, cancelSooner := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSooner()
	for _, tc := range []struct {
		name   string
		caller context.Context
		err    error
		want   bool
	}{
		{"caller without deadline", context.Background(), rst, true},
		{"caller's deadline after the call's", later, rst, true},
		{"caller's deadline before the call's", sooner, rst, false},
		{"another error", context.Background(), errors.New("connection refused"), false},
		{"another code", context.Background(), status.Error(codes.Unavailable, "x"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The call's own bound, not yet fired.
			call, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			got := unanswered(tc.caller, call, 200*time.Millisecond, "Configure", tc.err)
			if said := strings.Contains(got.Error(), "did not answer within 200ms"); said != tc.want {
				t.Fatalf("unanswered(%v) = %v, want the timeout named: %v", tc.err, got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Fatalf("unanswered lost the cause: %v", got)
			}
		})
	}
}

// TestConfigureThatDoesNotAnswer: a plugin whose Configure never answers
// does not hold the host (its start, a reload) for as long as the caller's
// context lasts: the call ends after CallTimeout with an error that says
// so, and the plugin still takes other calls.
func TestConfigureThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/hang")
	in, err := Start(t.Context(), Spec{Name: "hang", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{Logger: quiet, CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = in.Configure(ctx, "s1", map[string]string{"hang": "yes"})
	if took := time.Since(start); err == nil || took > 10*time.Second || !strings.Contains(err.Error(), "did not answer within 200ms") {
		t.Fatalf("Configure of a plugin that does not answer = %v after %s, want an error after CallTimeout that says so", err, took)
	}
	if diags, err := in.Configure(ctx, "s2", map[string]string{"hang": "no"}); err != nil || diags.HasError() {
		t.Fatalf("the next Configure: %v %v", err, diags)
	}
}
