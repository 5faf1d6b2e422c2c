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
	"strings"
	"testing"
	"time"

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
			if err := os.WriteFile(hold, []byte(tc.answer), 0o600); err != nil {
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
