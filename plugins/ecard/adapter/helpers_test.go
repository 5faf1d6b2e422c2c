package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/test/qrscan"
)

// fakeClock is a settable clock shared by the adapters of one test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testT0 is the start time of every test clock.
var testT0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const (
	testSite       = "xm-first"
	testIdentity   = "4f6c0d1e9a2b8c7d5e3f1a0b9c8d7e6f"
	testKeyAHex    = "3c915e07a244d81f6be02973c50a9d58"
	testKeyBHex    = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	testResidentID = "11010519491231002X"
)

// testSettings returns a valid configuration with key A active.
func testSettings() map[string]string {
	return map[string]string{
		setIdentitySecret:   testIdentity,
		setQRKeys:           "A:" + testKeyAHex,
		setQRActiveKey:      "A",
		setTempCardPrefixes: "99,98",
	}
}

// env is one plugin instance connected over in-memory gRPC to a memory host,
// with a fake clock.
type env struct {
	tb    testing.TB
	host  *sdktest.MemoryHost
	clock *fakeClock
	p     sdk.Plugin
	seq   *atomic.Int64
}

// newEnv starts an instance and configures testSite with settings.
func newEnv(tb testing.TB, settings map[string]string) *env {
	tb.Helper()
	e := &env{tb: tb, host: sdktest.NewMemoryHost(), clock: &fakeClock{t: testT0}, seq: new(atomic.Int64)}
	e.p = sdktest.Connect(tb, New(WithClock(e.clock.Now)), e.host)
	e.mustConfigure(settings)
	return e
}

// instance starts a second plugin instance on the same host and clock, as a
// second medgate instance would.
func (e *env) instance(settings map[string]string) *env {
	e.tb.Helper()
	e2 := *e
	e2.p = sdktest.Connect(e.tb, New(WithClock(e.clock.Now)), e.host)
	e2.mustConfigure(settings)
	return &e2
}

func (e *env) configure(settings map[string]string) sdk.Diagnostics {
	e.tb.Helper()
	r, err := e.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: maps.Clone(settings)})
	if err != nil {
		e.tb.Fatalf("Configure: %v", err)
	}
	return r.Diagnostics
}

func (e *env) mustConfigure(settings map[string]string) {
	e.tb.Helper()
	if ds := e.configure(settings); ds.HasError() {
		e.tb.Fatalf("Configure: %s", ds)
	}
}

// call sends one message and returns the response; payload is marshalled
// unless it is a string or []byte.
func (e *env) call(typ string, payload any) *sdk.HandleResponse {
	e.tb.Helper()
	var b []byte
	switch p := payload.(type) {
	case string:
		b = []byte(p)
	case []byte:
		b = p
	default:
		var err error
		if b, err = json.Marshal(p); err != nil {
			e.tb.Fatalf("marshal payload: %v", err)
		}
	}
	r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{
		Site: testSite, Type: typ, MessageID: fmt.Sprintf("m-%d", e.seq.Add(1)), Format: "json", Payload: b, Attempt: 1,
	})
	if err != nil {
		e.tb.Fatalf("Handle %s: %v", typ, err)
	}
	return r
}

// ok sends one message, requires status ok and decodes the reply into out.
func (e *env) ok(typ string, payload, out any) {
	e.tb.Helper()
	r := e.call(typ, payload)
	if r.Status != sdk.StatusOK {
		e.tb.Fatalf("%s: status %s, want ok: %s", typ, r.Status, r.Diagnostics)
	}
	if out != nil {
		if err := json.Unmarshal(r.Payload, out); err != nil {
			e.tb.Fatalf("%s: decode reply %s: %v", typ, r.Payload, err)
		}
	}
}

// register registers a person and returns the reply.
func (e *env) register(id map[string]string) registerReply {
	e.tb.Helper()
	var r registerReply
	e.ok(OpRegister, id, &r)
	return r
}

// person returns a valid registration payload for a passport holder.
func person(i int) map[string]string {
	return map[string]string{
		"name": fmt.Sprintf("测试%d号", i), "idType": "03", "idNumber": fmt.Sprintf("E%08d", i), "issuingCountry": "GBR", "phone": fmt.Sprintf("139%08d", i),
	}
}

// zhang is a resident-card holder used across tests.
func zhang() map[string]string {
	return map[string]string{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"}
}

// keysWithPrefix returns the state keys under prefix.
func (e *env) keysWithPrefix(prefix string) []string {
	e.tb.Helper()
	es, err := e.host.Scan(context.Background(), testSite, prefix, 0)
	if err != nil {
		e.tb.Fatalf("Scan: %v", err)
	}
	out := make([]string, len(es))
	for i, x := range es {
		out[i] = x.Key
	}
	sort.Strings(out)
	return out
}

// eventsOfType returns the published events of one type.
func (e *env) eventsOfType(typ string) []sdk.Event {
	var out []sdk.Event
	for _, p := range e.host.Events() {
		if p.Event.Type == typ {
			out = append(out, p.Event)
		}
	}
	return out
}

// diag is the comparable part of a diagnostic.
type diag struct {
	Field, Rule string
	Error       bool
}

func diagsOf(ds sdk.Diagnostics) []diag {
	var out []diag
	for _, d := range ds {
		out = append(out, diag{Field: d.Field, Rule: d.Rule, Error: d.Severity == sdk.SeverityError})
	}
	return out
}

// decodeQR reads the QR code in a PNG as a scanner app does.
func decodeQR(tb testing.TB, b []byte) string {
	tb.Helper()
	text, _, err := qrscan.DecodePNG(b)
	if err != nil {
		tb.Fatalf("decode QR: %v", err)
	}
	return text
}

// scanResult sends a scan and returns the result, the diagnostic rule and
// the decoded payload.
func (e *env) scan(text string) (sdk.Status, string, map[string]any) {
	e.tb.Helper()
	r := e.call(OpScan, map[string]string{"text": text})
	rule := ""
	if len(r.Diagnostics) > 0 {
		rule = r.Diagnostics[0].Rule
	}
	var m map[string]any
	if len(r.Payload) > 0 {
		if err := json.Unmarshal(r.Payload, &m); err != nil {
			e.tb.Fatalf("decode scan reply: %v", err)
		}
	}
	return r.Status, rule, unexplained(e.tb, m)
}

// unexplained checks that a scan reply's payload has its Chinese message
// and returns it without "kind" and "message" (TestScanMessages checks
// those); a payload left with nothing else is nil.
func unexplained(tb testing.TB, m map[string]any) map[string]any {
	tb.Helper()
	if msg, _ := m["message"].(string); msg == "" {
		tb.Errorf("scan reply %v has no message", m)
	}
	if _, ok := m["kind"].(string); !ok {
		tb.Errorf("scan reply %v has no kind", m)
	}
	delete(m, "kind")
	delete(m, "message")
	if len(m) == 0 {
		return nil
	}
	return m
}

// containsAny reports whether s contains any of the needles.
func containsAny(s string, needles ...string) string {
	for _, n := range needles {
		if n != "" && strings.Contains(s, n) {
			return n
		}
	}
	return ""
}
