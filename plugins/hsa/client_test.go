package hsa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// platform is a tiny platform for client tests: it checks the x-tif
// signature itself (not with this package's code) and answers with fn.
type platform struct {
	t     testing.TB
	token string
	mu    sync.Mutex
	paths []string
	envs  []map[string]any
	fn    func(w http.ResponseWriter, env map[string]any)
}

func (p *platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, nonce := r.Header.Get("x-tif-timestamp"), r.Header.Get("x-tif-nonce")
	sum := sha256.Sum256([]byte(ts + p.token + nonce + ts))
	if p.token != "" && r.Header.Get("x-tif-signature") != hex.EncodeToString(sum[:]) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"bad signature"}`))
		return
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		p.t.Errorf("platform: body is not JSON: %v", err)
	}
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.envs = append(p.envs, env)
	p.mu.Unlock()
	if p.fn != nil {
		p.fn(w, env)
		return
	}
	ok(w, map[string]any{})
}

func ok(w http.ResponseWriter, output any) {
	_ = json.NewEncoder(w).Encode(map[string]any{"infcode": 0, "inf_refmsgid": "350200202504010930000000000001", "err_msg": "", "output": output})
}

func serve(t testing.TB, p *platform) *httptest.Server {
	t.Helper()
	p.t = t
	if p.token == "" {
		p.token = "tok123"
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

func TestDoSuccess(t *testing.T) {
	t.Parallel()
	p := &platform{fn: func(w http.ResponseWriter, env map[string]any) { ok(w, map[string]any{"echo": env["input"]}) }}
	srv := serve(t, p)
	h := newMemHost()
	c := newClient(t, testConfig(srv.URL+"/fsi/api/rsfComIfsService/callService"), WithClock(fixedClock()))
	in := map[string]any{"fixmedins_mdtrt_id": "ZY1", "fixmedins_code": "H35020300001", "cplt_flag": "1"}
	for i := 1; i <= 2; i++ {
		res, err := c.Do(context.Background(), h, Call{Infno: "4203", Input: in, MessageID: "m-1"})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("H3502030000120250401093000%04d", i-1)
		if res.MsgID != want || len(res.Warnings) != 0 {
			t.Errorf("call %d: msgid %s (want %s), warnings %v", i, res.MsgID, want, res.Warnings)
		}
		if !strings.Contains(string(res.Output), `"cplt_flag":"1"`) {
			t.Errorf("output %s", res.Output)
		}
	}
	env := p.envs[0]
	for k, v := range map[string]string{"infno": "4203", "msgid": "H35020300001202504010930000000", "inf_time": "2025-04-01 09:30:00",
		"fixmedins_code": "H35020300001", "mdtrtarea_admvs": "350200", "recer_sys_code": "CSTEST", "opter": "OP001", "app_id": "", "enc_type": ""} {
		if env[k] != v {
			t.Errorf("envelope %s = %v, want %q", k, env[k], v)
		}
	}
	if p.paths[0] != "/fsi/api/rsfComIfsService/callService" {
		t.Errorf("path %s", p.paths[0])
	}
	xs := h.exchanges()
	if len(xs) != 2 || xs[0].Serial != "H35020300001202504010930000000" || xs[0].Code != "4203" || xs[0].Status != "ok" || xs[0].MessageID != "m-1" || len(xs[0].Request) == 0 || len(xs[0].Response) == 0 {
		t.Errorf("journal %+v", xs)
	}
}

func TestDoOutcomes(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, err error)
	isBusiness := func(t *testing.T, err error) {
		var be *BusinessError
		if !errors.As(err, &be) || be.Infcode != -1 || be.Message != "参数错误" {
			t.Fatalf("err = %v, want BusinessError", err)
		}
	}
	isGateway := func(auth bool) check {
		return func(t *testing.T, err error) {
			var ge *GatewayError
			if !errors.As(err, &ge) || ge.Auth() != auth {
				t.Fatalf("err = %v, want GatewayError auth=%v", err, auth)
			}
		}
	}
	isTransport := func(sent bool) check {
		return func(t *testing.T, err error) {
			var te *TransportError
			if !errors.As(err, &te) || te.Sent != sent {
				t.Fatalf("err = %v, want TransportError sent=%v", err, sent)
			}
		}
	}
	testCases := map[string]struct {
		fn      func(w http.ResponseWriter, env map[string]any)
		token   string // the client's token
		closed  bool   // the server is down
		check   check
		journal string
	}{
		"business": {fn: func(w http.ResponseWriter, _ map[string]any) {
			_, _ = w.Write([]byte(`{"infcode":"-1","err_msg":"参数错误"}`))
		}, check: isBusiness, journal: "rejected"},
		"bad signature": {token: "wrong", check: isGateway(true), journal: "rejected"},
		"not found": {fn: func(w http.ResponseWriter, _ map[string]any) {
			http.NotFound(w, nil)
		}, check: isGateway(false), journal: "rejected"},
		"server error": {fn: func(w http.ResponseWriter, _ map[string]any) {
			w.WriteHeader(http.StatusBadGateway)
		}, check: isTransport(true), journal: "unknown"},
		"throttled": {fn: func(w http.ResponseWriter, _ map[string]any) {
			w.WriteHeader(http.StatusTooManyRequests)
		}, check: isTransport(false), journal: "error"},
		"garbage": {fn: func(w http.ResponseWriter, _ map[string]any) {
			_, _ = w.Write([]byte(`<html>oops</html>`))
		}, check: isTransport(true), journal: "unknown"},
		"hang up": {fn: func(w http.ResponseWriter, _ map[string]any) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, check: isTransport(true), journal: "unknown"},
		"too slow": {fn: func(w http.ResponseWriter, _ map[string]any) {
			time.Sleep(700 * time.Millisecond)
		}, check: isTransport(true), journal: "unknown"},
		"down": {closed: true, check: isTransport(false), journal: "error"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, &platform{fn: tc.fn})
			if tc.closed {
				srv.Close()
			}
			cfg := testConfig(srv.URL)
			cfg.Timeout = 300 * time.Millisecond
			if tc.token != "" {
				cfg.Token = Secret(tc.token)
			}
			h := newMemHost()
			c := newClient(t, cfg)
			_, err := c.Do(context.Background(), h, Call{Infno: "4207", Input: map[string]any{"page_num": 1}})
			tc.check(t, err)
			xs := h.exchanges()
			if len(xs) != 1 || xs[0].Status != tc.journal || xs[0].Serial == "" || xs[0].Error == "" {
				t.Errorf("journal %+v, want one %s entry with msgid and error", xs, tc.journal)
			}
			if strings.Contains(err.Error(), "tok123") || strings.Contains(err.Error(), "wrong") && tc.token != "" {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	p := &platform{}
	srv := serve(t, p)
	cfg := testConfig(srv.URL + "/api/")
	cfg.Routing = RouteAppendInfno
	var err error
	if cfg.Overrides, err = ParseOverrides("42*=" + srv.URL + "/zf/, 4207=" + srv.URL + "/q/"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cfg)
	h := newMemHost()
	for _, infno := range []string{"4207", "4201A", "9001", "2201"} {
		if _, err := c.Do(context.Background(), h, Call{Infno: infno}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"/q/4207", "/zf/4201A", "/api/9001", "/api/2201"}
	if fmt.Sprint(p.paths) != fmt.Sprint(want) {
		t.Errorf("paths %v, want %v", p.paths, want)
	}
	if _, err := ParseOverrides("4*2=http://x"); err == nil {
		t.Error("a * inside a pattern was accepted")
	}
	if _, err := ParseOverrides("42*"); err == nil {
		t.Error("a pattern without URL was accepted")
	}
}

func TestSM4Envelope(t *testing.T) {
	t.Parallel()
	p := &platform{}
	p.fn = func(w http.ResponseWriter, env map[string]any) {
		if env["enc_type"] != "SM4" {
			p.t.Errorf("enc_type %v", env["enc_type"])
		}
		pt, err := SM4Decrypt(stdKey, false, env["input"].(string))
		if err != nil || !bytes.Contains(pt, []byte(`"ZY1"`)) {
			p.t.Errorf("input %q: %v", pt, err)
		}
		ct, _ := SM4Encrypt(stdKey, false, []byte(`{"signinoutb":{"sign_no":"S1"}}`))
		_ = json.NewEncoder(w).Encode(map[string]any{"infcode": 0, "inf_refmsgid": "x", "enc_type": "SM4", "output": ct})
	}
	srv := serve(t, p)
	cfg := testConfig(srv.URL)
	cfg.Enc, cfg.SM4Key = EncSM4, stdKey
	c := newClient(t, cfg)
	res, err := c.Do(context.Background(), newMemHost(), Call{Infno: "4203", Input: map[string]any{"fixmedins_mdtrt_id": "ZY1"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != `{"signinoutb":{"sign_no":"S1"}}` {
		t.Errorf("output %s", res.Output)
	}
}

func TestSignInCachedForTheDay(t *testing.T) {
	t.Parallel()
	var signIns atomic.Int32
	p := &platform{}
	p.fn = func(w http.ResponseWriter, env map[string]any) {
		if env["infno"] == "9001" {
			n := signIns.Add(1)
			in := env["input"].(map[string]any)["signIn"].(map[string]any)
			if in["opter_no"] != "OP001" || in["mac"] != "00:16:3e:00:00:01" || in["ip"] != "10.0.0.8" || env["sign_no"] != "" {
				p.t.Errorf("9001 envelope %v", env)
			}
			ok(w, map[string]any{"signinoutb": map[string]any{"sign_time": "2025-04-01 08:00:00", "sign_no": fmt.Sprintf("SN%d", n)}})
			return
		}
		if env["sign_no"] != fmt.Sprintf("SN%d", signIns.Load()) {
			p.t.Errorf("%v sent sign_no %v", env["infno"], env["sign_no"])
		}
		ok(w, nil)
	}
	srv := serve(t, p)
	cfg := testConfig(srv.URL)
	cfg.SignIn, cfg.SignInMAC, cfg.SignInIP = true, "00:16:3e:00:00:01", "10.0.0.8"
	now := time.Date(2025, 4, 1, 23, 59, 0, 0, cst)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newMemHost()
	c := newClient(t, cfg, WithClock(clock))
	for range 3 {
		if _, err := c.Do(context.Background(), h, Call{Infno: "4207"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := signIns.Load(); n != 1 {
		t.Fatalf("%d sign-ins for three calls on one day", n)
	}
	// Another instance (a new client, same host state) reuses it.
	other := newClient(t, cfg, WithClock(clock))
	if _, err := other.Do(context.Background(), h, Call{Infno: "4207"}); err != nil || signIns.Load() != 1 {
		t.Fatalf("second instance: %v, %d sign-ins", err, signIns.Load())
	}
	mu.Lock()
	now = now.Add(2 * time.Minute) // the next day
	mu.Unlock()
	if _, err := c.Do(context.Background(), h, Call{Infno: "4207"}); err != nil || signIns.Load() != 2 {
		t.Fatalf("next day: %v, %d sign-ins", err, signIns.Load())
	}
	if err := c.ForgetSignIn(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), h, Call{Infno: "4207"}); err != nil || signIns.Load() != 3 {
		t.Fatalf("after ForgetSignIn: %v, %d sign-ins", err, signIns.Load())
	}
}

// TestSignInExpiredSignsInAgain: a call refused with an infcode listed in
// SignInExpiredCodes drops the cached sign-in, signs in again and is sent
// once more with a new msgid and the new sign_no; never twice, never for
// another code, never for a call without an answer (its outcome is
// unknown: the caller reconciles it).
func TestSignInExpiredSignsInAgain(t *testing.T) {
	t.Parallel()
	refuse := func(w http.ResponseWriter, code int) {
		_ = json.NewEncoder(w).Encode(map[string]any{"infcode": code, "inf_refmsgid": "350200202504010930000000000001", "err_msg": "签到已失效"})
	}
	isBusiness := func(code int) func(error) bool {
		return func(err error) bool { var be *BusinessError; return errors.As(err, &be) && be.Infcode == code }
	}
	cases := map[string]struct {
		answer  func(w http.ResponseWriter, n int32) // n: the 4207 call, from 1
		wantErr func(error) bool                     // nil: success
		signIns int32
		calls   int32
	}{
		"listed code: signs in again and sends once more": {answer: func(w http.ResponseWriter, n int32) {
			if n == 1 {
				refuse(w, -2)
				return
			}
			ok(w, nil)
		}, signIns: 2, calls: 2},
		"listed code again: sent once more only": {answer: func(w http.ResponseWriter, _ int32) { refuse(w, -2) }, wantErr: isBusiness(-2), signIns: 2, calls: 2},
		"another code: a refusal as it is":       {answer: func(w http.ResponseWriter, _ int32) { refuse(w, -1) }, wantErr: isBusiness(-1), signIns: 1, calls: 1},
		"no answer: not sent again": {answer: func(w http.ResponseWriter, _ int32) { w.WriteHeader(http.StatusInternalServerError) }, wantErr: func(err error) bool {
			var te *TransportError
			return errors.As(err, &te) && te.Sent
		}, signIns: 1, calls: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var signIns, calls atomic.Int32
			p := &platform{}
			p.fn = func(w http.ResponseWriter, env map[string]any) {
				if env["infno"] == "9001" {
					ok(w, map[string]any{"signinoutb": map[string]any{"sign_time": "2025-04-01 08:00:00", "sign_no": fmt.Sprintf("SN%d", signIns.Add(1))}})
					return
				}
				tc.answer(w, calls.Add(1))
			}
			srv := serve(t, p)
			cfg := testConfig(srv.URL)
			cfg.SignIn, cfg.SignInMAC, cfg.SignInIP, cfg.SignInExpiredCodes = true, "m", "i", []int{-2, 1001}
			c := newClient(t, cfg)
			_, err := c.Do(context.Background(), newMemHost(), Call{Infno: "4207"})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
			if signIns.Load() != tc.signIns || calls.Load() != tc.calls {
				t.Fatalf("%d sign-ins and %d calls, want %d and %d", signIns.Load(), calls.Load(), tc.signIns, tc.calls)
			}
			var sent []map[string]any
			for _, env := range p.envs {
				if env["infno"] == "4207" {
					sent = append(sent, env)
				}
			}
			if len(sent) == 2 && (sent[0]["msgid"] == sent[1]["msgid"] || sent[0]["sign_no"] != "SN1" || sent[1]["sign_no"] != "SN2") {
				t.Errorf("sent again with msgid %v → %v, sign_no %v → %v; want a new msgid and SN1 → SN2", sent[0]["msgid"], sent[1]["msgid"], sent[0]["sign_no"], sent[1]["sign_no"])
			}
		})
	}
}

func TestNothingSentWhenInvalid(t *testing.T) {
	t.Parallel()
	p := &platform{}
	srv := serve(t, p)
	cfg := testConfig(srv.URL)
	cfg.MaxInputChars = 50
	cfg.FixmedinsName = strings.Repeat("院", 201)
	c := newClient(t, cfg)
	_, err := c.Do(context.Background(), newMemHost(), Call{Infno: "4207", Input: map[string]any{"x": strings.Repeat("y", 60)}})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Side != "input" || ve.Errors[0].Rule != "length" {
		t.Fatalf("err = %v, want input length", err)
	}
	_, err = c.Do(context.Background(), newMemHost(), Call{Infno: "4207", Input: map[string]any{}})
	if !errors.As(err, &ve) || ve.Side != "envelope" || ve.Errors[0].Path != "$.fixmedins_name" {
		t.Fatalf("err = %v, want envelope fixmedins_name", err)
	}
	if len(p.envs) != 0 {
		t.Errorf("%d calls reached the platform", len(p.envs))
	}
}

func TestQueryAll(t *testing.T) {
	t.Parallel()
	p := &platform{}
	p.fn = func(w http.ResponseWriter, env map[string]any) {
		in := env["input"].(map[string]any)
		num, size := int(in["page_num"].(float64)), int(in["page_size"].(float64))
		var data []any
		for i := (num - 1) * size; i < min(num*size, 5); i++ {
			data = append(data, map[string]any{"bkkpSn": fmt.Sprint(i)})
		}
		ok(w, map[string]any{"recordCounts": 5, "pages": 3, "data": data})
	}
	srv := serve(t, p)
	c := newClient(t, testConfig(srv.URL))
	recs, err := c.QueryAll(context.Background(), newMemHost(), "m", "4207", map[string]any{"fixmedins_mdtrt_id": "ZY1"}, 2, 0)
	if err != nil || len(recs) != 5 || len(p.envs) != 3 {
		t.Fatalf("%d records in %d calls: %v", len(recs), len(p.envs), err)
	}
}

// TestQueryAllPageSizeCapped: a platform that serves fewer records per page
// than asked (its own maximum page size) but reports the record and page
// counts is read to the end, not stopped after the first short page.
func TestQueryAllPageSizeCapped(t *testing.T) {
	t.Parallel()
	const total, limit = 7, 3
	p := &platform{}
	p.fn = func(w http.ResponseWriter, env map[string]any) {
		in := env["input"].(map[string]any)
		num := int(in["page_num"].(float64))
		var data []any
		for i := (num - 1) * limit; i < min(num*limit, total); i++ {
			data = append(data, map[string]any{"bkkpSn": fmt.Sprint(i)})
		}
		ok(w, map[string]any{"recordCounts": total, "pages": (total + limit - 1) / limit, "data": data})
	}
	srv := serve(t, p)
	c := newClient(t, testConfig(srv.URL))
	recs, err := c.QueryAll(context.Background(), newMemHost(), "m", "4207", map[string]any{"fixmedins_mdtrt_id": "ZY1"}, 100, 0)
	if err != nil || len(recs) != total || len(p.envs) != 3 {
		t.Fatalf("%d records in %d calls, want %d in 3: %v", len(recs), len(p.envs), total, err)
	}
}

func TestSecretsNeverShow(t *testing.T) {
	t.Parallel()
	const token, key = "TOKEN-SECRET-123", "KEY-SECRET-45678"
	var logs bytes.Buffer
	p := &platform{token: token}
	p.fn = func(w http.ResponseWriter, _ map[string]any) {
		_, _ = w.Write([]byte(`{"infcode":-1,"err_msg":"患者350203198001011234不存在"}`))
	}
	srv := serve(t, p)
	cfg := testConfig(srv.URL)
	cfg.Token, cfg.Enc, cfg.SM4Key = token, EncSM4, key
	h := newMemHost()
	c := newClient(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	_, err := c.Do(context.Background(), h, Call{Infno: "4207"})
	if err == nil {
		t.Fatal("no error")
	}
	j, _ := json.Marshal(cfg)
	seen := []string{err.Error(), logs.String(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), string(j)}
	for _, x := range h.exchanges() {
		seen = append(seen, string(x.Request), string(x.Response), x.Error)
	}
	for _, s := range seen {
		if strings.Contains(s, token) || strings.Contains(s, key) {
			t.Errorf("a secret shows in %q", s)
		}
	}
	if strings.Contains(logs.String(), "350203198001011234") || strings.Contains(err.Error(), "350203198001011234") {
		t.Errorf("an ID number shows in the log or error: %s / %v", logs.String(), err)
	}
}

func TestFromSettings(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		SetBaseURL: "https://hsa.example/fsi/api/rsfComIfsService/callService", SetFixmedinsCode: "H35020300001", SetFixmedinsName: "院",
		SetMdtrtareaAdmvs: "350200", SetRecerSysCode: "CSTEST", SetOpter: "OP001", SetOpterName: "接口", SetPaasID: "p", SetToken: "t",
	}
	for _, s := range Settings() {
		if _, given := base[s.Name]; !given && s.Default != "" {
			base[s.Name] = s.Default
		}
	}
	testCases := map[string]struct {
		edit map[string]string
		want []string // settings with problems
	}{
		"valid":                     {},
		"short code":                {edit: map[string]string{SetFixmedinsCode: "H3502"}, want: []string{SetFixmedinsCode}},
		"no token":                  {edit: map[string]string{SetToken: "", SetPaasID: ""}, want: []string{SetPaasID, SetToken}},
		"auth none":                 {edit: map[string]string{SetToken: "", SetPaasID: "", SetAuth: AuthNone}},
		"sm4 without key":           {edit: map[string]string{SetEncType: EncSM4}, want: []string{SetSM4Key}},
		"sign-in incomplete":        {edit: map[string]string{SetSignIn: "true"}, want: []string{SetSignIn}},
		"bad area":                  {edit: map[string]string{SetMdtrtareaAdmvs: "35A"}, want: []string{SetMdtrtareaAdmvs}},
		"seq range":                 {edit: map[string]string{SetMsgIDSeqBase: "5000", SetMsgIDSeqSpan: "6000"}, want: []string{SetMsgIDSeqSpan}},
		"overrides":                 {edit: map[string]string{SetEndpoints: "42*=ftp://x"}, want: []string{SetEndpoints}},
		"paging":                    {edit: map[string]string{SetPagingFields: "a,b"}, want: []string{SetPagingFields}},
		"expired sign-in codes":     {edit: map[string]string{SetSignIn: "true", SetSignInMAC: "m", SetSignInIP: "i", SetSignInExpired: "-2, 1001"}},
		"expired code not a number": {edit: map[string]string{SetSignIn: "true", SetSignInMAC: "m", SetSignInIP: "i", SetSignInExpired: "-2,expired"}, want: []string{SetSignInExpired}},
		"expired code 0":            {edit: map[string]string{SetSignIn: "true", SetSignInMAC: "m", SetSignInIP: "i", SetSignInExpired: "0"}, want: []string{SetSignInExpired}},
		"expired codes, no sign-in": {edit: map[string]string{SetSignInExpired: "-2"}, want: []string{SetSignInExpired}},
		"everything wrong":          {edit: map[string]string{SetBaseURL: "x", SetOpter: "", SetTimeout: "soon"}, want: []string{SetBaseURL, SetOpter, SetTimeout}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := map[string]string{}
			for k, v := range base {
				s[k] = v
			}
			for k, v := range tc.edit {
				s[k] = v
			}
			_, ds := FromSettings(s)
			got := map[string]bool{}
			for _, d := range ds {
				got[d.Field] = true
				if d.Detail == "" {
					t.Errorf("%s: no fix given: %+v", d.Field, d)
				}
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("no problem reported for %s; got %v", w, ds)
				}
			}
			if len(tc.want) == 0 && len(ds) > 0 {
				t.Errorf("unexpected problems: %v", ds)
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"张三丰": "张*丰", "张三": "张*", "欧阳娜娜": "欧**娜", "": ""} {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MaskID("35020319800101123X"); got != "350***********123X" {
		t.Errorf("MaskID = %q", got)
	}
	if got := MaskText("患者35020319800101123X电话13800000000"); got != "患者350***********123X电话138****0000" {
		t.Errorf("MaskText = %q", got)
	}
}

// TestSignInExpiredConcurrentCalls: two calls of one operator refused for
// the same expired sign_no sign in again once between them: the second
// waits for the first's 9001 and uses its sign_no. Each signed in on its
// own before, and on a platform that keeps only the newest sign-in, the
// first's resend was refused again. The 9001 of the first is held until a
// second 9001 arrives or half a second passes, so a second 9001 is seen.
func TestSignInExpiredConcurrentCalls(t *testing.T) {
	t.Parallel()
	var signIns, refused atomic.Int32
	both, renewing, third := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p := &platform{}
	p.fn = func(w http.ResponseWriter, env map[string]any) {
		if env["infno"] == "9001" {
			n := signIns.Add(1)
			switch n {
			case 2:
				close(renewing)
				select {
				case <-third:
				case <-time.After(500 * time.Millisecond):
				}
			case 3:
				close(third)
			}
			ok(w, map[string]any{"signinoutb": map[string]any{"sign_time": "2025-04-01 08:00:00", "sign_no": fmt.Sprintf("SN%d", n)}})
			return
		}
		if env["sign_no"] != "SN1" {
			ok(w, nil)
			return
		}
		// Both calls carry SN1: the first is refused once both arrived,
		// the second once the first is signing in again.
		if refused.Add(1) == 1 {
			select {
			case <-both:
			case <-time.After(5 * time.Second):
			}
		} else {
			close(both)
			select {
			case <-renewing:
			case <-time.After(5 * time.Second):
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"infcode": -2, "inf_refmsgid": "350200202504010930000000000001", "err_msg": "签到已失效"})
	}
	srv := serve(t, p)
	cfg := testConfig(srv.URL)
	cfg.SignIn, cfg.SignInMAC, cfg.SignInIP, cfg.SignInExpiredCodes = true, "m", "i", []int{-2}
	c := newClient(t, cfg)
	h := newMemHost()
	if _, err := c.SignNo(context.Background(), h, "m0"); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Do(context.Background(), h, Call{Infno: "4207"})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("call: %v", err)
		}
	}
	if n := signIns.Load(); n != 2 {
		t.Errorf("%d sign-ins, want 2: the first and one new sign-in shared by both refused calls", n)
	}
	var signNos []any
	for _, env := range p.envs {
		if env["infno"] == "4207" && env["sign_no"] != "SN1" {
			signNos = append(signNos, env["sign_no"])
		}
	}
	if len(signNos) != 2 || signNos[0] != "SN2" || signNos[1] != "SN2" {
		t.Errorf("resent with sign_no %v, want SN2 twice", signNos)
	}
}

// TestSignInExpiredResending: Call.Resending learns the resend's msgid
// before it goes out, and an error from it stops the resend (not sent).
func TestSignInExpiredResending(t *testing.T) {
	t.Parallel()
	for name, hookErr := range map[string]error{"recorded": nil, "cannot record": errors.New("state store down")} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var signIns, calls atomic.Int32
			p := &platform{}
			p.fn = func(w http.ResponseWriter, env map[string]any) {
				if env["infno"] == "9001" {
					ok(w, map[string]any{"signinoutb": map[string]any{"sign_time": "2025-04-01 08:00:00", "sign_no": fmt.Sprintf("SN%d", signIns.Add(1))}})
					return
				}
				if calls.Add(1) == 1 {
					_ = json.NewEncoder(w).Encode(map[string]any{"infcode": -2, "inf_refmsgid": "350200202504010930000000000001", "err_msg": "签到已失效"})
					return
				}
				ok(w, nil)
			}
			srv := serve(t, p)
			cfg := testConfig(srv.URL)
			cfg.SignIn, cfg.SignInMAC, cfg.SignInIP, cfg.SignInExpiredCodes = true, "m", "i", []int{-2}
			c := newClient(t, cfg)
			var recorded []string
			res, err := c.Do(context.Background(), newMemHost(), Call{Infno: "4207", Resending: func(_ context.Context, id string) error {
				recorded = append(recorded, id)
				return hookErr
			}})
			var sent []any
			for _, env := range p.envs {
				if env["infno"] == "4207" {
					sent = append(sent, env["msgid"])
				}
			}
			if hookErr != nil {
				var te *TransportError
				if !errors.As(err, &te) || te.Sent || !errors.Is(err, hookErr) || len(sent) != 1 {
					t.Fatalf("err = %v after %d calls; want a TransportError, not sent, wrapping the hook's error, and no resend", err, len(sent))
				}
				return
			}
			if err != nil || len(sent) != 2 || len(recorded) != 1 || sent[1] != recorded[0] || res.MsgID != recorded[0] {
				t.Fatalf("err %v; sent %v, recorded %v: want the resend's msgid recorded before it went out", err, sent, recorded)
			}
		})
	}
}

// TestQueryAllPageSizeCappedWithoutCounts: a platform that serves fewer
// records per page than asked and sends no record or page counts is read
// until an empty page: its short first page is not the last. A query that
// never reaches an empty page ends in an error, not in the records read.
func TestQueryAllPageSizeCappedWithoutCounts(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		total, limit int
		array        bool // the output is the bare list of records
		endless      bool // every page has a record: no end
		wantCalls    int
	}{
		"capped, object without counts":       {total: 7, limit: 3, wantCalls: 4},
		"capped, bare array":                  {total: 7, limit: 3, array: true, wantCalls: 4},
		"capped, total a multiple of the cap": {total: 6, limit: 3, wantCalls: 3},
		"no records":                          {total: 0, limit: 3, wantCalls: 1},
		"never an empty page":                 {limit: 1, endless: true, wantCalls: maxQueryPages},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := &platform{}
			p.fn = func(w http.ResponseWriter, env map[string]any) {
				num := int(env["input"].(map[string]any)["page_num"].(float64))
				data := []any{}
				for i := (num - 1) * tc.limit; i < num*tc.limit && (tc.endless || i < tc.total); i++ {
					data = append(data, map[string]any{"bkkpSn": fmt.Sprint(i)})
				}
				if tc.array {
					ok(w, data)
					return
				}
				ok(w, map[string]any{"data": data})
			}
			srv := serve(t, p)
			c := newClient(t, testConfig(srv.URL))
			recs, err := c.QueryAll(context.Background(), newMemHost(), "m", "4207", map[string]any{"fixmedins_mdtrt_id": "ZY1"}, 100, 0)
			p.mu.Lock()
			calls := len(p.envs)
			p.mu.Unlock()
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if tc.endless {
				if err == nil || !strings.Contains(err.Error(), "narrow the query") {
					t.Fatalf("a query without end returned %d records and error %v, want an error", len(recs), err)
				}
				return
			}
			if err != nil || len(recs) != tc.total {
				t.Fatalf("%d records, want %d: %v", len(recs), tc.total, err)
			}
			for i, r := range recs {
				if want := fmt.Sprintf(`{"bkkpSn":"%d"}`, i); string(r) != want {
					t.Errorf("record %d is %s, want %s", i, r, want)
				}
			}
		})
	}
}

// TestQueryAllCountsDisagree: the answers' record count (recordCounts) and
// page count (pages) disagree, or the records run out before the count. A
// platform counting pages for the page size asked while serving fewer
// records a page (pages 1, recordCounts 5, 2 records a page) is read on
// until the count is reached: its "last page" is not taken for the end
// while records it counts are missing. Records running out before the
// count (an empty page) are an AnswerError, never fewer records.
func TestQueryAllCountsDisagree(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		total, served, limit, pages int
		want                        int // records; -1: an AnswerError
		wantCalls                   int
	}{
		"pages counted for the size asked": {total: 5, served: 5, limit: 2, pages: 1, want: 5, wantCalls: 3},
		"counts agree":                     {total: 5, served: 5, limit: 2, pages: 3, want: 5, wantCalls: 3},
		"records run out before the count": {total: 5, served: 3, limit: 2, pages: 3, want: -1, wantCalls: 3},
		"none listed, some counted":        {total: 2, served: 0, limit: 2, pages: 1, want: -1, wantCalls: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := &platform{}
			p.fn = func(w http.ResponseWriter, env map[string]any) {
				num := int(env["input"].(map[string]any)["page_num"].(float64))
				data := []any{}
				for i := (num - 1) * tc.limit; i < num*tc.limit && i < tc.served; i++ {
					data = append(data, map[string]any{"bkkpSn": fmt.Sprint(i)})
				}
				ok(w, map[string]any{"recordCounts": tc.total, "pages": tc.pages, "data": data})
			}
			srv := serve(t, p)
			c := newClient(t, testConfig(srv.URL))
			recs, err := c.QueryAll(context.Background(), newMemHost(), "m", "4207", map[string]any{"fixmedins_mdtrt_id": "ZY1"}, 100, 0)
			p.mu.Lock()
			calls := len(p.envs)
			p.mu.Unlock()
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if tc.want < 0 {
				var ae *AnswerError
				if !errors.As(err, &ae) || ae.Infno != "4207" {
					t.Fatalf("%d records and error %v, want an AnswerError", len(recs), err)
				}
				return
			}
			if err != nil || len(recs) != tc.want {
				t.Fatalf("%d records, want %d: %v", len(recs), tc.want, err)
			}
		})
	}
}
