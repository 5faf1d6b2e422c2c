package selfpay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
)

const (
	code  = "H35020300001"
	paas  = "p1"
	token = "t1"
)

// host is a minimal hsa.Host; its state has sdk.Host's version semantics.
type host struct {
	mu  sync.Mutex
	seq int64
	kv  map[string]sdk.Entry
}

func (h *host) Get(_ context.Context, k string) (sdk.Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.kv[k]
	if !ok {
		return sdk.Entry{}, sdk.ErrNotFound
	}
	return e, nil
}

func (h *host) Put(_ context.Context, k string, v []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.set(k, v), nil
}

func (h *host) CompareAndSet(_ context.Context, k string, expect int64, v []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kv[k].Version != expect {
		return 0, sdk.ErrConflict
	}
	return h.set(k, v), nil
}

// set writes v at the next version of k; h.mu is held.
func (h *host) set(k string, v []byte) int64 {
	if h.kv == nil {
		h.kv = map[string]sdk.Entry{}
	}
	e := h.kv[k]
	e.Key, e.Value, e.Version = k, append([]byte(nil), v...), e.Version+1
	h.kv[k] = e
	return e.Version
}

func (h *host) NextSequence(context.Context, string) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return h.seq, nil
}

func (h *host) Journal(context.Context, sdk.Exchange) (int64, error) { return 1, nil }

type fixture struct {
	sim    *Sim
	url    string
	client *hsa.Client
	h      *host
}

func newFixture(t *testing.T, opts Options, edit func(*hsa.Config)) *fixture {
	t.Helper()
	if opts.PaasID == "" {
		opts.PaasID, opts.Token = paas, token
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := hsa.Defaults()
	cfg.BaseURL, cfg.FixmedinsCode, cfg.FixmedinsName, cfg.MdtrtareaAdmvs = srv.URL+"/", code, "示例医院", "350200"
	cfg.RecerSysCode, cfg.Opter, cfg.OpterName, cfg.PaasID, cfg.Token = "CSTEST", "OP1", "接口", paas, token
	if edit != nil {
		edit(&cfg)
	}
	c, err := hsa.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: s, url: srv.URL, client: c, h: &host{}}
}

func (f *fixture) do(infno string, input any) (*hsa.Result, error) {
	return f.client.Do(context.Background(), f.h, hsa.Call{Infno: infno, Input: input})
}

// refused asserts a business refusal whose message contains want.
func refused(t *testing.T, err error, want string) {
	t.Helper()
	var be *hsa.BusinessError
	if !errors.As(err, &be) || !strings.Contains(be.Message, want) {
		t.Fatalf("err = %v, want a refusal containing %q", err, want)
	}
}

func feeRow(id string, i int, amt string) map[string]any {
	return map[string]any{
		"fixmedins_mdtrt_id": id, "med_type": "21", "bkkp_sn": fmt.Sprintf("%s-%d", id, i), "fee_ocur_time": "2025-03-26 10:00:00",
		"fixmedins_code": code, "fixmedins_name": "示例医院", "cnt": 1, "pric": amt, "det_item_fee_sumamt": amt,
		"med_list_codg": "X", "medins_list_codg": "Y", "medins_list_name": "Z", "med_chrgitm_type": "04",
		"bilg_dept_codg": "A", "bilg_dept_name": "内科", "bilg_dr_code": "D", "bilg_dr_name": "李", "tcmdrug_used_way": "1",
		"etip_flag": "0", "dscg_tkdrug_flag": "0", "fulamt_ownpay_amt": amt, "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_amt": 0,
	}
}

func visitIn(id, total string) map[string]any {
	return map[string]any{
		"ownPayPatnMdtrtD": map[string]any{"fixmedins_mdtrt_id": id, "fixmedins_code": code, "fixmedins_name": "示例医院", "psn_cert_type": "01",
			"certno": "350203198001011234", "psn_name": "张三", "begntime": "2025-03-25 10:00:00", "med_type": "21", "vali_flag": "1", "medfee_sumamt": total},
		"ownPayPatnDiagListD": []any{map[string]any{"inout_diag_type": "2", "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J18", "diag_name": "肺炎"}},
	}
}

