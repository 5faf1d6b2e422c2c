package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

const (
	testSite  = "s1"
	testCode  = "H35020300001"
	testPaas  = "paas-test"
	testToken = "token-test-not-a-secret"
	testCert  = "350203198001011234"
)

// env is a plugin connected over gRPC in memory to a memory host, and a
// simulator of the platform on an httptest server.
type env struct {
	t        testing.TB
	sim      *selfpaysim.Sim
	url      string
	host     *sdktest.MemoryHost
	settings map[string]string
	plugin   sdk.Plugin
}

func baseSettings(url string) map[string]string {
	s := map[string]string{}
	for _, d := range settings() {
		if d.Default != "" {
			s[d.Name] = d.Default
		}
	}
	for k, v := range map[string]string{
		"baseURL": url + "/fsi/api/rsfComIfsService/callService", "fixmedinsCode": testCode, "fixmedinsName": "厦门市示例医院",
		"mdtrtareaAdmvs": "350200", "recerSysCode": "CSTEST", "opter": "OP001", "opterName": "医保接口",
		"paasid": testPaas, "token": testToken, "timeout": "3s",
	} {
		s[k] = v
	}
	return s
}

// newEnv starts a simulator and a plugin; edit changes the settings.
func newEnv(t testing.TB, edit func(map[string]string)) *env {
	t.Helper()
	return newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, edit)
}

// newEnvSim is newEnv with simulator options.
func newEnvSim(t testing.TB, opts selfpaysim.Options, edit func(map[string]string)) *env {
	t.Helper()
	return newEnvWrapped(t, opts, nil, edit)
}

// newEnvWrapped is newEnvSim with the simulator behind wrap (which may
// change its answers); nil serves it as it is.
func newEnvWrapped(t testing.TB, opts selfpaysim.Options, wrap func(http.Handler) http.Handler, edit func(map[string]string)) *env {
	t.Helper()
	sim, err := selfpaysim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: sim, url: srv.URL, host: sdktest.NewMemoryHost(), settings: baseSettings(srv.URL)}
	if edit != nil {
		edit(e.settings)
	}
	e.restart(e.host)
	return e
}

// restart connects a new plugin instance (a new process) to host.
func (e *env) restart(host sdkhost.HostServer) {
	e.t.Helper()
	e.restartWith(New(WithPauseMargin(0)), host)
}

// restartWith connects a to host as a new plugin process.
func (e *env) restartWith(a *Adapter, host sdkhost.HostServer) {
	e.t.Helper()
	e.plugin = sdktest.Connect(e.t, a, host)
	resp, err := e.plugin.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings})
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.Diagnostics.HasError() {
		e.t.Fatalf("configure: %v", resp.Diagnostics)
	}
}

// handle sends one message; attempt > 1 means Recovering.
func (e *env) handle(typ, id string, payload any, attempt int) (*sdk.HandleResponse, error) {
	e.t.Helper()
	return e.handleWithin(typ, id, payload, attempt, time.Minute)
}

// handleWithin is handle with a deadline of d from now.
func (e *env) handleWithin(typ, id string, payload any, attempt int, d time.Duration) (*sdk.HandleResponse, error) {
	e.t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.plugin.Handle(ctx, &sdk.HandleRequest{Site: testSite, Type: typ, MessageID: id, Key: "k", Format: "json",
		Payload: b, Attempt: attempt, Recovering: attempt > 1, Deadline: time.Now().Add(d)})
}

// must sends one message and fails the test on a transport error.
func (e *env) must(typ, id string, payload any, attempt int) *sdk.HandleResponse {
	e.t.Helper()
	r, err := e.handle(typ, id, payload, attempt)
	if err != nil {
		e.t.Fatalf("%s %s: %v", typ, id, err)
	}
	return r
}

func wantStatus(t testing.TB, r *sdk.HandleResponse, status sdk.Status) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %s, want %s: %v\npayload %s", r.Status, status, r.Diagnostics, r.Payload)
	}
}

func fee(mdtrt string, i int) map[string]any {
	return map[string]any{
		"fixmedins_mdtrt_id": mdtrt, "med_type": "21", "bkkp_sn": fmt.Sprintf("%s-%04d", mdtrt, i),
		"fee_ocur_time": "2025-03-26 10:00:00", "cnt": "2", "pric": "5.5", "det_item_fee_sumamt": "11.00",
		"med_list_codg": "001101000010000", "medins_list_codg": "HIS-1", "medins_list_name": "一般诊疗费", "med_chrgitm_type": "04",
		"bilg_dept_codg": "A03", "bilg_dept_name": "内科", "bilg_dr_code": "D0001", "bilg_dr_name": "李医生",
		"tcmdrug_used_way": "1", "etip_flag": "0", "dscg_tkdrug_flag": "0",
		"fulamt_ownpay_amt": "11.00", "overlmt_selfpay": "0", "preselfpay_amt": "0", "inscp_amt": "0",
	}
}

func visit(mdtrt string, n int) map[string]any {
	return map[string]any{
		"fixmedins_mdtrt_id": mdtrt, "psn_cert_type": "01", "certno": testCert, "psn_name": "张三",
		"begntime": "2025-03-25 10:00:00", "endtime": "2025-04-01 09:00:00", "med_type": "21", "vali_flag": "1",
		"medfee_sumamt": fmt.Sprintf("%d.00", 11*n),
	}
}

func diagnoses() []any {
	return []any{map[string]any{"inout_diag_type": "2", "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J18.900", "diag_name": "肺炎"}}
}

// upload is a selfpay.upload payload with n fee lines.
func upload(mdtrt string, n int) map[string]any {
	fees := make([]any, n)
	for i := range fees {
		fees[i] = fee(mdtrt, i+1)
	}
	return map[string]any{nodeMdtrt: visit(mdtrt, n), nodeDiags: diagnoses(), nodeFees: fees}
}

// crashHost fails every workflow state write after the first n, like a
// process that dies at that point.
type crashHost struct {
	*sdktest.MemoryHost
	mu     sync.Mutex
	writes int
	after  int
}

var errCrash = errors.New("simulated crash")

func (c *crashHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if len(key) > 3 && key[:3] == "wf/" {
		c.mu.Lock()
		c.writes++
		n := c.writes
		c.mu.Unlock()
		if n > c.after {
			return 0, errCrash
		}
	}
	return c.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

var _ sdkhost.HostServer = (*crashHost)(nil)

// payloadOf decodes a reply payload.
func payloadOf(t testing.TB, r *sdk.HandleResponse) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Payload, &m); err != nil {
		t.Fatalf("payload %s: %v", r.Payload, err)
	}
	return m
}
