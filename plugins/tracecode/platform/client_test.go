package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/tracecode/platform"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// clock is a settable clock shared by the client and the simulator.
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

// recorder is an Observer that keeps everything.
type recorder struct {
	mu        sync.Mutex
	tokens    []platform.TokenEvent
	exchanges []platform.Exchange
}

func (r *recorder) Token(_ context.Context, e platform.TokenEvent) {
	r.mu.Lock()
	r.tokens = append(r.tokens, e)
	r.mu.Unlock()
}

func (r *recorder) Exchange(_ context.Context, x platform.Exchange) {
	r.mu.Lock()
	r.exchanges = append(r.exchanges, x)
	r.mu.Unlock()
}

// text returns everything the observer saw as text (journaled bodies as
// sent, not base64).
func (r *recorder) text() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	ev, _ := json.Marshal(r.tokens)
	b.Write(ev)
	for _, x := range r.exchanges {
		b.Write(x.Request)
		b.Write(x.Response)
		b.WriteString(x.Error + x.Message + x.Code)
	}
	return b.Bytes()
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.tokens {
		s := e.Action + "/" + e.Reason
		if !e.OK {
			s += "/failed"
		}
		out = append(out, s)
	}
	return out
}

type fixture struct {
	sim    *tracecode.Sim
	srv    *httptest.Server
	clock  *clock
	client *platform.Client
	rec    *recorder
}

func newFixture(t *testing.T, edit func(*platform.Config)) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	sim := tracecode.New(tracecode.Options{AppID: "app1", AppSecret: "s3cret-s3cret", OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 7, Now: clk.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := platform.Config{BaseURL: srv.URL, AppID: "app1", AppSecret: "s3cret-s3cret", OrgCode: "H35020300001", Now: clk.Now, Timeout: 5 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	c, err := platform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: sim, srv: srv, clock: clk, client: c, rec: &recorder{}}
}

func (f *fixture) upload(t *testing.T, billNo string) (platform.Result, error) {
	t.Helper()
	return f.uploadNoT(billNo)
}

// uploadNoT uploads a one-code stock-in. The code is derived from the
// document number: the simulator refuses a second stock-in of a code.
func (f *fixture) uploadNoT(billNo string) (platform.Result, error) {
	h := fnv.New64a()
	h.Write([]byte(billNo))
	code := fmt.Sprintf("8100001%013d", h.Sum64()%1e13)
	in := map[string]any{"billNo": billNo, "billType": "102", "billTime": "2026-11-26 09:00:00",
		"lines": []any{map[string]any{"lineNo": 1, "traceCodes": []any{map[string]string{"code": code}}}}}
	return f.client.Call(context.Background(), f.rec, platform.OpUpload, in, nil)
}

// assertNoSecrets checks that no token or secret appears in anything the
// observer saw.
func (f *fixture) assertNoSecrets(t *testing.T) {
	t.Helper()
	blob := f.rec.text()
	secrets := append(f.sim.IssuedTokens(), "s3cret-s3cret")
	for _, s := range secrets {
		if bytes.Contains(blob, []byte(s)) {
			t.Fatalf("a token or the secret leaked to the observer")
		}
	}
}

func TestTokenCachedAndRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *platform.Config) { c.RefreshBefore = 5 * time.Minute })
	for i := 0; i < 3; i++ {
		if _, err := f.upload(t, "B"+string(rune('1'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.sim.Stats().TokensIssued; n != 1 {
		t.Fatalf("%d tokens issued for 3 calls, want 1 (cached)", n)
	}
	f.clock.Add(56 * time.Minute) // 4 minutes before the 1h expiry
	if _, err := f.upload(t, "B9"); err != nil {
		t.Fatal(err)
	}
	want := []string{"issue/first use", "refresh/expires soon"}
	if diff := cmp.Diff(want, f.rec.actions()); diff != "" {
		t.Errorf("token operations (-want +got):\n%s", diff)
	}
	if st := f.sim.Stats(); st.TokensIssued != 2 || st.Refused != 0 || st.NoToken != 0 {
		t.Errorf("stats = %+v, want 2 tokens and no refused call", st)
	}
	f.assertNoSecrets(t)
}

func TestAuthErrorRefreshesOnceAndRetries(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		arm         func(s *tracecode.Sim)
		wantErr     error
		wantActions []string
		wantUploads int
	}{
		"expired token": {
			arm:         func(s *tracecode.Sim) { s.ExpireTokens() },
			wantActions: []string{"issue/first use", "invalidate/authentication error", "refresh/authentication error"},
			wantUploads: 2,
		},
		"refused once": {
			arm:         func(s *tracecode.Sim) { s.Fail("upload", tracecode.FailAuth, 1) },
			wantActions: []string{"issue/first use", "invalidate/authentication error", "refresh/authentication error"},
			wantUploads: 2,
		},
		"refused twice": {
			arm:         func(s *tracecode.Sim) { s.Fail("upload", tracecode.FailAuth, 2) },
			wantErr:     platform.ErrAuth,
			wantActions: []string{"issue/first use", "invalidate/authentication error", "refresh/authentication error"},
			wantUploads: 1,
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			if _, err := f.upload(t, "A1"); err != nil {
				t.Fatal(err)
			}
			tc.arm(f.sim)
			_, err := f.upload(t, "A2")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantActions, f.rec.actions()); diff != "" {
				t.Errorf("token operations (-want +got):\n%s", diff)
			}
			if n := f.sim.Stats().Uploads; n != tc.wantUploads {
				t.Errorf("%d uploads accepted, want %d", n, tc.wantUploads)
			}
			f.assertNoSecrets(t)
		})
	}
}

func TestNoCallWithoutToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *platform.Config) { c.AppSecret = "wrong-secret" })
	_, err := f.upload(t, "N1")
	if !errors.Is(err, platform.ErrAuth) || !strings.Contains(err.Error(), "no call made without a token") {
		t.Fatalf("err = %v, want ErrAuth and no call", err)
	}
	st := f.sim.Stats()
	if st.Calls["upload"] != 0 || st.NoToken != 0 {
		t.Fatalf("the upload was attempted without a token: %+v", st)
	}
	if diff := cmp.Diff([]string{"issue/first use/failed"}, f.rec.actions()); diff != "" {
		t.Errorf("token operations (-want +got):\n%s", diff)
	}
	// The token endpoint being down also stops the call.
	f2 := newFixture(t, nil)
	f2.sim.Fail("token", tracecode.FailHTTP500, 1)
	if _, err := f2.upload(t, "N2"); !errors.Is(err, platform.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if n := f2.sim.Stats().Calls["upload"]; n != 0 {
		t.Fatalf("upload called %d times without a token", n)
	}
}

func TestRefreshFailureKeepsUnexpiredToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *platform.Config) { c.RefreshBefore = 10 * time.Minute })
	if _, err := f.upload(t, "K1"); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(55 * time.Minute)
	f.sim.Fail("token", tracecode.FailHTTP500, 1)
	if _, err := f.upload(t, "K2"); err != nil {
		t.Fatalf("a token 5 minutes from expiry should still be used when the refresh fails: %v", err)
	}
	want := []string{"issue/first use", "refresh/expires soon/failed"}
	if diff := cmp.Diff(want, f.rec.actions()); diff != "" {
		t.Errorf("token operations (-want +got):\n%s", diff)
	}
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		arm        func(f *fixture)
		billNo     string
		wantDup    bool
		wantErr    []error
		notErr     []error
		wantStatus string // of the last exchange
	}{
		"ok":        {billNo: "O1", wantStatus: "ok"},
		"duplicate": {arm: func(f *fixture) { _, _ = f.uploadNoT("O2") }, billNo: "O2", wantDup: true, wantStatus: "ok"},
		"server error": {arm: func(f *fixture) { f.sim.Fail("upload", tracecode.FailHTTP500, 1) }, billNo: "O3",
			wantErr: []error{platform.ErrUnavailable, platform.ErrUnknownOutcome}, wantStatus: "unknown"},
		"processed then lost": {arm: func(f *fixture) { f.sim.Fail("upload", tracecode.FailAfter, 1) }, billNo: "O4",
			wantErr: []error{platform.ErrUnknownOutcome}, wantStatus: "unknown"},
		"dropped": {arm: func(f *fixture) { f.sim.Fail("upload", tracecode.FailDrop, 1) }, billNo: "O5",
			wantErr: []error{platform.ErrUnknownOutcome}, wantStatus: "unknown"},
		"busy": {arm: func(f *fixture) { f.sim.Fail("upload", tracecode.FailBusy, 1) }, billNo: "O6",
			notErr: []error{platform.ErrUnavailable}, wantStatus: "rejected"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			if _, err := f.client.Token(context.Background(), f.rec, false); err != nil {
				t.Fatal(err)
			}
			if tc.arm != nil {
				tc.arm(f)
			}
			res, err := f.upload(t, tc.billNo)
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			for _, not := range tc.notErr {
				if errors.Is(err, not) {
					t.Errorf("err = %v, must not be %v", err, not)
				}
			}
			if tc.wantErr == nil && tc.notErr == nil && err != nil {
				t.Fatal(err)
			}
			if res.Duplicate != tc.wantDup {
				t.Errorf("duplicate = %v, want %v", res.Duplicate, tc.wantDup)
			}
			f.rec.mu.Lock()
			last := f.rec.exchanges[len(f.rec.exchanges)-1]
			f.rec.mu.Unlock()
			if last.Status != tc.wantStatus {
				t.Errorf("journal status = %q, want %q", last.Status, tc.wantStatus)
			}
		})
	}
	t.Run("busy is a business error", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		f.sim.Fail("upload", tracecode.FailBusy, 1)
		_, err := f.upload(t, "B1")
		var be *platform.BusinessError
		if !errors.As(err, &be) || be.Code != "SYS_BUSY" {
			t.Fatalf("err = %v, want BusinessError SYS_BUSY", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		f.srv.Close()
		_, err := f.upload(t, "U1")
		if !errors.Is(err, platform.ErrUnavailable) || errors.Is(err, platform.ErrUnknownOutcome) {
			t.Fatalf("err = %v, want ErrUnavailable with a known outcome (nothing was sent)", err)
		}
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var out map[string]any
	res, err := f.client.Call(context.Background(), f.rec, platform.OpBillStatus, map[string]string{"billNo": "nope"}, &out)
	if err != nil || !res.NotFound {
		t.Fatalf("res = %+v, err = %v; want not found", res, err)
	}
}

func TestMD5Signature(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	sim := tracecode.New(tracecode.Options{AppID: "a", AppSecret: "k", OrgCode: "o", SignMethod: "md5", Now: clk.Now})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for _, method := range []string{platform.SignMD5, platform.SignHMACSHA256} {
		c, err := platform.New(platform.Config{BaseURL: srv.URL, AppID: "a", AppSecret: "k", OrgCode: "o", SignMethod: method, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Token(context.Background(), platform.Discard, false)
		if method == platform.SignMD5 && err != nil {
			t.Errorf("md5: %v", err)
		}
		if method == platform.SignHMACSHA256 && !errors.Is(err, platform.ErrAuth) {
			t.Errorf("hmac against an md5 platform: err = %v, want ErrAuth", err)
		}
	}
}

// TestFieldNamesAndTokenPlacement runs against a platform that spells
// everything differently and wants the token in the body.
func TestFieldNamesAndTokenPlacement(t *testing.T) {
	t.Parallel()
	const tok = "tok-0123456789"
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/gw/auth":
			_, _ = w.Write([]byte(`{"ret":200,"msg":"ok","result":{"access_token":"` + tok + `","expires_in":"600"}}`))
		case "/gw/codes":
			if m["token"] != tok {
				_, _ = w.Write([]byte(`{"ret":4001,"msg":"no token"}`))
				return
			}
			_, _ = w.Write([]byte(`{"ret":200,"msg":"ok","result":{"bill_code":"X1","code_list":[{"trace_code":"81000010000000011234","code_level":1}]}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	fields, err := platform.ParseFieldMap("accessToken=access_token,expiresIn=expires_in,billNo=bill_code,codes=code_list,code=trace_code,codeLevel=code_level")
	if err != nil {
		t.Fatal(err)
	}
	paths, err := platform.ParsePaths("token=/gw/auth, billcodes=/gw/codes")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	c, err := platform.New(platform.Config{BaseURL: srv.URL, AppID: "a", AppSecret: "k", Paths: paths, Fields: fields, TokenBodyField: "token",
		CodeField: "ret", MessageField: "msg", DataField: "result", SuccessCodes: []string{"200"}, AuthCodes: []string{"4001"}})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		BillNo string `json:"billNo"`
		Codes  []struct {
			Code      string `json:"code"`
			CodeLevel int    `json:"codeLevel"`
		} `json:"codes"`
	}
	if _, err := c.Call(context.Background(), rec, platform.OpBillCodes, map[string]string{"billNo": "X1"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.BillNo != "X1" || len(out.Codes) != 1 || out.Codes[0].Code != "81000010000000011234" || out.Codes[0].CodeLevel != 1 {
		t.Fatalf("decoded %+v", out)
	}
	mu.Lock()
	if bodies[1]["bill_code"] != "X1" {
		t.Errorf("request body %v: billNo not renamed to bill_code", bodies[1])
	}
	mu.Unlock()
	blob := rec.text()
	if bytes.Contains(blob, []byte(tok)) {
		t.Fatalf("the token leaked into the journal: %s", blob)
	}
	if !bytes.Contains(blob, []byte("redacted")) {
		t.Errorf("the journal does not show where the token was redacted: %s", blob)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	errs := platform.Config{BaseURL: "ftp://x", SignMethod: "rot13", Paths: map[platform.Op]string{"upload": "no-slash", "teleport": "/x"}}.Check()
	if len(errs) != 6 {
		t.Fatalf("Check found %d problems, want 6 (url, app id, secret, sign method, path, unknown op): %v", len(errs), errs)
	}
	if _, err := platform.ParseFieldMap("a=x,b=x"); err == nil {
		t.Error("two names mapped to one accepted")
	}
	if _, err := platform.ParsePaths("upload"); err == nil {
		t.Error("a pair without = accepted")
	}
	if _, err := platform.ParsePaths("nosuch=/x"); err == nil {
		t.Error("unknown operation accepted")
	}
}

// TestShortLivedTokenIsReused: a platform whose tokens live no longer than
// the refresh margin (5 minutes by default). Such a token was never
// "fresh", so every call obtained a new one; it is now renewed at the
// latest halfway through its life, and used until then.
func TestShortLivedTokenIsReused(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{5 * time.Minute, 2 * time.Minute} {
		clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
		sim := tracecode.New(tracecode.Options{AppID: "app1", AppSecret: "s3cret-s3cret", OrgCode: "H35020300001", TokenTTL: ttl, Seed: 7, Now: clk.Now})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		c, err := platform.New(platform.Config{BaseURL: srv.URL, AppID: "app1", AppSecret: "s3cret-s3cret", OrgCode: "H35020300001", Now: clk.Now, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{sim: sim, srv: srv, clock: clk, client: c, rec: &recorder{}}
		for i := range 3 {
			if _, err := f.upload(t, "S"+string(rune('1'+i))); err != nil {
				t.Fatal(err)
			}
		}
		if n := sim.Stats().TokensIssued; n != 1 {
			t.Errorf("ttl %s: %d tokens issued for 3 calls in a row, want 1", ttl, n)
		}
		clk.Add(ttl/2 + time.Second) // past half its life: renewed before it expires
		if _, err := f.upload(t, "S9"); err != nil {
			t.Fatal(err)
		}
		if st := sim.Stats(); st.TokensIssued != 2 || st.Refused != 0 {
			t.Errorf("ttl %s: stats %+v, want a second token and no refused call", ttl, st)
		}
	}
}

// TestTokenInStringDataRedacted: a platform that wraps its data in a JSON
// string (data: "{\"accessToken\":…}") is not understood, but the answer
// is journaled: the token in it, escaped, was not found by the redaction
// (which looked for the key "accessToken" with plain quotes) and went into
// the journal as issued.
func TestTokenInStringDataRedacted(t *testing.T) {
	t.Parallel()
	const tok = "tok-9f8e7d6c5b4a39281706"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner, _ := json.Marshal(map[string]any{"accessToken": tok, "expiresIn": 7200})
		b, _ := json.Marshal(map[string]any{"code": "0", "message": "ok", "data": string(inner)})
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	c, err := platform.New(platform.Config{BaseURL: srv.URL, AppID: "app1", AppSecret: "s3cret-s3cret", OrgCode: "H1", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if _, err := c.Token(context.Background(), rec, false); err == nil {
		t.Fatal("a token in string-wrapped data was accepted")
	}
	if len(rec.exchanges) != 1 {
		t.Fatalf("%d exchanges observed, want 1", len(rec.exchanges))
	}
	if bytes.Contains(rec.text(), []byte(tok)) {
		t.Errorf("the token leaked to the journal: %s", rec.exchanges[0].Response)
	}
}

// TestFailedRefreshIsNotRetriedByEveryCall: while the token endpoint fails
// and the cached token is still valid (inside tokenRefreshBefore), calls
// use the cached token without each asking for a new one first. Before,
// every call made (and, with a hanging endpoint, waited out) a token
// request of its own, one at a time under the client's lock.
func TestFailedRefreshIsNotRetriedByEveryCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *platform.Config) { c.RefreshBefore = 10 * time.Minute })
	if _, err := f.upload(t, "R1"); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(55 * time.Minute)
	f.sim.Fail("token", tracecode.FailHTTP500, 100)
	before := f.sim.Stats().Calls["token"]
	for i := range 5 {
		if _, err := f.upload(t, fmt.Sprintf("R2-%d", i)); err != nil {
			t.Fatalf("call %d with a token 5 minutes from expiry: %v", i, err)
		}
	}
	if n := f.sim.Stats().Calls["token"] - before; n != 1 {
		t.Fatalf("%d token requests for 5 calls while the token endpoint fails, want 1", n)
	}
	// Asked again a while later, and at the latest once the token expired.
	f.clock.Add(time.Minute)
	if _, err := f.upload(t, "R3"); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Stats().Calls["token"] - before; n != 2 {
		t.Fatalf("%d token requests a minute later, want 2", n)
	}
	f.clock.Add(5 * time.Minute) // expired
	if _, err := f.upload(t, "R4"); err == nil || !errors.Is(err, platform.ErrUnavailable) {
		t.Fatalf("call with an expired token and no new one: %v, want unavailable", err)
	}
	if n := f.sim.Stats().Calls["token"] - before; n != 3 {
		t.Fatalf("%d token requests after expiry, want 3", n)
	}
}

// TestTokenExpiresInReadDefensively: the token answer's expiresIn is the
// token's life in seconds in the reconstruction, but a platform that gives
// the expiry itself, as a Unix time in seconds or in milliseconds, had its
// token held for decades (renewed never) or, read as a life, misread; such
// a value is now used as the expiry instant, and an expiry in the past or
// more than 30 days away falls back to DefaultTokenTTL with a warning that
// names the value, never the token.
func TestTokenExpiresInReadDefensively(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	const def = 2 * time.Hour
	in90m := now.Add(90 * time.Minute)
	tests := map[string]struct {
		expiresIn string // raw JSON
		want      time.Time
		warn      string // a word the warning must hold; "" for none
	}{
		"life in seconds":                  {expiresIn: `7200`, want: now.Add(2 * time.Hour)},
		"life in seconds as a string":      {expiresIn: `"3600"`, want: now.Add(time.Hour)},
		"absent":                           {expiresIn: `null`, want: now.Add(def)},
		"Unix seconds":                     {expiresIn: fmt.Sprint(in90m.Unix()), want: in90m},
		"Unix milliseconds":                {expiresIn: fmt.Sprint(in90m.UnixMilli()), want: in90m},
		"Unix milliseconds as a string":    {expiresIn: fmt.Sprintf("%q", fmt.Sprint(in90m.UnixMilli())), want: in90m},
		"Unix seconds in the past":         {expiresIn: fmt.Sprint(now.Add(-time.Minute).Unix()), want: now.Add(def), warn: "in the past"},
		"Unix milliseconds in the past":    {expiresIn: fmt.Sprint(now.Add(-48 * time.Hour).UnixMilli()), want: now.Add(def), warn: "in the past"},
		"Unix seconds beyond 30 days":      {expiresIn: fmt.Sprint(now.Add(31 * 24 * time.Hour).Unix()), want: now.Add(def), warn: "more than"},
		"Unix milliseconds beyond 30 days": {expiresIn: fmt.Sprint(now.Add(365 * 24 * time.Hour).UnixMilli()), want: now.Add(def), warn: "more than"},
		"life beyond 30 days":              {expiresIn: fmt.Sprint(int64(40 * 24 * 3600)), want: now.Add(def), warn: "more than"},
		"life of exactly 30 days":          {expiresIn: fmt.Sprint(int64(30 * 24 * 3600)), want: now.Add(30 * 24 * time.Hour)},
		"zero":                             {expiresIn: `0`, want: now.Add(def), warn: "in the past"},
		"negative":                         {expiresIn: `-5`, want: now.Add(def), warn: "in the past"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := "tok-" + strings.ReplaceAll(name, " ", "-") + "-7f3a9c"
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"code":"0","message":"ok","data":{"accessToken":%q,"expiresIn":%s}}`, tok, tc.expiresIn)
			}))
			t.Cleanup(srv.Close)
			c, err := platform.New(platform.Config{BaseURL: srv.URL, AppID: "app1", AppSecret: "s3cret-s3cret", OrgCode: "H1",
				Timeout: 5 * time.Second, DefaultTokenTTL: def, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			info, err := c.Token(context.Background(), rec, false)
			if err != nil {
				t.Fatalf("expiresIn %s: %v", tc.expiresIn, err)
			}
			if !info.ExpiresAt.Equal(tc.want) {
				t.Errorf("expiresIn %s: token expires at %s, want %s", tc.expiresIn, info.ExpiresAt.UTC(), tc.want.UTC())
			}
			if len(rec.tokens) != 1 {
				t.Fatalf("%d token events, want 1", len(rec.tokens))
			}
			w := rec.tokens[0].Warning
			switch {
			case tc.warn == "" && w != "":
				t.Errorf("expiresIn %s: unexpected warning %q", tc.expiresIn, w)
			case tc.warn != "" && (!strings.Contains(w, tc.warn) || !strings.Contains(w, strings.Trim(tc.expiresIn, `"`)) || !strings.Contains(w, "tokenDefaultTTL")):
				t.Errorf("expiresIn %s: warning %q, want one naming the value, %q and tokenDefaultTTL", tc.expiresIn, w, tc.warn)
			}
			if bytes.Contains(rec.text(), []byte(tok)) {
				t.Errorf("the token reached the observer")
			}
		})
	}
	// Not a number at all is still an answer not understood.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"code":"0","message":"ok","data":{"accessToken":"tok-x","expiresIn":"2h"}}`)
	}))
	t.Cleanup(srv.Close)
	c, err := platform.New(platform.Config{BaseURL: srv.URL, AppID: "app1", AppSecret: "s3cret-s3cret", OrgCode: "H1", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(context.Background(), &recorder{}, false); !errors.Is(err, platform.ErrProtocol) {
		t.Errorf("expiresIn \"2h\": %v, want ErrProtocol", err)
	}
}
