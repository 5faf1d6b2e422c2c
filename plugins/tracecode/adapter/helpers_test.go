package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

var cst = time.FixedZone("CST", 8*3600)

const (
	site      = "s1"
	appSecret = "app-secret-0123456789"
	hsaToken  = "hsa-token-0123456789"
)

// clock is a settable clock shared by the adapter and the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one plugin connected over in-memory gRPC to a memory host, with
// the simulated platform behind httptest.
type env struct {
	t      testing.TB
	sim    *tracecode.Sim
	url    string
	host   *sdktest.MemoryHost
	plugin sdk.Plugin
	clock  *clock
	dir    string
	seq    atomic.Int64
}

// baseSettings are the site's settings for the simulator at url.
func baseSettings(url, dir string) map[string]string {
	return map[string]string{
		"baseUrl": url, "appId": "app-1", "appSecret": appSecret, "orgCode": "H35020300001", "orgName": "示例医院",
		"exportDir": dir, "productItemMap": "8100001=YP0001,8100002=YP0002,8100003=YP0003,8100004=YP0004,8100005=YP0005",
		"exportProgressEvery": "5",
		"miEnabled":           "true", "miBaseURL": url + "/hsa/api", "miFixmedinsCode": "H35020300001", "miFixmedinsName": "示例医院",
		"miMdtrtareaAdmvs": "350200", "miRecerSysCode": "CSTEST", "miOpter": "OP001", "miOpterName": "接口", "miPaasid": "paas-1", "miToken": hsaToken,
	}
}

func newEnv(t testing.TB, edit func(map[string]string)) *env {
	t.Helper()
	return newEnvOn(t, edit, nil)
}

// newEnvOn is newEnv with the plugin's host calls served by serve (nil:
// the env's MemoryHost itself), e.g. a wrapper of it that counts them.
func newEnvOn(t testing.TB, edit func(map[string]string), serve func(*sdktest.MemoryHost) sdkhost.HostServer) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42,
		Now: clk.Now, HSAPaasID: "paas-1", HSAToken: hsaToken})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	host := sdktest.NewMemoryHost()
	var served sdkhost.HostServer = host
	if serve != nil {
		served = serve(host)
	}
	p := sdktest.Connect(t, a, served)
	e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: p, clock: clk, dir: dir}
	s := baseSettings(srv.URL, dir)
	if edit != nil {
		edit(s)
	}
	if ds := e.configure(s); ds.HasError() {
		t.Fatalf("configure: %s", ds)
	}
	return e
}

// configure applies settings as the host would: declared defaults first.
func (e *env) configure(given map[string]string) sdk.Diagnostics {
	e.t.Helper()
	ctx := context.Background()
	d, err := e.plugin.Describe(ctx, &sdk.DescribeRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	s := map[string]string{}
	for _, decl := range d.Settings {
		s[decl.Name] = decl.Default
	}
	for k, v := range given {
		s[k] = v
	}
	r, err := e.plugin.Configure(ctx, &sdk.ConfigureRequest{Site: site, Settings: s})
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Diagnostics
}

// send handles one message with a fresh id.
func (e *env) send(typ string, payload any) *sdk.HandleResponse {
	e.t.Helper()
	return e.sendID(fmt.Sprintf("m-%d", e.seq.Add(1)), typ, payload, false)
}

// sendID handles one message with the given id.
func (e *env) sendID(id, typ string, payload any, recovering bool) *sdk.HandleResponse {
	e.t.Helper()
	var body []byte
	switch p := payload.(type) {
	case []byte:
		body = p
	case string:
		body = []byte(p)
	default:
		var err error
		if body, err = json.Marshal(payload); err != nil {
			e.t.Fatal(err)
		}
	}
	r, err := e.plugin.Handle(context.Background(), &sdk.HandleRequest{Site: site, Type: typ, MessageID: id, Key: id,
		Format: "json", Payload: body, Attempt: 1, Recovering: recovering})
	if err != nil {
		e.t.Fatalf("%s %s: %v", typ, id, err)
	}
	return r
}

// must checks the status and decodes the payload.
func must[T any](t testing.TB, r *sdk.HandleResponse, status sdk.Status) T {
	t.Helper()
	var out T
	if r.Status != status {
		t.Fatalf("status = %s, want %s; diagnostics: %s; payload %s", r.Status, status, r.Diagnostics, r.Payload)
	}
	if len(r.Payload) > 0 {
		if err := json.Unmarshal(r.Payload, &out); err != nil {
			t.Fatalf("decode %s: %v", r.Payload, err)
		}
	}
	return out
}

// hasDiag reports whether a diagnostic at field with rule exists.
func hasDiag(ds sdk.Diagnostics, field, rule string) bool {
	for _, d := range ds {
		if d.Field == field && d.Rule == rule {
			return true
		}
	}
	return false
}

// state returns the site's state entries under prefix.
func (e *env) state(prefix string) []sdk.Entry {
	e.t.Helper()
	es, err := e.host.Scan(context.Background(), site, prefix, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

// assertNoSecrets checks that no token or secret is in the state, the
// journal or the events.
func (e *env) assertNoSecrets(extra ...[]byte) {
	e.t.Helper()
	var b bytes.Buffer
	for _, s := range e.state("") {
		b.Write(s.Value)
		b.WriteString(s.Key)
	}
	for _, x := range e.host.Exchanges() {
		b.Write(x.Exchange.Request)
		b.Write(x.Exchange.Response)
		b.WriteString(x.Exchange.Error)
	}
	for _, ev := range e.host.Events() {
		b.Write(ev.Event.Payload)
	}
	for _, x := range extra {
		b.Write(x)
	}
	for _, s := range append(e.sim.IssuedTokens(), appSecret, hsaToken) {
		if strings.Contains(b.String(), s) {
			e.t.Fatalf("a token or secret leaked into state, journal, events or replies")
		}
	}
}

// bill builds an upload payload with n codes per line.
func bill(no, billType string, lines ...map[string]any) map[string]any {
	return map[string]any{"billNo": no, "billType": billType, "billTime": "2026-11-26 09:30:00", "operator": "王药师",
		"fromOrgCode": "91350200MA31A0001X", "fromOrgName": "厦门示例医药有限公司", "lines": lines}
}

// line builds one upload line with the given codes.
func line(no int, qty string, codes ...string) map[string]any {
	tc := make([]any, len(codes))
	for i, c := range codes {
		tc[i] = map[string]string{"code": c}
	}
	return map[string]any{"lineNo": no, "itemCode": fmt.Sprintf("YP%04d", no), "medListCode": "XJ01CAA040A001010100001", "itemName": "阿莫西林胶囊",
		"spec": "0.25g*24粒", "batchNo": "B2609", "produceDate": "2026-09-15", "expiryDate": "2028-09-14", "qty": qty, "unit": "盒", "traceCodes": tc}
}

// billOf returns the document number of a draft id: drafts of fetched
// documents are "<number>@<supplier>".
func billOf(draftID string) string {
	no, _, _ := strings.Cut(draftID, "@")
	return no
}

// drugCode returns a well-formed 20-digit drug trace code.
func drugCode(product string, serial int) string {
	return fmt.Sprintf("%s%09d%04d", product, serial, serial%10000)
}

// events returns the published events of a type.
func (e *env) events(typ string) []sdk.Event {
	var out []sdk.Event
	for _, p := range e.host.Events() {
		if p.Event.Type == typ {
			out = append(out, p.Event)
		}
	}
	return out
}
