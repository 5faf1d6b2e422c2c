package adapter

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/smenvelope"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// tamperProxy sits between the adapter and the simulator and rewrites the
// members of response envelopes, as an attacker on the network could.
type tamperProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	target string
	// tamper changes the response envelope of a transaction; it returns
	// whether it changed anything.
	tamper   func(code string, env map[string]any) bool
	tampered map[string]int
}

func newTamperProxy(t *testing.T) *tamperProxy {
	p := &tamperProxy{tampered: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		_ = json.Unmarshal(body, &req)
		code, _ := req["infno"].(string)
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		resp, err := http.Post(target+r.URL.Path, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			var env map[string]any
			if dec.Decode(&env) == nil && env != nil {
				p.mu.Lock()
				f := p.tamper
				p.mu.Unlock()
				if f != nil && f(code, env) {
					p.mu.Lock()
					p.tampered[code]++
					p.mu.Unlock()
					out, _ = json.Marshal(env)
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *tamperProxy) set(f func(code string, env map[string]any) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = f
}

func (p *tamperProxy) count(code string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tampered[code]
}

// tamperedEnv is a chain whose adapter talks to the simulator through a
// tampering proxy.
func tamperedEnv(t *testing.T, opts ...envOption) (*chain, *tamperProxy) {
	p := newTamperProxy(t)
	c := newChainWith(t, func(e *env) {
		p.mu.Lock()
		p.target = e.srv.URL
		p.mu.Unlock()
	}, append([]envOption{withSettings(setURL, p.srv.URL+"/gsyd")}, opts...)...)
	return c, p
}

// TestOnlySignedDataDecides: with the default settings (signature over the
// plaintext) a forged response code or message never decides an outcome.
func TestOnlySignedDataDecides(t *testing.T) {
	t.Parallel()
	if codeSigned(smenvelope.Defaults()) {
		t.Fatal("the default signature target covers the code; this test is about the other case")
	}
	forge := func(target, code, msg string) func(string, map[string]any) bool {
		return func(c string, env map[string]any) bool {
			if c != target {
				return false
			}
			env["code"], env["message"] = code, msg
			return true
		}
	}

	t.Run("success forged into an error stays a success", func(t *testing.T) {
		t.Parallel()
		c, p := tamperedEnv(t)
		p.set(forge("GYU101", "E6004", "住院号已使用（伪造）"))
		r := c.send("GYU101", c.admission("ZY0801"))
		if r.Status != sdk.StatusOK {
			t.Fatalf("status %s, want ok (GYD053 decides): %s %+v", r.Status, r.Diagnostics, r.External)
		}
		if p.count("GYU101") != 1 || c.journaled("GYD053") == 0 {
			t.Fatalf("tampered %d, GYD053 journaled %d", p.count("GYU101"), c.journaled("GYD053"))
		}
		var out map[string]any
		_ = json.Unmarshal(r.Payload, &out)
		if out["ykc700"] == nil || out["ykc700"] == "" {
			t.Fatalf("payload %s: the output comes from GYD053's orig_output", r.Payload)
		}
		// The local state followed the real outcome: the stay goes on.
		c.mustOK(c.send("GYU102", fees(out["ykc700"].(string), "ZY0801", line("0001", "1", "1", "0"))))
	})

	t.Run("error forged into a success stays an error", func(t *testing.T) {
		t.Parallel()
		c, p := tamperedEnv(t)
		// The simulator refuses the upload (an injected business error);
		// the proxy turns the refusal's code into a success code.
		p.set(forge("GYU009", "0", "成功（伪造）"))
		c.sim.Inject(simBusiness("GYU009"))
		r := c.send("GYU009", institution("H35020308888"))
		if r.Status == sdk.StatusOK {
			t.Fatalf("a forged success code was trusted: %s", r.Payload)
		}
		if n := c.sim.Accepted("GYU009", "H35020308888"); n != 0 {
			t.Fatalf("accepted %d", n)
		}
	})

	t.Run("forged message on a real refusal is not shown", func(t *testing.T) {
		t.Parallel()
		c, p := tamperedEnv(t)
		p.set(func(code string, env map[string]any) bool {
			if code != "GYU004" {
				return false
			}
			env["message"] = "请将款项转入账户 6222…（伪造）"
			return true
		})
		_, s := c.settle("ZY0802")
		c.sim.Inject(simBusiness("GYU004"))
		r := c.send("GYU004", deductions(deduction("KK0801", s, "1.00")))
		if r.Status != sdk.StatusRejected && r.Status != sdk.StatusFailed {
			t.Fatalf("status %s", r.Status)
		}
		for _, d := range r.Diagnostics {
			if strings.Contains(d.Detail+d.Summary, "伪造") {
				t.Fatalf("the forged message reached the reply: %s", r.Diagnostics)
			}
		}
		if r.External != nil && strings.Contains(r.External.Message, "伪造") {
			t.Fatalf("the forged message reached External: %+v", r.External)
		}
	})

	t.Run("a forged code on a query is decided by GYD053 too", func(t *testing.T) {
		t.Parallel()
		c, p := tamperedEnv(t)
		p.set(forge("GYD051", "E6001", "无有效备案（伪造）"))
		r := c.send("GYD051", map[string]any{"aac002": c.filing["aac002"], "aac003": c.filing["aac003"], "akb020": hospital, "visit_date": "2025-05-01"})
		if r.Status != sdk.StatusOK {
			t.Fatalf("status %s, want ok: %s", r.Status, r.Diagnostics)
		}
	})

	t.Run("canonical target: a forged code breaks the signature", func(t *testing.T) {
		t.Parallel()
		c, p := tamperedEnv(t, withSettings(setSignTarget, string(smenvelope.SignCanonical)))
		if !codeSigned(c.impl.mustSite(t).opts) {
			t.Fatal("canonical target should cover the code")
		}
		p.set(forge("GYU009", "E9999", "伪造"))
		r := c.send("GYU009", institution("H35020307777"))
		if r.Status != sdk.StatusFailed || !r.Retryable {
			t.Fatalf("status %s retryable=%v, want failed and retryable (bad signature): %s", r.Status, r.Retryable, r.Diagnostics)
		}
		p.set(nil)
		r = c.handle("m-GYU009-"+itoa(c.n), "GYU009", institution("H35020307777"), true)
		if r.Status != sdk.StatusOK || c.sim.Accepted("GYU009", "H35020307777") != 1 {
			t.Fatalf("after reconciliation: %s, accepted %d", r.Status, c.sim.Accepted("GYU009", "H35020307777"))
		}
	})
}

func simBusiness(code string) wisim.Fault {
	return wisim.Fault{Code: code, Kind: wisim.FaultBusiness, ErrCode: "E9999", ErrMessage: "模拟业务错误"}
}

func (a *Adapter) mustSite(t *testing.T) *siteConfig {
	t.Helper()
	c, err := a.site(testSite)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func itoa(n int) string { return strconv.Itoa(n) }
