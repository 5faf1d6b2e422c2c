package adapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/smenvelope"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

const testSite = "s1"

// testKeys is generated once: SM2 key generation is cheap, but one pair is
// enough for every test of the package.
var testKeys = sync.OnceValue(func() wisim.KeyPair {
	kp, err := wisim.GenerateKeyPair()
	if err != nil {
		panic(err)
	}
	return kp
})

// withDefaults returns the declared defaults overridden by over, as the
// host passes them to Configure.
func withDefaults(over map[string]string) map[string]string {
	out := map[string]string{}
	for _, s := range settings() {
		out[s.Name] = s.Default
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// env is one adapter connected over in-memory gRPC to a memory host, and a
// simulator behind an httptest server, both configured alike.
type env struct {
	t        testing.TB
	host     *sdktest.MemoryHost
	sim      *wisim.Server
	srv      *httptest.Server
	impl     *Adapter
	p        sdk.Plugin
	settings map[string]string
	keyDir   string
	n        int
	clock    func() time.Time // the adapter's clock (nil: real time)
	logger   *slog.Logger     // the adapter's logger (nil: discarded)
	// server serves the adapter's host calls (nil: host itself).
	server sdkhost.HostServer
}

type envOption func(*envConfig)

type envConfig struct {
	settings  map[string]string
	simMutate func(*wisim.Config)
	seed      func(*wisim.Server)
	clock     func() time.Time
	// gyd053 rewrites the signed data of the simulator's GYD053 answers
	// (withGYD053); nil leaves them as the simulator writes them.
	gyd053   func(query, answer map[string]any)
	gyd053On bool
	// wrap, when set, stands between the adapter and the simulator
	// (withAnswers).
	wrap func(next http.Handler, opts smenvelope.Options, kp wisim.KeyPair) http.Handler
	// stateLimit, when set, bounds every state value the adapter writes
	// as medgate's host does (withStateLimit).
	stateLimit int
}

// withStateLimit makes the host refuse a state value above n bytes, as
// medgate does past pluginLimits.stateValueBytes.
func withStateLimit(n int) envOption { return func(c *envConfig) { c.stateLimit = n } }

// echoQueried names the queried transaction in a GYD053 answer, as the
// adapter requires (aboutQueried) and the simulator does.
func echoQueried(query, answer map[string]any) {
	answer["orig_code"], answer["orig_msg_id"] = query["orig_code"], query["orig_msg_id"]
}

// echoNothing removes the queried transaction from a GYD053 answer: a
// national system whose GYD053 does not echo it.
func echoNothing(_, answer map[string]any) {
	delete(answer, "orig_code")
	delete(answer, "orig_msg_id")
}

// withGYD053 rewrites the simulator's GYD053 answers with f (nil: as
// the simulator writes them, with the queried transaction echoed).
func withGYD053(f func(query, answer map[string]any)) envOption {
	return func(c *envConfig) { c.gyd053, c.gyd053On = f, true }
}

// withSettings overrides adapter settings (the simulator follows them).
func withSettings(kv ...string) envOption {
	return func(c *envConfig) {
		for i := 0; i+1 < len(kv); i += 2 {
			c.settings[kv[i]] = kv[i+1]
		}
	}
}

// withSim changes the simulator's configuration after it was derived from
// the adapter's settings.
func withSim(f func(*wisim.Config)) envOption { return func(c *envConfig) { c.simMutate = f } }

// withClock gives the adapter a clock of the test's own.
func withClock(now func() time.Time) envOption { return func(c *envConfig) { c.clock = now } }

// withSeed adds data to the simulator.
func withSeed(f func(*wisim.Server)) envOption { return func(c *envConfig) { c.seed = f } }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ec := &envConfig{settings: map[string]string{}}
	for _, o := range opts {
		o(ec)
	}
	kp := testKeys()
	keyDir := t.TempDir()
	if err := kp.WriteAdapterKeys(keyDir); err != nil {
		t.Fatal(err)
	}
	// The timeout is long: no test waits for it to expire unless it sets
	// its own, and a loaded machine (make test runs packages in parallel)
	// must not turn a slow answer into a failed call.
	over := map[string]string{setURL: "http://placeholder.invalid", setRegionCode: "350200", setKeyDir: keyDir, setTimeout: "10s", setKeyReload: "50ms"}
	for k, v := range ec.settings {
		over[k] = v
	}
	settingsMap := withDefaults(over)
	// The simulator speaks the envelope the adapter is configured for.
	c, ds := parseSettings(testSite, settingsMap)
	if ds.HasError() {
		t.Fatalf("settings: %s", ds)
	}
	scfg := wisim.Config{Options: c.opts, Keys: kp.SimulatorKeys(), Layout: c.layout, PathTemplate: "/gsyd" + c.pathTemplate, Region: "350200"}
	if ec.simMutate != nil {
		ec.simMutate(&scfg)
	}
	sim, err := wisim.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if ec.seed != nil {
		ec.seed(sim)
	}
	var rewrite func(query, answer map[string]any)
	if ec.gyd053On {
		rewrite = ec.gyd053
	}
	var h http.Handler = sim
	if rewrite != nil {
		h = rewriteGYD053(sim, scfg.Options, kp, rewrite)
	}
	if ec.wrap != nil {
		h = ec.wrap(h, scfg.Options, kp)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if _, ok := ec.settings[setURL]; !ok {
		settingsMap[setURL] = srv.URL + "/gsyd"
	}
	e := &env{t: t, host: sdktest.NewMemoryHost(), sim: sim, srv: srv, settings: settingsMap, keyDir: keyDir, clock: ec.clock}
	if ec.stateLimit > 0 {
		e.server = &limitedHost{MemoryHost: e.host, limit: ec.stateLimit}
	}
	e.connect()
	return e
}

// connect starts a fresh adapter instance (as after a plugin crash) on the
// same host and configures the site.
func (e *env) connect() {
	e.t.Helper()
	logger := e.logger
	if logger == nil {
		logger = discardLogger()
	}
	opts := []Option{WithLogger(logger)}
	if e.clock != nil {
		opts = append(opts, WithClock(e.clock))
	}
	e.impl = New(opts...)
	var server sdkhost.HostServer = e.host
	if e.server != nil {
		server = e.server
	}
	e.p = sdktest.Connect(e.t, e.impl, server)
	r, err := e.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings})
	if err != nil {
		e.t.Fatal(err)
	}
	if r.Diagnostics.HasError() {
		e.t.Fatalf("configure: %s", r.Diagnostics)
	}
}