func complete(id, flag string) map[string]any {
	return map[string]any{"fixmedins_mdtrt_id": id, "fixmedins_code": code, "cplt_flag": flag}
}

func fees(rows ...any) map[string]any { return map[string]any{"fsiOwnpayPatnFeeListDDTO": rows} }

// TestSignature: the simulator checks the x-tif headers on its own.
func TestSignature(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, nil)
	now := time.Now().Unix()
	sign := func(ts int64, nonce, tok string) string {
		s := strconv.FormatInt(ts, 10)
		sum := sha256.Sum256([]byte(s + tok + nonce + s))
		return hex.EncodeToString(sum[:])
	}
	testCases := map[string]struct {
		paasid, nonce string
		ts            int64
		sig           string
		want          int
	}{
		"good":         {paas, "n-good", now, sign(now, "n-good", token), http.StatusOK},
		"replayed":     {paas, "n-good", now, sign(now, "n-good", token), http.StatusUnauthorized},
		"wrong token":  {paas, "n-2", now, sign(now, "n-2", "other"), http.StatusUnauthorized},
		"wrong paasid": {"p2", "n-3", now, sign(now, "n-3", token), http.StatusUnauthorized},
		"stale":        {paas, "n-4", now - 3600, sign(now-3600, "n-4", token), http.StatusUnauthorized},
		"upper case":   {paas, "n-5", now, strings.ToUpper(sign(now, "n-5", token)), http.StatusUnauthorized},
		"no signature": {paas, "n-6", now, "", http.StatusUnauthorized},
	}
	for _, name := range []string{"good", "replayed", "wrong token", "wrong paasid", "stale", "upper case", "no signature"} {
		tc := testCases[name]
		req, _ := http.NewRequest(http.MethodPost, f.url+"/", strings.NewReader(`{}`))
		req.Header.Set("x-tif-paasid", tc.paasid)
		req.Header.Set("x-tif-timestamp", strconv.FormatInt(tc.ts, 10))
		req.Header.Set("x-tif-nonce", tc.nonce)
		req.Header.Set("x-tif-signature", tc.sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: HTTP %d, want %d", name, resp.StatusCode, tc.want)
		}
	}
}

func TestEnvelopeChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, nil)
	res, err := f.do("4207", map[string]any{"fixmedins_mdtrt_id": "A", "fixmedins_code": code, "page_num": 1, "page_size": 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.client.Do(context.Background(), f.h, hsa.Call{Infno: "4207", MsgID: res.MsgID, Input: map[string]any{"fixmedins_mdtrt_id": "A", "fixmedins_code": code, "page_num": 1, "page_size": 10}})
	refused(t, err, "msgid "+res.MsgID+" was used before")
	_, err = f.client.Do(context.Background(), f.h, hsa.Call{Infno: "4207", MsgID: "H99999999999202504010930000001", Input: map[string]any{}})
	refused(t, err, "须以定点医药机构编号开头")
	_, err = f.do("4207", map[string]any{"fixmedins_mdtrt_id": "A"})
	refused(t, err, "入参校验失败")
	_, err = f.do("4299", map[string]any{})
	refused(t, err, "unknown infno")
}

func TestUploadRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, nil)
	// One patient per call.
	_, err := f.do("4201A", fees(feeRow("A", 1, "10"), feeRow("B", 1, "10")))
	refused(t, err, "一位患者")
	// Completion needs the visit (4202) and fee lines (4201A) of the same id.
	if _, err := f.do("4201A", fees(feeRow("A", 1, "10"), feeRow("A", 2, "5"))); err != nil {
		t.Fatal(err)
	}
	_, err = f.do("4201A", fees(feeRow("A", 2, "5")))
	refused(t, err, "was uploaded before")
	_, err = f.do("4203", complete("A", "1"))
	refused(t, err, "4202")
	if _, err := f.do("4202", visitIn("A", "16")); err != nil {
		t.Fatal(err)
	}
	_, err = f.do("4203", complete("A", "1"))
	refused(t, err, "不符")
	if _, err := f.do("4202", visitIn("A", "15")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.do("4203", complete("A", "1")); err != nil {
		t.Fatal(err)
	}
	// Complete: locked.
	_, err = f.do("4201A", fees(feeRow("A", 3, "1")))
	refused(t, err, "4203 cplt_flag=0")
	_, err = f.do("4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "A", "fixmedins_code": code}})
	refused(t, err, "4203 cplt_flag=0")
	// Reopen, delete one line, then all.
	if _, err := f.do("4203", complete("A", "0")); err != nil {
		t.Fatal(err)
	}
	_, err = f.do("4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "A", "fixmedins_code": code}, "feedetl": []any{map[string]any{"bkkp_sn": "A-9"}}})
	refused(t, err, "A-9")
	if _, err := f.do("4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "A", "fixmedins_code": code}, "feedetl": []any{map[string]any{"bkkp_sn": "A-1"}}}); err != nil {
		t.Fatal(err)
	}
	if v := f.sim.Visit(code, "A"); strings.Join(v.Fees, ",") != "A-2" || v.Complete {
		t.Fatalf("visit %+v", v)
	}
	if _, err := f.do("4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "A", "fixmedins_code": code}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.do("4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "A", "fixmedins_code": code}})
	refused(t, err, "nothing to delete")
}

func TestQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, nil)
	var rows []any
	for i := 1; i <= 5; i++ {
		rows = append(rows, feeRow("Q", i, "2"))
	}
	for _, c := range []struct {
		infno string
		in    any
	}{{"4201A", fees(rows...)}, {"4202", visitIn("Q", "10")}, {"4203", complete("Q", "1")}} {
		if _, err := f.do(c.infno, c.in); err != nil {
			t.Fatal(err)
		}
	}
	res, err := f.do("4207", map[string]any{"fixmedins_mdtrt_id": "Q", "fixmedins_code": code, "page_num": 3, "page_size": 2})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := hsa.ParsePage(res.Output, hsa.Defaults().Paging)
	if err != nil || pg.Total != 5 || pg.Pages != 3 || len(pg.Records) != 1 || !bytes.Contains(pg.Records[0], []byte(`"bkkpSn":"Q-5"`)) {
		t.Fatalf("4207 page 3: %+v %v", pg, err)
	}
	for q, want := range map[string]int{
		`{"certno":"350203198001011234"}`:                                    1,
		`{"certno":"350203198001011234","cplt_flag":"0"}`:                    0,
		`{"psn_name":"李四"}`:                                                  0,
		`{"begntime":"2025-03-25 00:00:00","endtime":"2025-03-26 00:00:00"}`: 1,
		`{"medfee_sumamt":"10.00"}`:                                          1,
	} {
		in := map[string]any{"page_num": 1, "page_size": 10}
		_ = json.Unmarshal([]byte(q), &in)
		res, err := f.do("4208", in)
		if err != nil {
			t.Fatal(err)
		}
		pg, _ := hsa.ParsePage(res.Output, hsa.Defaults().Paging)
		if len(pg.Records) != want {
			t.Errorf("4208 %s: %d records, want %d", q, len(pg.Records), want)
		}
	}
	res, err = f.do("4209", map[string]any{"fixmedins_mdtrt_id": "Q", "fixmedins_code": code, "page_num": 1, "page_size": 10})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(res.Output, []byte(`"diagCode":"J18"`)) || !bytes.Contains(res.Output, []byte(`"poolareaNO"`)) {
		t.Errorf("4209 output %s", res.Output)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, func(c *hsa.Config) { c.Timeout = 2 * time.Second })
	in := map[string]any{"fixmedins_mdtrt_id": "F", "fixmedins_code": code, "page_num": 1, "page_size": 10}
	// The control API queues a fault like Fail does.
	resp, err := http.Post(f.url+"/sim/fail", "application/json", strings.NewReader(`{"infno":"4207","mode":"business","message":"系统繁忙"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /sim/fail: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = f.do("4207", in)
	refused(t, err, "系统繁忙")
	f.sim.Fail(Fault{Infno: "4207", Mode: FaultHTTP500})
	_, err = f.do("4207", in)
	var te *hsa.TransportError
	if !errors.As(err, &te) || !te.Sent || te.Status != 500 {
		t.Fatalf("http500: %v", err)
	}
	f.sim.Fail(Fault{Infno: "4201A", Mode: FaultLostReply})
	_, err = f.do("4201A", fees(feeRow("F", 1, "1")))
	if !errors.As(err, &te) || !te.Sent {
		t.Fatalf("lost reply: %v", err)
	}
	if v := f.sim.Visit(code, "F"); len(v.Fees) != 1 {
		t.Errorf("a lost reply must still apply the call: %+v", v)
	}
	f.sim.Fail(Fault{Infno: "4207", Mode: FaultHold})
	done := make(chan error, 1)
	go func() { _, err := f.do("4207", in); done <- err }()
	if got := <-f.sim.Held(); got != "4207" {
		t.Fatalf("held %s", got)
	}
	f.sim.Release()
	if err := <-done; !errors.As(err, &te) {
		t.Fatalf("hold: %v", err)
	}
	// Faults are used up: the next call works.
	if _, err := f.do("4207", in); err != nil {
		t.Fatal(err)
	}
}

func TestSignInAndSM4(t *testing.T) {
	t.Parallel()
	const key = "0123456789abcdeffedcba9876543210"
	f := newFixture(t, Options{RequireSignIn: true, SM4Key: key}, func(c *hsa.Config) {
		c.Enc, c.SM4Key = hsa.EncSM4, key
	})
	in := map[string]any{"fixmedins_mdtrt_id": "S", "fixmedins_code": code, "page_num": 1, "page_size": 10}
	_, err := f.do("4207", in)
	refused(t, err, "请先签到")
	signed := newFixture(t, Options{RequireSignIn: true, SM4Key: key}, func(c *hsa.Config) {
		c.Enc, c.SM4Key, c.SignIn, c.SignInMAC, c.SignInIP = hsa.EncSM4, key, true, "00:00:00:00:00:01", "10.0.0.1"
	})
	res, err := signed.do("4207", in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(res.Output, []byte(`"recordCounts":0`)) {
		t.Errorf("decrypted output %s", res.Output)
	}
}

// TestInputLengthAsSent: the envelope's input is 字符型 40000, counted as
// sent: the JSON text of a plain input, the ciphertext with SM4 (the
// client's own check is turned off, so the simulator's is the one seen).
func TestInputLengthAsSent(t *testing.T) {
	t.Parallel()
	const key = "0123456789abcdeffedcba9876543210"
	for name, sm4 := range map[string]bool{"plain": false, "SM4": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := Options{MaxInputChars: 1300}
			if sm4 {
				opts.SM4Key = key
			}
			f := newFixture(t, opts, func(c *hsa.Config) {
				c.MaxInputChars = 0
				if sm4 {
					c.Enc, c.SM4Key = hsa.EncSM4, key
				}
			})
			in := func(n int) map[string]any {
				return map[string]any{"fixmedins_mdtrt_id": strings.Repeat("S", n), "fixmedins_code": code, "page_num": 1, "page_size": 10}
			}
			if _, err := f.do("4207", in(10)); err != nil {
				t.Fatalf("a short input: %v", err)
			}
			// About 1,080 characters of JSON: under the limit in clear, over
			// it once SM4 and base64 have grown it (about 1,450).
			_, err := f.do("4207", in(1000))
			if sm4 {
				refused(t, err, "input超长")
			} else if err != nil {
				var be *hsa.BusinessError
				if errors.As(err, &be) && strings.Contains(be.Message, "input超长") {
					t.Fatalf("a 1,100-character input in clear was refused as too long: %v", err)
				}
			}
			_, err = f.do("4207", in(3000))
			refused(t, err, "input超长")
		})
	}
}

// TestSignInExpires: a sign_no stops working when it expires, by the
// simulator's own rule (SignInTTL on its clock) or on command
// (ExpireSignIns); the refusal carries SignInInfcode, and a new 9001
// works again.
func TestSignInExpires(t *testing.T) {
	t.Parallel()
	for name, ttl := range map[string]bool{"ttl": true, "on command": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			f := newFixture(t, Options{RequireSignIn: true, SignInTTL: time.Minute, SignInInfcode: -2, Now: clock}, func(c *hsa.Config) {
				c.SignIn, c.SignInMAC, c.SignInIP = true, "00:00:00:00:00:01", "10.0.0.1"
			})
			in := map[string]any{"fixmedins_mdtrt_id": "S", "fixmedins_code": code, "page_num": 1, "page_size": 10}
			if _, err := f.do("4207", in); err != nil {
				t.Fatal(err)
			}
			if ttl {
				mu.Lock()
				now = now.Add(2 * time.Minute) // within the x-tif skew
				mu.Unlock()
			} else {
				f.sim.ExpireSignIns()
			}
			_, err := f.do("4207", in)
			refused(t, err, "请先签到")
			if be := (*hsa.BusinessError)(nil); errors.As(err, &be) && be.Infcode != -2 {
				t.Errorf("infcode %d, want -2 (SignInInfcode)", be.Infcode)
			}
			if err := f.client.ForgetSignIn(context.Background(), f.h); err != nil {
				t.Fatal(err)
			}
			if _, err := f.do("4207", in); err != nil {
				t.Fatalf("after a new 9001: %v", err)
			}
			n := 0
			for _, c := range f.sim.Calls() {
				if c.Infno == "9001" && c.Applied {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%d sign-ins, want 2", n)
			}
		})
	}
}

// TestSignInDaily: with SignInDaily a sign_no works the day (UTC+8, on the
// simulator's clock) it was issued and is refused after midnight; the
// 9001 answers its sign_time in UTC+8.
func TestSignInDaily(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	zone := time.FixedZone("UTC+8", 8*3600)
	now := time.Date(2025, 4, 1, 23, 59, 0, 0, zone).UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, Options{RequireSignIn: true, SignInDaily: true, SignInInfcode: -2, Now: clock, MaxSkew: 100000 * time.Hour}, func(c *hsa.Config) {
		c.SignIn, c.SignInMAC, c.SignInIP = true, "00:00:00:00:00:01", "10.0.0.1"
	})
	in := map[string]any{"fixmedins_mdtrt_id": "S", "fixmedins_code": code, "page_num": 1, "page_size": 10}
	if _, err := f.do("4207", in); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.sim.Calls() {
		if c.Infno == "9001" && !c.Applied {
			t.Fatalf("9001 refused: %s", c.ErrMsg)
		}
	}
	mu.Lock()
	now = now.Add(30 * time.Second) // 23:59:30, the same day
	mu.Unlock()
	if _, err := f.do("4207", in); err != nil {
		t.Fatalf("the same day: %v", err)
	}
	mu.Lock()
	now = now.Add(time.Minute) // 00:00:30, the next day
	mu.Unlock()
	_, err := f.do("4207", in)
	refused(t, err, "请先签到")
	if err := f.client.ForgetSignIn(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	res, err := f.do("9001", map[string]any{"signIn": map[string]any{"opter_no": "OP1", "mac": "00:00:00:00:00:01", "ip": "10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Output), `"sign_time":"2025-04-02 00:00:30"`) {
		t.Errorf("9001 output %s, want sign_time 2025-04-02 00:00:30 (UTC+8)", res.Output)
	}
}

// TestPageSizeCapAndNoCounts: MaxPageSize serves at most that many records
// per page whatever page_size asks, and NoPageCounts answers data only.
func TestPageSizeCapAndNoCounts(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		opts              Options
		num, size         int
		wantSNs           []string
		wantTotal, wantPg int // -1: not in the answer
	}{
		"no cap, counts":       {opts: Options{}, num: 1, size: 10, wantSNs: []string{"P-1", "P-2", "P-3", "P-4", "P-5"}, wantTotal: 5, wantPg: 1},
		"capped, counts":       {opts: Options{MaxPageSize: 2}, num: 2, size: 10, wantSNs: []string{"P-3", "P-4"}, wantTotal: 5, wantPg: 3},
		"capped, no counts":    {opts: Options{MaxPageSize: 2, NoPageCounts: true}, num: 1, size: 10, wantSNs: []string{"P-1", "P-2"}, wantTotal: -1, wantPg: -1},
		"capped, past the end": {opts: Options{MaxPageSize: 2, NoPageCounts: true}, num: 4, size: 10, wantTotal: -1, wantPg: -1},
		"asked below the cap":  {opts: Options{MaxPageSize: 4, NoPageCounts: true}, num: 2, size: 3, wantSNs: []string{"P-4", "P-5"}, wantTotal: -1, wantPg: -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.opts, nil)
			var rows []any
			for i := 1; i <= 5; i++ {
				rows = append(rows, feeRow("P", i, "2"))
			}
			if _, err := f.do("4201A", fees(rows...)); err != nil {
				t.Fatal(err)
			}
			res, err := f.do("4207", map[string]any{"fixmedins_mdtrt_id": "P", "fixmedins_code": code, "page_num": tc.num, "page_size": tc.size})
			if err != nil {
				t.Fatal(err)
			}
			pg, err := hsa.ParsePage(res.Output, hsa.Defaults().Paging)
			if err != nil {
				t.Fatal(err)
			}
			var sns []string
			for _, r := range pg.Records {
				var rec struct{ BkkpSn string }
				if err := json.Unmarshal(r, &rec); err != nil {
					t.Fatal(err)
				}
				sns = append(sns, rec.BkkpSn)
			}
			if fmt.Sprint(sns) != fmt.Sprint(tc.wantSNs) || pg.Total != tc.wantTotal || pg.Pages != tc.wantPg {
				t.Errorf("page %d of %d: records %v, recordCounts %d, pages %d; want %v, %d, %d (output %s)",
					tc.num, tc.size, sns, pg.Total, pg.Pages, tc.wantSNs, tc.wantTotal, tc.wantPg, res.Output)
			}
		})
	}
}

// TestFeeLineAmount: a 4201A line's det_item_fee_sumamt must be pric ×
// cnt rounded to the fen; a call with one wrong line stores none of its
// lines.
// TestDeleteEmptyList: feedetl not passed deletes every fee detail of the
// visit; passed but empty it names no line, and is refused with the lines
// kept, not taken for "delete all".
func TestDeleteEmptyList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, nil)
	if _, err := f.do("4201A", fees(feeRow("E", 1, "10"), feeRow("E", 2, "5"))); err != nil {
		t.Fatal(err)
	}
	_, err := f.do("4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "E", "fixmedins_code": code}, "feedetl": []any{}})
	refused(t, err, "feedetl")
	if v := f.sim.Visit(code, "E"); strings.Join(v.Fees, ",") != "E-1,E-2" {
		t.Fatalf("an empty feedetl deleted lines: %+v", v)
	}
}

func TestFeeLineAmount(t *testing.T) {
	t.Parallel()
	line := func(i int, cnt, pric, sum any) map[string]any {
		r := feeRow("M", i, "0")
		r["cnt"], r["pric"], r["det_item_fee_sumamt"], r["fulamt_ownpay_amt"] = cnt, pric, sum, sum
		return r
	}
	for name, tc := range map[string]struct {
		cnt, pric, sum any
		ok             bool
	}{
		"exact":                 {2, "12.5", "25.00", true},
		"rounded to the fen":    {3, "0.333333", "1.00", true},
		"half a fen is rounded": {"0.5", "0.01", "0.01", true},
		"a fen short":           {2, "12.5", "24.99", false},
		"off by a unit price":   {2, "12.5", "12.50", false},
		"rounded the wrong way": {3, "0.333333", "0.99", false},
		"six decimals kept":     {"1.0000", "100.004999", "100.00", true},
		"over half a fen":       {"1.0000", "100.005001", "100.00", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Options{}, nil)
			_, err := f.do("4201A", fees(line(1, 1, "3", "3.00"), line(2, tc.cnt, tc.pric, tc.sum)))
			if tc.ok {
				if err != nil {
					t.Fatalf("a consistent line was refused: %v", err)
				}
				return
			}
			refused(t, err, "单价×数量")
			if v := f.sim.Visit(code, "M"); len(v.Fees) != 0 {
				t.Fatalf("a refused call stored lines %v", v.Fees)
			}
		})
	}
}
