package daemon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/test/testenv"
)

// TestReloadRemovingAPluginLetsItsCallsFinish: a reload that removes a
// plugin while a message is inside its Handle call does not cut that call
// short: the plugin keeps running until the call has its answer, and the
// message gets it. A message whose call answers "retry" meanwhile is not
// retried against the removed plugin without end: its retry ends at once
// as failed, naming the plugin that was removed and how to replay it. The
// reload used to stop the plugin straight after swapping routes, so the
// call died with its outcome unknown and its retries went to a stopped
// plugin.
func TestReloadRemovingAPluginLetsItsCallsFinish(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "plugins", "acme")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/acme").CombinedOutput(); err != nil {
		t.Fatalf("build the vendor plugin: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hold := filepath.Join(dir, "hold")
	cfgPath := filepath.Join(dir, "medgate.yaml")
	writeCfg := func(withAcme bool) {
		t.Helper()
		text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
processing: {maxAttempts: 3, initialBackoff: 10ms, maxBackoff: 10ms}
`, testenv.FreeAddr(t))
		if withAcme {
			text += fmt.Sprintf(`plugins:
  - {name: acme, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {settings: {hold: %q}}}
`, bin, hex.EncodeToString(sum[:]), hold)
		} else {
			text += "sites:\n  - code: h1\n"
		}
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		answer  string // what the held call is released with
		status  string // the message's outcome
		contain string // in its reply
	}{
		{name: "call answers", answer: "ok", status: "ok", contain: `"patientId":"P1"`},
		{name: "call asks for a retry", answer: "retry", status: "failed", contain: `plugin \"acme\" was removed from the configuration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(hold)
			_ = os.Remove(hold + ".entered")
			writeCfg(true)
			d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer func() { _ = d.Close() }()
			type answer struct {
				code int
				body string
				err  error
			}
			got := make(chan answer, 1)
			go func() {
				body := `{"id":"visit-` + strings.ReplaceAll(tc.name, " ", "-") + `","site":"h1","type":"acme.visit","payload":{"patientId":"P1"}}`
				resp, err := http.Post("http://"+d.HTTPAddr()+"/v1/messages", "application/json", bytes.NewReader([]byte(body)))
				if err != nil {
					got <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				raw, err := io.ReadAll(resp.Body)
				got <- answer{code: resp.StatusCode, body: string(raw), err: err}
			}()
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := os.Stat(hold + ".entered"); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the message never reached the plugin")
				}
				time.Sleep(5 * time.Millisecond)
			}

			writeCfg(false)
			if err := d.Reload(t.Context()); err != nil {
				t.Fatalf("reload: %v", err)
			}
			if d.Plugin("acme") != nil {
				t.Fatal("the removed plugin is still listed after the reload")
			}
			if err := writeWhole(hold, []byte(tc.answer)); err != nil {
				t.Fatal(err)
			}
			select {
			case a := <-got:
				var reply struct {
					Status string `json:"status"`
				}
				if a.err != nil || json.Unmarshal([]byte(a.body), &reply) != nil || reply.Status != tc.status || !strings.Contains(a.body, tc.contain) {
					t.Fatalf("the message in the removed plugin got HTTP %d %s (%v); want %s with %s", a.code, a.body, a.err, tc.status, tc.contain)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the message in the removed plugin got no answer")
			}
		})
	}
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildAcme builds the vendor plugin of the tests at version into dir and
// returns its path and sha256.
func buildAcme(t *testing.T, dir, version string) (string, string) {
	t.Helper()
	bin := filepath.Join(dir, "plugins", "acme-"+version)
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", bin, "./testdata/acme").CombinedOutput(); err != nil {
		t.Fatalf("build the vendor plugin %s: %v\n%s", version, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return bin, hex.EncodeToString(sum[:])
}

// postVisit sends one message to the HTTP ingress and returns its reply.
func postVisit(t *testing.T, d *Daemon, id string) <-chan string {
	out := make(chan string, 1)
	go func() {
		body := `{"id":"` + id + `","site":"h1","type":"acme.visit","payload":{"patientId":"P1"}}`
		resp, err := http.Post("http://"+d.HTTPAddr()+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- string(raw)
	}()
	return out
}

// replyOf waits for a reply of postVisit and returns its status and the
// version of the acme binary that answered (its external msgId).
func replyOf(t *testing.T, got <-chan string) (status, servedBy, body string) {
	t.Helper()
	select {
	case body = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the message got no answer")
	}
	var reply struct {
		Status   string `json:"status"`
		External struct {
			MsgID string `json:"msgId"`
		} `json:"external"`
	}
	_ = json.Unmarshal([]byte(body), &reply)
	return reply.Status, reply.External.MsgID, body
}

// TestReloadSwapsAChangedPluginBinary: a reload whose configuration gives
// a running plugin a new binary (path and checksum: a vendor's fixed
// adapter) puts the new binary to work: new messages go to it, a message
// already inside the old binary's call gets the old binary's answer, and
// its retry goes to the new binary (unlike a removed plugin's, which ends
// failed). A new binary that cannot be started or configured refuses the
// reload as a whole with the reason, and the old binary keeps serving.
// A reload used to skip every plugin already running, so the old binary
// went on serving while the admin believed the fix was live.
func TestReloadSwapsAChangedPluginBinary(t *testing.T) {
	dir := t.TempDir()
	bin1, sum1 := buildAcme(t, dir, "1.0.0")
	bin2, sum2 := buildAcme(t, dir, "2.0.0")
	listen := testenv.FreeAddr(t)
	hold := filepath.Join(dir, "hold")
	cfgPath := filepath.Join(dir, "medgate.yaml")
	writeCfg := func(bin, sum, settings string) {
		t.Helper()
		text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
processing: {maxAttempts: 3, initialBackoff: 10ms, maxBackoff: 10ms}
plugins:
  - {name: acme, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {settings: {hold: %q%s}}}
`, listen, bin, sum, hold, settings)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		bin, sum string // the reload's binary of acme
		settings string // more settings of acme at h1 in the reload
		refused  string // in the reload's error; "": accepted
		answer   string // what the held call is released with
		held     string // the binary that answers the held message
		version  string // the binary serving after the reload
	}{
		{name: "held call answers", bin: bin2, sum: sum2, answer: "ok", held: "1.0.0", version: "2.0.0"},
		{name: "held call asks for a retry", bin: bin2, sum: sum2, answer: "retry 1.0.0", held: "2.0.0", version: "2.0.0"},
		{name: "new binary fails its checksum", bin: bin2, sum: sum1, refused: "checksum", answer: "ok", held: "1.0.0", version: "1.0.0"},
		{name: "site settings refused", bin: bin2, sum: sum2, settings: ", nosuch: x", refused: "nosuch", answer: "ok", held: "1.0.0", version: "1.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(hold)
			_ = os.Remove(hold + ".entered")
			writeCfg(bin1, sum1, "")
			d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer func() { _ = d.Close() }()
			id := strings.ReplaceAll(tc.name, " ", "-")
			held := postVisit(t, d, "held-"+id)
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := os.Stat(hold + ".entered"); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the message never reached the plugin")
				}
				time.Sleep(5 * time.Millisecond)
			}

			writeCfg(tc.bin, tc.sum, tc.settings)
			err = d.Reload(t.Context())
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("reload: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Fatalf("reload: got %v, want it refused naming %q", err, tc.refused)
			}
			if v := d.Plugin("acme").Description().Version; v != tc.version {
				t.Fatalf("after the reload acme %s is listed, want %s", v, tc.version)
			}
			if err := writeWhole(hold, []byte(tc.answer)); err != nil {
				t.Fatal(err)
			}
			if status, by, body := replyOf(t, held); status != "ok" || by != tc.held {
				t.Fatalf("the message held across the reload got %s; want ok served by %s", body, tc.held)
			}
			if status, by, body := replyOf(t, postVisit(t, d, "after-"+id)); status != "ok" || by != tc.version {
				t.Fatalf("a message after the reload got %s; want ok served by %s", body, tc.version)
			}
		})
	}
}

// TestReloadReportsWhatItDoesNotApply: a reload applies the plugins,
// sites, transforms, plugin limits and retention; every other setting is
// read at start only. A reload that changes one of those says so in a
// warning naming the keys changed (never their values, a token's least of
// all) and returns them (ReloadReport), so an admin knows a restart is
// needed; a reload that changes only what it applies warns of nothing.
// Only Kafka changes used to be reported: a changed store path, HTTP
// address, log level or node id changed nothing, silently.
func TestReloadReportsWhatItDoesNotApply(t *testing.T) {
	dir := t.TempDir()
	listen := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	base := map[string]string{
		"kafka":      fmt.Sprintf("kafka:\n  embedded: {listen: %q, dataDir: kafka}\n", listen),
		"store":      "store: {path: db/medgate.db}\n",
		"http":       "http: {listen: 127.0.0.1:0}\n",
		"node":       "node: n1\n",
		"log":        "log: {level: info}\n",
		"processing": "processing: {maxAttempts: 3}\n",
		"retention":  "retention: {interval: 1h}\n",
		"limits":     "pluginLimits: {publishPerSecond: 100}\n",
		"console":    "console: {sessionIdle: 30m}\n",
		"artifacts":  "artifacts: {dir: arts}\n",
		"sites":      "sites:\n  - code: h1\n",
	}
	order := []string{"kafka", "store", "http", "node", "log", "processing", "retention", "limits", "console", "artifacts", "sites"}
	writeCfg := func(change map[string]string) {
		t.Helper()
		var text strings.Builder
		for _, k := range order {
			if v, ok := change[k]; ok {
				text.WriteString(v)
			} else {
				text.WriteString(base[k])
			}
		}
		if err := os.WriteFile(cfgPath, []byte(text.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(nil)
	logs := &lockedBuffer{}
	d, err := Start(t.Context(), cfgPath, Options{Out: logs})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()
	const secret = "s3cret-admin-token-0123456789"
	t.Setenv("RELOAD_TEST_TOKEN", secret)
	for _, tc := range []struct {
		name   string
		change map[string]string
		want   []string // keys reported not applied; nil: no warning
	}{
		{name: "unchanged"},
		{name: "sites applied", change: map[string]string{"sites": "sites:\n  - code: h1\n  - code: h2\n"}},
		{name: "retention applied", change: map[string]string{"retention": "retention: {interval: 2h, messages: 240h}\n"}},
		{name: "plugin limits applied", change: map[string]string{"limits": "pluginLimits: {publishPerSecond: 200}\n"}},
		{name: "kafka", change: map[string]string{"kafka": base["kafka"] + "  maxInFlight: 7\n  topics: {replies: other.replies}\n"},
			want: []string{"kafka.topics.replies", "kafka.maxInFlight"}},
		{name: "store", change: map[string]string{"store": "store: {path: db/other.db}\n"}, want: []string{"store.path"}},
		{name: "http address and token", change: map[string]string{"http": "http: {listen: 127.0.0.1:1, adminToken: env:RELOAD_TEST_TOKEN}\n"},
			want: []string{"http.listen", "http.adminToken"}},
		{name: "node", change: map[string]string{"node": "node: n2\n"}, want: []string{"node"}},
		{name: "log", change: map[string]string{"log": "log: {level: debug}\n"}, want: []string{"log.level"}},
		{name: "processing", change: map[string]string{"processing": "processing: {maxAttempts: 4}\n"}, want: []string{"processing.maxAttempts"}},
		{name: "console", change: map[string]string{"console": "console: {sessionIdle: 20m}\n"}, want: []string{"console.sessionIdle"}},
		{name: "artifacts", change: map[string]string{"artifacts": "artifacts: {dir: other}\n"}, want: []string{"artifacts.dir"}},
		{name: "applied and not applied", change: map[string]string{"node": "node: n2\n", "sites": "sites:\n  - code: h1\n  - code: h3\n"},
			want: []string{"node"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.String())
			writeCfg(tc.change)
			got, err := d.ReloadReport(t.Context())
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("keys reported not applied (-want +got):\n%s", diff)
			}
			logged := logs.String()[before:]
			// Until a restart the change stays pending: the next reload
			// reports it again.
			if again, err := d.ReloadReport(t.Context()); err != nil || !slices.Equal(again, got) {
				t.Errorf("the same configuration reloaded again reports %q (%v), want %q", again, err, got)
			}
			if warned := strings.Contains(logged, "take effect only when medgate restarts"); warned != (tc.want != nil) {
				t.Fatalf("warning of a restart: %v, want %v; logs:\n%s", warned, tc.want != nil, logged)
			}
			for _, k := range tc.want {
				if !strings.Contains(logged, k) {
					t.Errorf("the warning does not name %s; logs:\n%s", k, logged)
				}
			}
			if strings.Contains(logged, secret) || strings.Contains(logged, "RELOAD_TEST_TOKEN") {
				t.Errorf("the reload logged a secret or its reference; logs:\n%s", logged)
			}
			// Back to the configuration medgate runs with: nothing is
			// pending any more.
			writeCfg(nil)
			if back, err := d.ReloadReport(t.Context()); err != nil || back != nil {
				t.Fatalf("reload back to the running configuration: %q, %v; want nothing reported", back, err)
			}
		})
	}
}

// TestReloadKeepsTheCallTimeoutInForce: a reload does not change the
// pipeline's processing settings (they wait for a restart), so a plugin
// it starts takes its journal grace from the call timeout in force, not
// from a new processing.callTimeout in the file: with a lower one it
// would refuse late journal entries of calls the pipeline still waits for.
func TestReloadKeepsTheCallTimeoutInForce(t *testing.T) {
	dir := t.TempDir()
	bin1, sum1 := buildAcme(t, dir, "1.0.0")
	bin2, sum2 := buildAcme(t, dir, "2.0.0")
	listen := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	writeCfg := func(bin, sum, callTimeout string) {
		t.Helper()
		text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
processing: {callTimeout: %s}
plugins:
  - {name: acme, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {settings: {}}}
`, listen, callTimeout, bin, sum)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(bin1, sum1, "120s")
	d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()
	const want = 130 * time.Second // 120s + the 10s of the journal write
	if got := d.Plugin("acme").JournalGrace(); got != want {
		t.Fatalf("at start acme's journal grace is %s, want %s", got, want)
	}
	writeCfg(bin2, sum2, "30s")
	if _, err := d.ReloadReport(t.Context()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if v := d.Plugin("acme").Description().Version; v != "2.0.0" {
		t.Fatalf("after the reload acme %s is listed, want 2.0.0", v)
	}
	if got := d.Plugin("acme").JournalGrace(); got != want {
		t.Fatalf("the acme the reload started has a journal grace of %s, want the %s of the call timeout in force", got, want)
	}
}

// writeWhole writes name by renaming a complete temporary file over it, so
// a test plugin polling for name never reads it empty or half written
// (os.WriteFile creates the file before writing it: a plugin reading in
// between took the empty hold file as "answer", not as "retry").
func writeWhole(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