// handle sends one message; recovering marks a retry.
func (e *env) handle(id, code string, payload any, recovering bool) *sdk.HandleResponse {
	e.t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	attempt := 1
	if recovering {
		attempt = 2
	}
	r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: Name + "." + code, MessageID: id, Key: id,
		Format: "json", Payload: b, Attempt: attempt, Recovering: recovering, Deadline: time.Now().Add(time.Minute)})
	if err != nil {
		e.t.Fatalf("handle %s: %v", code, err)
	}
	return r
}

// send is handle with a fresh message id.
func (e *env) send(code string, payload any) *sdk.HandleResponse {
	e.t.Helper()
	e.n++
	return e.handle(fmt.Sprintf("m-%s-%d", code, e.n), code, payload, false)
}

// mustOK fails unless r is ok and returns its payload.
func (e *env) mustOK(r *sdk.HandleResponse) map[string]any {
	e.t.Helper()
	if r.Status != sdk.StatusOK {
		e.t.Fatalf("status %s, want ok: %s (external %+v)", r.Status, r.Diagnostics, r.External)
	}
	var out map[string]any
	if err := json.Unmarshal(r.Payload, &out); err != nil {
		e.t.Fatalf("payload %s: %v", r.Payload, err)
	}
	return out
}

// runJob runs a job and returns its response.
func (e *env) runJob(job string) *sdk.RunJobResponse {
	e.t.Helper()
	r, err := e.p.RunJob(context.Background(), &sdk.RunJobRequest{Site: testSite, Job: job, Now: time.Now(), TraceID: fmt.Sprintf("t%d", time.Now().UnixNano())})
	if err != nil {
		e.t.Fatalf("job %s: %v", job, err)
	}
	return r
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

// journaled counts journal entries of a code.
func (e *env) journaled(code string) int {
	n := 0
	for _, x := range e.host.Exchanges() {
		if x.Exchange.Code == code {
			n++
		}
	}
	return n
}

// fields lists the diagnostic fields of a response.
func fields(r *sdk.HandleResponse) []string {
	var out []string
	for _, d := range r.Diagnostics {
		out = append(out, d.Field+":"+d.Rule)
	}
	return out
}

func hasField(r *sdk.HandleResponse, field, rule string) bool {
	for _, d := range r.Diagnostics {
		if d.Field == field && (rule == "" || d.Rule == rule) {
			return true
		}
	}
	return false
}

// localFiling returns a valid GYU006 input for person i with attachments.
func localFiling(i int, attachmentIDs ...string) map[string]any {
	id := fmt.Sprintf("35020319900101%03d%d", i%1000, i%10)
	var atts []any
	for _, a := range attachmentIDs {
		atts = append(atts, map[string]any{"attachment_id": a, "attachment_type": "01"})
	}
	return map[string]any{
		"aac002": id, "aac003": fmt.Sprintf("本地参保人%d", i), "aac043": "01", "aac044": id, "aac004": "1",
		"aae005": "13700000000", "aab004": "厦门示例制造有限公司", "injury_cert_no": fmt.Sprintf("厦人社认字〔2025〕第%05d号", i),
		"aab301": "350200", "aab299": "440300", "filing_type": "1", "akb020": "H44030000001", "akb021": "深圳市示例医院",
		"aae030": "2025-04-01", "aae031": "2099-12-31", "aae011": "王五", "aae036": "2025-04-01 09:30:00",
		"attachments": atts,
	}
}

// attachmentUpload returns a GYU002 input with n small files.
func attachmentUpload(n int) map[string]any {
	var atts []any
	for i := 0; i < n; i++ {
		content := fmt.Sprintf("%%PDF-1.4 test file %d", i)
		atts = append(atts, map[string]any{"attachment_type": "01", "file_name": fmt.Sprintf("认定书%d.pdf", i), "file_format": "pdf",
			"file_size": len(content), "file_content": b64(content)})
	}
	return map[string]any{"biz_type": "1", "biz_no": "LOCAL0001", "attachments": atts}
}

// uploadAttachments uploads n files and returns their ids.
func (e *env) uploadAttachments(n int) []string {
	e.t.Helper()
	out := e.mustOK(e.send("GYU002", attachmentUpload(n)))
	var ids []string
	for _, x := range out["attachments"].([]any) {
		ids = append(ids, x.(map[string]any)["attachment_id"].(string))
	}
	return ids
}

// uploadPlan uploads a rehabilitation plan (07) for the stay ykc700 and
// returns its id.
func (e *env) uploadPlan(ykc700 string) string {
	e.t.Helper()
	content := "%PDF-1.4 康复方案"
	out := e.mustOK(e.send("GYU002", map[string]any{"biz_type": "2", "biz_no": ykc700, "attachments": []any{map[string]any{
		"attachment_type": "07", "file_name": "康复方案.pdf", "file_format": "pdf", "file_size": len(content), "file_content": b64(content)}}}))
	return out["attachments"].([]any)[0].(map[string]any)["attachment_id"].(string)
}

func keyDirFile(dir, name string) string { return filepath.Join(dir, name) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newHostForTest() *sdktest.MemoryHost { return sdktest.NewMemoryHost() }

func connectPlugin(t testing.TB, impl sdk.Plugin, h *sdktest.MemoryHost) sdk.Plugin {
	return sdktest.Connect(t, impl, h)
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// siteHost is an sdk.Host over a MemoryHost for one site, for reading the
// adapter state directly in tests.
type siteHost struct {
	m    *sdktest.MemoryHost
	site string
}

func hostFor(m *sdktest.MemoryHost, site string) sdk.Host { return siteHost{m, site} }

func (h siteHost) Get(ctx context.Context, k string) (sdk.Entry, error) {
	return h.m.Get(ctx, h.site, k)
}
func (h siteHost) Put(ctx context.Context, k string, v []byte) (int64, error) {
	return h.m.Put(ctx, h.site, k, v)
}
func (h siteHost) CompareAndSet(ctx context.Context, k string, ver int64, v []byte) (int64, error) {
	return h.m.CompareAndSet(ctx, h.site, k, ver, v)
}
func (h siteHost) Scan(ctx context.Context, p string, n int) ([]sdk.Entry, error) {
	return h.m.Scan(ctx, h.site, p, n)
}
func (h siteHost) Delete(ctx context.Context, k string) error { return h.m.Delete(ctx, h.site, k) }
func (h siteHost) NextSequence(ctx context.Context, n string) (int64, error) {
	return h.m.NextSequence(ctx, h.site, n)
}
func (h siteHost) Publish(ctx context.Context, e sdk.Event) error { return h.m.Publish(ctx, h.site, e) }
func (h siteHost) Journal(ctx context.Context, x sdk.Exchange) (int64, error) {
	return h.m.Journal(ctx, h.site, x)
}

// rewriteGYD053 passes every request to next and rewrites the signed data
// of a successful GYD053 answer with f(query, answer), then seals it again
// with the simulator's keys: it plays a national system whose GYD053
// answers differ from the simulator's. Anything it cannot open goes
// through unchanged.
func rewriteGYD053(next http.Handler, opts smenvelope.Options, kp wisim.KeyPair, f func(query, answer map[string]any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		if changed, ok := rewriteAnswer(opts, kp, body, out, f); ok {
			out = changed
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

// rewriteAnswer is the GYD053 part of rewriteGYD053: ok is false when
// the exchange is not a successful GYD053 it can open.
func rewriteAnswer(opts smenvelope.Options, kp wisim.KeyPair, reqBody, respBody []byte, f func(query, answer map[string]any)) ([]byte, bool) {
	qb, qenv, err := smenvelope.Open(opts, kp.SimulatorKeys(), reqBody)
	if err != nil {
		return nil, false
	}
	var query map[string]any
	if json.Unmarshal(qb, &query) != nil || query["orig_msg_id"] == nil || (qenv[opts.Fields.TxCode] != nil && qenv[opts.Fields.TxCode] != "GYD053") {
		return nil, false
	}
	ab, aenv, err := smenvelope.Open(opts, kp.AdapterKeys(), respBody)
	if err != nil {
		return nil, false
	}
	var answer map[string]any
	if json.Unmarshal(ab, &answer) != nil || answer == nil {
		return nil, false
	}
	f(query, answer)
	nb, err := json.Marshal(answer)
	if err != nil {
		return nil, false
	}
	env := map[string]string{}
	for k, v := range aenv {
		if k == opts.Fields.Key || k == opts.Fields.Data || k == opts.Fields.Sign {
			continue
		}
		env[k] = textOf(v)
	}
	sealed, err := smenvelope.SealJSON(opts, kp.SimulatorKeys(), env, nb)
	if err != nil {
		return nil, false
	}
	return sealed, true
}
