package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// fakeStore serves messages and exchanges from memory.
type fakeStore struct {
	store.Store
	msgs []store.Message
	xs   []store.Exchange
	// fail, when set, gives the error of the methods below (nil: none).
	fail func() error
}

func (f *fakeStore) ListMessages(_ context.Context, site, _, _ string, limit int) ([]store.Message, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	ms := f.msgs
	if site != "" {
		ms = slices.DeleteFunc(slices.Clone(ms), func(m store.Message) bool { return m.Site != site })
	}
	if limit > 0 && len(ms) > limit {
		return ms[:limit], nil
	}
	return ms, nil
}

func (f *fakeStore) failed() error {
	if f.fail == nil {
		return nil
	}
	return f.fail()
}

func (f *fakeStore) GetMessage(_ context.Context, id string) (*store.Message, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	for _, m := range f.msgs {
		if m.ID == id {
			return &m, nil
		}
	}
	return nil, store.ErrNotFound
}

func (f *fakeStore) ListExchanges(_ context.Context, fl store.ExchangeFilter) ([]store.Exchange, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	var out []store.Exchange
	for _, x := range f.xs {
		if x.MessageID == fl.MessageID {
			out = append(out, x)
		}
	}
	return out, nil
}

// fakeBackend records every message and answers with handlers by type.
type fakeBackend struct {
	mu        sync.Mutex
	plugins   []Plugin
	jobs      []scheduler.Status
	triggered []string
	replayed  []string
	sent      []message.Envelope
	keys      []string
	handlers  map[string]func(payload json.RawMessage) *message.Reply
	block     chan struct{}
	finished  int           // messages that were processed to the end
	failJob   error         // what TriggerJob answers, when set
	jobRun    scheduler.Run // the run's record TriggerJob returns
	failWith  error         // what Process answers, when set
	replayErr error         // what Replay answers, when set
	st        *fakeStore
}

func (f *fakeBackend) Process(ctx context.Context, in pipeline.Input) (*message.Reply, error) {
	var env message.Envelope
	if err := json.Unmarshal(in.Value, &env); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.sent = append(f.sent, env)
	f.keys = append(f.keys, in.Key)
	h := f.handlers[env.Type]
	block := f.block
	failWith := f.failWith
	f.mu.Unlock()
	if failWith != nil {
		return nil, failWith
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	f.finished++
	f.mu.Unlock()
	if h == nil {
		return &message.Reply{RequestID: env.ID, Status: "invalid", Errors: []message.ReplyError{{Field: "$.type", Rule: "unknown", Message: "no handler"}}}, nil
	}
	r := h(env.Payload)
	r.RequestID, r.Site, r.Type = env.ID, env.Site, env.Type
	return r, nil
}

// Replay refuses every message but a failed one, as the store does.
func (f *fakeBackend) Replay(ctx context.Context, id string) error {
	f.mu.Lock()
	replayErr := f.replayErr
	f.mu.Unlock()
	if replayErr != nil {
		return replayErr
	}
	m, err := f.st.GetMessage(ctx, id)
	if err != nil {
		return err
	}
	if m.Outcome != "failed" {
		return fmt.Errorf("reopen message %q: %w: only failed messages can be replayed", id, store.ErrConflict)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replayed = append(f.replayed, id)
	return nil
}

func (f *fakeBackend) Plugins() []Plugin        { return f.plugins }
func (f *fakeBackend) Jobs() []scheduler.Status { return f.jobs }
func (f *fakeBackend) Store() store.Store       { return f.st }
func (f *fakeBackend) TriggerJob(_ context.Context, id string) (scheduler.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "nope/s1/none" {
		return scheduler.Run{Job: id}, scheduler.ErrUnknownJob
	}
	if f.failJob != nil {
		return f.jobRun, f.failJob
	}
	f.triggered = append(f.triggered, id)
	return f.jobRun, nil
}

// last returns the last message of a type.
func (f *fakeBackend) last(typ string) (message.Envelope, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.sent) - 1; i >= 0; i-- {
		if f.sent[i].Type == typ {
			return f.sent[i], true
		}
	}
	return message.Envelope{}, false
}

func (f *fakeBackend) count(typ string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.sent {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func okReply(v any) *message.Reply {
	b, _ := json.Marshal(v)
	return &message.Reply{Status: "ok", Payload: b}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testToken = "s3cret-admin-token-0123456789"

// draftJSON is a draft as tracecode.draft.get returns it.
func draftJSON(status string) map[string]any {
	return map[string]any{"id": "SUP-001", "status": status, "version": 3, "supplierBillNo": "SUP-001", "supplierName": "厦门示例医药有限公司",
		"billTime": "2026-11-26 09:30:00", "createdAt": "2026-11-26T01:30:00Z",
		"lines": []any{map[string]any{"lineNo": 1, "itemCode": "YP0001", "itemName": "阿莫西林胶囊", "batchNo": "B2609", "expiryDate": "2028-09-14",
			"qty": "2", "unit": "盒", "codes": []string{"81000010000000771234", "81000010000000772345"}}},
		"adjustments": []any{map[string]any{"at": "2026-11-26T02:00:00Z", "by": "pharm01 王药师", "op": "setQty", "lineNo": 1, "field": "qty", "from": "3", "to": "2", "reason": "清点"}},
	}
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type fixture struct {
	t     *testing.T
	b     *fakeBackend
	c     *Console
	srv   *httptest.Server
	clock *clock
	pngB  []byte
	dir   string
	art   *artifact.Store
	// st keeps the users and the audit log.
	st      *store.SQLite
	users   *access.Users
	lockout *access.Lockout
}

// testParams make argon2id cheap in tests.
var testParams = access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}

// The views the fixture's plugins declare, as the shipped plugins do.
var (
	printForm = sdk.Form{Name: "print", Title: "电子卡打印 E-card print", Operation: "ecard.qrcode", Key: "cardNo",
		Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}, {Name: "validity", Type: sdk.SettingDuration, Default: "72h"}},
		Fixed:  map[string]any{"printLabel": true},
		Result: sdk.Display{Images: []sdk.Column{{Field: "png", Title: "QR"}, {Field: "labelPng", Title: "label"}}, Lines: "label.lines", Printable: true}}
	recentCards = sdk.WorkListView{List: "recent-cards", Columns: []sdk.Column{{Field: "cardNo", Title: "卡号 cardNo", Form: "print"}, {Field: "name", Title: "姓名 name"},
		{Field: "idNumber", Title: "证件号 idNumber"}, {Field: "phone", Title: "手机号 phone"}},
		Actions: []sdk.Action{{Name: "revoke", Label: "注销 Revoke", Operation: "ecard.revoke", Row: map[string]string{"cardNo": "cardNo"}, Operator: "by", Confirm: "注销这张卡?"}}}
	exportForm = sdk.Form{Name: "export", Title: "追溯码导出 Export", Operation: "tracecode.export",
		Fields: []sdk.Argument{{Name: "from", Type: sdk.SettingString, Required: true}, {Name: "to", Type: sdk.SettingString},
			{Name: "sheets", Type: sdk.ArgumentList}, {Name: "source", Type: sdk.SettingString, Enum: []string{"upload", "platform"}}},
		Result: sdk.Display{Fields: []sdk.Column{{Field: "rows", Title: "行数 rows"}}, File: &sdk.FileResult{ArtifactField: "artifact"}}}
	codesField = sdk.Argument{Name: "codes", Type: sdk.ArgumentList, Required: true}
	draftDoc   = sdk.DocumentView{Name: "draft", Title: "入库单审核 Drafts", List: "draft-receipts", ItemField: "id",
		Get: "tracecode.draft.get", IDField: "draftId", Version: "version", VersionField: "expectedVersion", Operator: "by",
		Editable: &sdk.Condition{Field: "status", Equals: "open"}, Status: "status",
		Header: []sdk.Column{{Field: "supplierName", Title: "供货单位 supplier"}, {Field: "receiptNo", Title: "采购入库单号 receipt"}},
		Lines:  "lines", LineKey: "lineNo", LineTitle: "itemName",
		LineColumns: []sdk.Column{{Field: "itemCode", Title: "院内编码 itemCode"}, {Field: "qty", Title: "数量 qty"}},
		LineItems:   &sdk.Column{Field: "codes", Title: "追溯码 codes"},
		Adjust: sdk.DocumentAdjust{Operation: "tracecode.draft.adjust", Changes: "changes", Kind: "op",
			Shared: []sdk.Argument{{Name: "reason", Type: sdk.SettingString}}},
		Edits: []sdk.Edit{
			{Name: "setQty", Label: "Quantity", PerLine: true, Prefill: true, Fields: []sdk.Argument{{Name: "qty", Type: sdk.ArgumentNumber, Required: true}}},
			{Name: "setField", Label: "Field", PerLine: true, Fields: []sdk.Argument{{Name: "field", Type: sdk.SettingString, Required: true, Enum: []string{"itemCode", "batchNo"}},
				{Name: "value", Type: sdk.SettingString}}},
			{Name: "addCodes", Label: "Add codes", PerLine: true, Fields: []sdk.Argument{codesField}},
			{Name: "removeCodes", Label: "Remove codes", PerLine: true, Pick: "codes", Fields: []sdk.Argument{codesField}},
			{Name: "removeLine", Label: "Remove line", PerLine: true, Danger: true, Confirm: "Remove this line?"},
			{Name: "addLine", Label: "Add a line", Into: "line", Fields: []sdk.Argument{{Name: "itemCode", Type: sdk.SettingString, Required: true},
				{Name: "itemName", Type: sdk.SettingString, Required: true}, {Name: "spec", Type: sdk.SettingString}, {Name: "batchNo", Type: sdk.SettingString, Required: true},
				{Name: "expiryDate", Type: sdk.SettingString, Required: true}, {Name: "qty", Type: sdk.SettingString, Required: true},
				{Name: "unit", Type: sdk.SettingString}, {Name: "codes", Type: sdk.ArgumentList}}},
		},
		Confirm: &sdk.DocumentConfirm{Label: "确认 Confirm", Operation: "tracecode.draft.confirm", Question: "Confirm?",
			Result: sdk.Display{Fields: []sdk.Column{{Field: "receiptNo", Title: "采购入库单号 (receipt)"}}}},
		History: &sdk.Display{Rows: "adjustments", Columns: []sdk.Column{{Field: "at", Title: "when"}, {Field: "by", Title: "who"}, {Field: "op", Title: "op"},
			{Field: "reason", Title: "reason"}}},
	}
)

func newFixture(t *testing.T, token string, opts ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}, pngB: testPNG(t), dir: t.TempDir()}
	now := f.clock.t
	f.b = &fakeBackend{
		plugins: []Plugin{
			{Name: "ecard", Version: "1.0.0", Running: true, Sites: []string{"s1"}, Operations: []string{"ecard.qrcode"},
				WorkLists: []sdk.WorkList{{Name: "recent-cards", Title: "Recent e-card registrations", ListOperation: "ecard.cards.list"}},
				Views:     sdk.Views{Forms: []sdk.Form{printForm}, WorkListViews: []sdk.WorkListView{recentCards}}},
			{Name: "tracecode", Version: "0.9.0", Running: false, Restarts: 2, LastError: "exit status 2", Sites: []string{"s1", "s2"},
				WorkLists: []sdk.WorkList{{Name: "draft-receipts", Title: "待审核入库单 (draft receipts)", ListOperation: "tracecode.drafts.list"}},
				Views:     sdk.Views{Forms: []sdk.Form{exportForm}, Documents: []sdk.DocumentView{draftDoc}}},
		},
		jobs: []scheduler.Status{{ID: "tracecode/s1/stockin-sync", Interval: "1h0m0s", NextRun: now.Add(time.Hour), Owner: true}},
		st: &fakeStore{
			msgs: []store.Message{
				{ID: "console-list-aaa", Site: "s1", Type: "ecard.cards.list", Status: "done", Outcome: "ok", ReceivedAt: now},
				{ID: "his-42", Site: "s1", Type: "ecard.scan", Status: "done", Outcome: "ok", Attempts: 1, ReceivedAt: now,
					Reply: []byte(`{"status":"ok","payload":{"name":"张三丰","idNumber":"11010519491231002X","phone":"13812345678","note":"call 13812345678"}}`)},
			},
			xs: []store.Exchange{{MessageID: "his-42", System: "ecard", Code: "register", Status: "ok", Request: []byte(`{"name":"张三丰"}`), Response: []byte("plain 11010519491231002X")}},
		},
		handlers: map[string]func(json.RawMessage) *message.Reply{
			"ecard.cards.list": func(json.RawMessage) *message.Reply {
				return okReply(map[string]any{"items": []any{map[string]any{"cardNo": "880100000000013", "name": "张*丰", "idNumber": "110***********002X",
					"phone": "138****5678", "status": "active", "registeredAt": "2026-11-26T12:00:00Z"}}})
			},
			"tracecode.drafts.list": func(json.RawMessage) *message.Reply {
				return okReply(map[string]any{"items": []any{map[string]any{"id": "SUP-001", "status": "open", "version": 3, "supplierName": "厦门示例医药有限公司", "lines": 1, "codes": 2}}})
			},
			"tracecode.draft.get": func(json.RawMessage) *message.Reply { return okReply(draftJSON("open")) },
			"tracecode.draft.adjust": func(p json.RawMessage) *message.Reply {
				var a struct {
					DraftID string `json:"draftId"`
					Changes []struct {
						Op    string   `json:"op"`
						Codes []string `json:"codes"`
					} `json:"changes"`
				}
				_ = json.Unmarshal(p, &a)
				if len(a.Changes) == 1 && a.Changes[0].Op == "removeCodes" && a.Changes[0].Codes[0] == "81000099999999999999" {
					return &message.Reply{Status: "invalid", Errors: []message.ReplyError{{Field: "$.changes[0].codes[0]", Rule: "precondition", Message: "code 81000099999999999999 is not on line 1"}}}
				}
				return okReply(map[string]any{"draftId": a.DraftID, "version": 4, "applied": 1})
			},
			"ecard.qrcode": func(p json.RawMessage) *message.Reply {
				var q struct{ CardNo string }
				_ = json.Unmarshal(p, &q)
				if q.CardNo != "880100000000013" {
					return &message.Reply{Status: "invalid", Errors: []message.ReplyError{{Field: "$.cardNo", Rule: "unknown-card", Message: "card " + q.CardNo + " is unknown"}}}
				}
				return okReply(map[string]any{"cardNo": q.CardNo, "text": "MGE1SECRETTEXT", "expiresAt": "2026-11-29T12:00:00Z", "png": f.pngB, "labelPng": f.pngB,
					"label": map[string]any{"cardNo": q.CardNo, "name": "张*丰", "expires": "2026-11-29 20:00", "validUntil": "有效期至 2026-11-29 20:00",
						"validUntilAscii": "VALID UNTIL 2026-11-29 20:00", "lines": []string{q.CardNo, "张*丰", "有效期至 2026-11-29 20:00"}}})
			},
		},
	}
	confirmed := false
	var mu sync.Mutex
	f.b.handlers["tracecode.draft.confirm"] = func(json.RawMessage) *message.Reply {
		mu.Lock()
		defer mu.Unlock()
		if confirmed {
			return &message.Reply{Status: "invalid", Errors: []message.ReplyError{{Field: "$.draftId", Rule: "state",
				Message: "draft SUP-001 was already confirmed by 李主管 at 2026-11-26 10:00:00 as receipt CG20261126000001: a draft is confirmed once; nothing was published again"}}}
		}
		confirmed = true
		return okReply(map[string]any{"draftId": "SUP-001", "receiptNo": "CG20261126000001"})
	}
	art, err := artifact.New(filepath.Join(f.dir, "artifacts"), 0)
	if err != nil {
		t.Fatal(err)
	}
	f.art = art
	f.st, err = store.OpenSQLite(t.Context(), filepath.Join(f.dir, "access.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.b.st.Store = f.st // what the fake does not answer itself (users, the audit log)
	f.users = access.NewUsers(f.st, testParams)
	f.lockout = access.NewLockout(3, 10*time.Minute, f.clock.now)
	o := Options{AdminToken: token, Wait: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.now, Artifacts: art,
		Users: f.users, Audit: audit.New(f.st, nil), Lockout: f.lockout}
	for _, opt := range opts {
		opt(&o)
	}
	c, err := New(f.b, o)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	f.srv = httptest.NewServer(c)
	t.Cleanup(f.srv.Close)
	return f
}

// client is a browser: a cookie jar, no redirect following.
type client struct {
	t    *testing.T
	f    *fixture
	http *http.Client
	csrf string
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, f: f, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	code int
	body string
	h    http.Header
}

func (c *client) do(req *http.Request) resp {
	c.t.Helper()
	r, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if m := csrfRE.FindStringSubmatch(string(b)); m != nil {
		c.csrf = m[1]
	}
	return resp{code: r.StatusCode, body: string(b), h: r.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (c *client) get(path string) resp {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.f.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form as Chrome does from the console's own page
// (Sec-Fetch-Site, Origin, Referer under Referrer-Policy: same-origin);
// header pairs replace those headers, an empty value removes one.
func (c *client) post(path string, form url.Values, header ...string) resp {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Origin", c.f.srv.URL)
	req.Header.Set("Referer", c.f.srv.URL+path)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	return c.do(req)
}

// login signs in and loads the overview (for the CSRF token).
func (c *client) login(operator string) {
	c.t.Helper()
	r := c.post("/console/login", url.Values{"user": {operator}, "password": {testToken}})
	if r.code != http.StatusSeeOther {
		c.t.Fatalf("login: %d %s", r.code, r.body)
	}
	if r := c.get("/console/"); r.code != 200 || c.csrf == "" {
		c.t.Fatalf("overview after login: %d", r.code)
	}
}

// action posts a form with the session's CSRF token and follows the redirect.
func (c *client) action(path string, form url.Values) resp {
	c.t.Helper()
	form.Set("csrf", c.csrf)
	r := c.post(path, form)
	if r.code != http.StatusSeeOther {
		return r
	}
	return c.get(r.h.Get("Location"))
}

func TestLoginSessionCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	cases := []struct {
		name string
		run  func(t *testing.T, c *client)
	}{
		{"pages need a session", func(t *testing.T, c *client) {
			r := c.get("/console/worklists")
			if r.code != http.StatusSeeOther || r.h.Get("Location") != "/console/login?next=%2Fconsole%2Fworklists" {
				t.Fatalf("got %d %q", r.code, r.h.Get("Location"))
			}
			if r := c.post("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}}); r.code != http.StatusForbidden {
				t.Fatalf("POST without session: %d", r.code)
			}
		}},
		{"login page asks for token and operator", func(t *testing.T, c *client) {
			r := c.get("/console/login")
			if r.code != 200 || !strings.Contains(r.body, `name="password"`) || !strings.Contains(r.body, `name="user"`) {
				t.Fatalf("login page: %d %s", r.code, r.body)
			}
			if csp := r.h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || r.h.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("security headers: %v", r.h)
			}
		}},
		{"wrong token refused", func(t *testing.T, c *client) {
			r := c.post("/console/login", url.Values{"user": {"王药师"}, "password": {"wrong"}})
			if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "wrong user name or password") || r.h.Get("Set-Cookie") != "" {
				t.Fatalf("got %d cookie %q", r.code, r.h.Get("Set-Cookie"))
			}
		}},
		{"user name required", func(t *testing.T, c *client) {
			r := c.post("/console/login", url.Values{"user": {"  "}, "password": {testToken}})
			if r.code != http.StatusBadRequest || !strings.Contains(r.body, "enter your user name") {
				t.Fatalf("got %d", r.code)
			}
		}},
		{"cookie is a random session id, HttpOnly, SameSite=Strict", func(t *testing.T, c *client) {
			r := c.post("/console/login", url.Values{"user": {"王药师"}, "password": {testToken}, "next": {"/console/worklists"}})
			ck := r.h.Get("Set-Cookie")
			if r.code != http.StatusSeeOther || r.h.Get("Location") != "/console/worklists" {
				t.Fatalf("got %d %q", r.code, r.h.Get("Location"))
			}
			if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || !strings.Contains(ck, "Path=/console/") || strings.Contains(ck, testToken) {
				t.Fatalf("cookie %q", ck)
			}
			if r := c.get("/console/"); r.code != 200 || !strings.Contains(r.body, "王药师") {
				t.Fatalf("overview: %d", r.code)
			}
		}},
		{"sign-in origin check with real browser header sets", func(t *testing.T, c *client) {
			form := url.Values{"user": {"王药师"}, "password": {testToken}}
			for _, tc := range []struct {
				name    string
				headers []string
				want    int
			}{
				{"chrome cross-site", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example", "Referer", ""}, http.StatusForbidden},
				{"chrome same-site", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://a.example", "Referer", ""}, http.StatusForbidden},
				{"no headers at all", []string{"Sec-Fetch-Site", "", "Origin", "", "Referer", ""}, http.StatusForbidden},
				{"Origin null only", []string{"Sec-Fetch-Site", "", "Origin", "null", "Referer", ""}, http.StatusForbidden},
				{"foreign Origin only", []string{"Sec-Fetch-Site", "", "Referer", "", "Origin", "http://10.9.9.9:1"}, http.StatusForbidden},
				{"foreign Referer only", []string{"Sec-Fetch-Site", "", "Origin", "", "Referer", "https://evil.example/x"}, http.StatusForbidden},
				{"old browser: Origin only", []string{"Sec-Fetch-Site", "", "Referer", ""}, http.StatusSeeOther},
				{"old browser: Referer only", []string{"Sec-Fetch-Site", "", "Origin", ""}, http.StatusSeeOther},
				{"chrome same-origin, Origin null (no-referrer page)", []string{"Origin", "null", "Referer", ""}, http.StatusSeeOther},
				{"chrome same-origin", nil, http.StatusSeeOther},
			} {
				if r := c.post("/console/login", form, tc.headers...); r.code != tc.want {
					t.Errorf("%s: %d, want %d: %s", tc.name, r.code, tc.want, r.body)
				} else if tc.want == http.StatusForbidden && !strings.Contains(r.body, "cross-site request refused") {
					t.Errorf("%s: refusal does not say why: %s", tc.name, r.body)
				}
			}
			if r := c.get("/console/login"); r.h.Get("Referrer-Policy") != "same-origin" {
				t.Fatalf("Referrer-Policy %q, want same-origin (so browsers send Referer and a real Origin)", r.h.Get("Referrer-Policy"))
			}
		}},
		{"open redirect refused", func(t *testing.T, c *client) {
			r := c.post("/console/login", url.Values{"user": {"x"}, "password": {testToken}, "next": {"//evil.example/"}})
			if r.h.Get("Location") != "/console/" {
				t.Fatalf("redirected to %q", r.h.Get("Location"))
			}
		}},
		{"POST needs the session's CSRF token", func(t *testing.T, c *client) {
			c.login("王药师")
			if r := c.post("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}}); r.code != http.StatusForbidden || !strings.Contains(r.body, "form expired") {
				t.Fatalf("no csrf: %d", r.code)
			}
			if r := c.post("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}, "csrf": {strings.Repeat("0", 64)}}); r.code != http.StatusForbidden {
				t.Fatalf("wrong csrf: %d", r.code)
			}
			if r := c.post("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}, "csrf": {c.csrf}},
				"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example", "Referer", ""); r.code != http.StatusForbidden {
				t.Fatalf("cross-origin: %d", r.code)
			}
			r := c.action("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}})
			if r.code != 200 || !strings.Contains(r.body, "job ran") {
				t.Fatalf("run job: %d %s", r.code, r.body)
			}
			f.b.mu.Lock()
			defer f.b.mu.Unlock()
			if len(f.b.triggered) != 1 || f.b.triggered[0] != "tracecode/s1/stockin-sync" {
				t.Fatalf("triggered %v", f.b.triggered)
			}
		}},
		{"unknown job says how to fix", func(t *testing.T, c *client) {
			c.login("a")
			r := c.action("/console/jobs/run", url.Values{"job": {"nope/s1/none"}})
			if !strings.Contains(r.body, "job did not run") || !strings.Contains(r.body, "reload the overview") {
				t.Fatalf("body %s", r.body)
			}
		}},
		{"logout ends the session", func(t *testing.T, c *client) {
			c.login("a")
			if r := c.action("/console/logout", url.Values{}); r.code != 200 || !strings.Contains(r.body, `name="password"`) {
				t.Fatalf("logout: %d", r.code)
			}
			if r := c.get("/console/"); r.code != http.StatusSeeOther {
				t.Fatalf("after logout: %d", r.code)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, f.client()) })
	}
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	c.login("a")
	f.clock.add(29 * time.Minute)
	if r := c.get("/console/"); r.code != http.StatusOK {
		t.Fatalf("session ended before 30 idle minutes: %d", r.code)
	}
	f.clock.add(30*time.Minute + time.Second)
	if r := c.get("/console/"); r.code != http.StatusSeeOther {
		t.Fatalf("idle session still valid: %d", r.code)
	}
	c.login("a")
	for range 12 * 4 {
		f.clock.add(15 * time.Minute)
		if r := c.get("/console/"); r.code != http.StatusOK {
			break
		}
	}
	if r := c.get("/console/"); r.code != http.StatusSeeOther {
		t.Fatalf("session kept busy is still valid after 12 hours: %d", r.code)
	}
}

func TestOpenConsoleStillAsksForOperator(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	c := f.client()
	r := c.get("/console/login")
	if strings.Contains(r.body, `name="password"`) || !strings.Contains(r.body, "No users and no admin token are configured") {
		t.Fatalf("open login page: %s", r.body)
	}
	if r := c.get("/console/"); r.code != http.StatusSeeOther {
		t.Fatalf("open console without a name: %d", r.code)
	}
	if r := c.post("/console/login", url.Values{"user": {"收费员 01"}}); r.code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	if r := c.get("/console/"); r.code != 200 || !strings.Contains(r.body, "收费员 01") {
		t.Fatalf("overview: %d", r.code)
	}
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	c.login("王药师")
	cases := []struct {
		path string
		want []string
		not  []string
	}{
		{"/console/", []string{"ecard", "1.0.0", "exit status 2", "tracecode/s1/stockin-sync", "Run now", "his-42", "/console/message?id=his-42", "ecard, tracecode"},
			[]string{"console-list-aaa"}},
		{"/console/?all=1", []string{"console-list-aaa"}, nil},
		{"/console/message?id=his-42", []string{"张**", "110***********002X", "138****5678", "call 138****5678", "plain 110***********002X", "register"},
			[]string{"张三丰", "11010519491231002X", "13812345678"}},
		{"/console/message?id=nope", []string{"no such message", "overview"}, nil},
		{"/console/worklists", []string{"Recent e-card registrations", "卡号 cardNo", "880100000000013", "张*丰", "138****5678",
			"/console/form/ecard/print?cardNo=880100000000013&amp;site=s1", `name="row.cardNo" value="&#34;880100000000013&#34;"`, `data-confirm="注销这张卡?"`, "待审核入库单", "SUP-001", "/console/document/tracecode/draft?id=SUP-001&amp;site=s2", "供货单位"}, nil},
		{"/console/worklists?plugin=tracecode&list=draft-receipts", []string{"SUP-001", "site <b>s1</b>", "site <b>s2</b>"}, []string{"Recent e-card"}},
		{"/console/document/tracecode/draft?site=s1&id=SUP-001", []string{"阿莫西林胶囊", "81000010000000772345", "pharm01 王药师", "清点", `value="setQty"`, `value="removeLine"`,
			`value="addCodes"`, `value="removeCodes"`, `value="addLine"`, "/console/document/tracecode/draft/confirm", `name="version" value="3"`,
			`name="qty" value="2"`, `<option value="batchNo">`, `type="checkbox" name="codes" value="81000010000000771234"`, "厦门示例医药有限公司"}, nil},
		{"/console/document/tracecode/draft?site=elsewhere&id=SUP-001", []string{"plugin not enabled", "s1, s2"}, nil},
		{"/console/document/tracecode/nosuch?site=s1&id=SUP-001", []string{"no such document page"}, nil},
		{"/console/form/tracecode/export", []string{`name="from"`, `name="to"`, `<option value="s2">`, `<option value="platform">`}, nil},
		{"/console/form/ecard/print?site=s1&cardNo=880100000000013", []string{`value="880100000000013"`, `value="72h"`,
			`href="/console/form/ecard/print" class="on"`, `href="/console/form/tracecode/export"`, `href="/console/worklists?list=draft-receipts&amp;plugin=tracecode"`}, nil},
		{"/console/form/ecard/nosuch", []string{"no such form"}, nil},
		{"/console/static/console.css", []string{"@media print"}, nil},
		{"/console/static/console.js", []string{"window.print()"}, nil},
		{"/console/nowhere", []string{"page not found"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := c.get(tc.path)
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("%s: missing %q (HTTP %d)\n%s", tc.path, w, r.code, r.body)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(r.body, w) {
					t.Errorf("%s: must not contain %q", tc.path, w)
				}
			}
		})
	}
	// Work lists are read with fresh read-only message ids.
	e, _ := f.b.last("ecard.cards.list")
	if !strings.HasPrefix(e.ID, "console-list-") || e.Site != "s1" || string(e.Payload) != "{}" {
		t.Fatalf("work-list message %+v", e)
	}
}

func TestDraftActionsSendOperations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	c.login("pharm01 王药师")
	base := func(op string, kv ...string) url.Values {
		v := url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}, "edit": {op}, "line": {"1"}, "reason": {"清点"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name   string
		form   url.Values
		change string // the one change expected in the payload; "" when nothing may be sent
		want   string
	}{
		{"setQty", base("setQty", "qty", "48"), `{"op":"setQty","lineNo":1,"qty":48}`, "saved"},
		{"setField", base("setField", "field", "itemCode", "value", "YP0009"), `{"op":"setField","lineNo":1,"field":"itemCode","value":"YP0009"}`, "saved"},
		{"addCodes", base("addCodes", "codes", "81000010000000779999\r\n81000010000000778888, 81000010000000777777"),
			`{"op":"addCodes","lineNo":1,"codes":["81000010000000779999","81000010000000778888","81000010000000777777"]}`, "saved"},
		{"removeCodes", base("removeCodes", "codes", "81000010000000771234", "codes", "81000010000000772345"),
			`{"op":"removeCodes","lineNo":1,"codes":["81000010000000771234","81000010000000772345"]}`, "saved"},
		{"removeLine", base("removeLine"), `{"op":"removeLine","lineNo":1}`, "saved"},
		{"addLine", url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}, "edit": {"addLine"}, "itemCode": {"YP0002"}, "itemName": {"布洛芬"},
			"batchNo": {"B1"}, "expiryDate": {"2028-01-31"}, "qty": {"10"}, "unit": {"盒"}, "codes": {"81000020000000773456"}},
			`{"op":"addLine","line":{"itemCode":"YP0002","itemName":"布洛芬","batchNo":"B1","expiryDate":"2028-01-31","qty":"10","unit":"盒","codes":["81000020000000773456"]}}`, "saved"},
		{"plugin refusal shown with its field", base("removeCodes", "codes", "81000099999999999999"),
			`{"op":"removeCodes","lineNo":1,"codes":["81000099999999999999"]}`, "$.changes[0].codes[0]"},
		{"bad quantity is not sent", base("setQty", "qty", "4x"), "", "is not a number"},
		{"unknown op is not sent", base("explode"), "", "is not known"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.b.count("tracecode.draft.adjust")
			r := c.action("/console/document/tracecode/draft/adjust", tc.form)
			if !strings.Contains(r.body, tc.want) {
				t.Fatalf("page lacks %q:\n%s", tc.want, r.body)
			}
			if tc.change == "" {
				if f.b.count("tracecode.draft.adjust") != before {
					t.Fatal("a message was sent")
				}
				return
			}
			e, _ := f.b.last("tracecode.draft.adjust")
			var p struct {
				DraftID         string            `json:"draftId"`
				By              string            `json:"by"`
				ExpectedVersion int64             `json:"expectedVersion"`
				Reason          string            `json:"reason"`
				Changes         []json.RawMessage `json:"changes"`
			}
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.DraftID != "SUP-001" || p.By != "pharm01 王药师" || p.ExpectedVersion != 3 || e.Site != "s1" || len(p.Changes) != 1 || !strings.HasPrefix(e.ID, "console-") {
				t.Fatalf("payload %s (id %s)", e.Payload, e.ID)
			}
			if got := string(p.Changes[0]); got != tc.change {
				t.Fatalf("change\n got %s\nwant %s", got, tc.change)
			}
		})
	}
	// Confirm: once ok, the second time the plugin's refusal is shown.
	r := c.action("/console/document/tracecode/draft/confirm", url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}})
	if !strings.Contains(r.body, "confirmed") || !strings.Contains(r.body, "CG20261126000001") {
		t.Fatalf("confirm: %s", r.body)
	}
	e, _ := f.b.last("tracecode.draft.confirm")
	if string(e.Payload) != `{"draftId":"SUP-001","by":"pharm01 王药师","expectedVersion":3}` {
		t.Fatalf("confirm payload %s", e.Payload)
	}
	r = c.action("/console/document/tracecode/draft/confirm", url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}})
	if !strings.Contains(r.body, "already confirmed by 李主管") || !strings.Contains(r.body, "state") {
		t.Fatalf("second confirm: %s", r.body)
	}
	// A site where tracecode is not enabled is refused before anything is sent.
	n := f.b.count("tracecode.draft.confirm")
	if r := c.action("/console/document/tracecode/draft/confirm", url.Values{"site": {"s9"}, "id": {"SUP-001"}}); r.code != http.StatusNotFound || f.b.count("tracecode.draft.confirm") != n {
		t.Fatalf("unknown site: %d", r.code)
	}
}

func TestConfirmedDraftHasNoForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.handlers["tracecode.draft.get"] = func(json.RawMessage) *message.Reply {
		d := draftJSON("confirmed")
		d["receiptNo"], d["confirmedBy"], d["confirmedAt"] = "CG20261126000001", "李主管", "2026-11-26T02:00:00Z"
		return okReply(d)
	}
	c := f.client()
	c.login("a")
	r := c.get("/console/document/tracecode/draft?site=s1&id=SUP-001")
	if !strings.Contains(r.body, "CG20261126000001") || strings.Contains(r.body, "/console/document/tracecode/draft/adjust") || strings.Contains(r.body, "draft/confirm") {
		t.Fatalf("confirmed draft page:\n%s", r.body)
	}
}

func TestExportDownload(t *testing.T) {
	t.Parallel()
	// The session outlives the link here (links last an hour).
	f := newFixture(t, testToken, func(o *Options) { o.SessionIdle = 2 * time.Hour })
	content := []byte("PK\x03\x04 pretend workbook")
	name := "tracecode-s1-20261126-20261126-x.xlsx"
	stored, err := f.art.Put("tracecode", "s1", name, "", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(f.dir, "artifacts", stored.ID)
	sum := sha256.Sum256(content)
	f.b.handlers["tracecode.export"] = func(p json.RawMessage) *message.Reply {
		return okReply(map[string]any{"artifact": stored.ID, "rows": map[string]int{"codes": 2}})
	}
	c := f.client()
	c.login("a")
	form := url.Values{"site": {"s1"}, "from": {"2026-11-26"}, "to": {"2026-11-26"}, "csrf": {c.csrf}}
	r := c.post("/console/form/tracecode/export", form)
	if r.code != 200 || !strings.Contains(r.body, hex.EncodeToString(sum[:])) || !strings.Contains(r.body, name) {
		t.Fatalf("export page: %d %s", r.code, r.body)
	}
	e, _ := f.b.last("tracecode.export")
	if string(e.Payload) != `{"from":"2026-11-26","to":"2026-11-26"}` || e.Site != "s1" {
		t.Fatalf("export message %+v", e)
	}
	m := regexp.MustCompile(`/console/download/([0-9a-f]+)`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no download link")
	}
	link := m[0]
	// The link works only in the session that got the reply.
	elsewhere := f.client()
	elsewhere.login("b")
	if r := elsewhere.get(link); r.code != http.StatusNotFound || strings.Contains(r.body, string(content)) {
		t.Fatalf("another session's download: %d %s", r.code, r.body)
	}
	cases := []struct {
		name   string
		path   string
		before func()
		code   int
		body   string
	}{
		{"unknown token", "/console/download/" + strings.Repeat("a", 48), nil, http.StatusNotFound, "download link unknown or expired"},
		{"path is not a token", "/console/download/..%2f..%2fetc%2fpasswd", nil, http.StatusNotFound, "unknown or expired"},
		{"served", link, nil, 200, string(content)},
		{"tampered file", link, func() { _ = os.WriteFile(path, []byte("PK\x03\x04 changed!"), 0o640) }, http.StatusConflict, "file changed"},
		{"restored file", link, func() { _ = os.WriteFile(path, content, 0o640) }, 200, string(content)},
		{"expired", link, func() { f.clock.add(time.Hour + time.Second) }, http.StatusNotFound, "expired"},
	}
	for _, tc := range cases {
		if tc.before != nil {
			tc.before()
		}
		r := c.get(tc.path)
		if r.code != tc.code || !strings.Contains(r.body, tc.body) {
			t.Fatalf("%s: %d %s", tc.name, r.code, r.body)
		}
		if tc.code == 200 && (r.h.Get("Content-Disposition") != `attachment; filename=`+name || !strings.Contains(r.h.Get("Content-Type"), "spreadsheetml")) {
			t.Fatalf("%s: headers %v", tc.name, r.h)
		}
	}
	// Another user's session cannot use the console without signing in.
	if r := f.client().get(link); r.code != http.StatusSeeOther {
		t.Fatalf("download without session: %d", r.code)
	}
	// A reply naming a file of another plugin, or a path, gets no link.
	other, err := f.art.Put("ecard", "s1", "label.png", "", bytes.NewReader([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{"another plugin's file": other.ID, "a path": "/etc/passwd"} {
		f.b.handlers["tracecode.export"] = func(json.RawMessage) *message.Reply { return okReply(map[string]any{"artifact": ref}) }
		if r := c.post("/console/form/tracecode/export", form); strings.Contains(r.body, "/console/download/") || !strings.Contains(r.body, "unexpected reply") {
			t.Errorf("%s: %s", name, r.body)
		}
	}
	// A refused export shows the plugin's errors.
	f.b.handlers["tracecode.export"] = func(json.RawMessage) *message.Reply {
		return &message.Reply{Status: "invalid", Errors: []message.ReplyError{{Field: "$.from", Rule: "format", Message: `from "x" is not a date: write the first day as 2006-01-02`}}}
	}
	form.Set("from", "x")
	r = c.post("/console/form/tracecode/export", form)
	if !strings.Contains(r.body, "$.from") || !strings.Contains(r.body, "write the first day") || strings.Contains(r.body, "/console/download/") {
		t.Fatalf("refused export: %s", r.body)
	}
}

func TestPrintPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	c.login("收费员 01")
	r := c.post("/console/form/ecard/print", url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "validity": {""}, "csrf": {c.csrf}})
	want := []string{`class="label-card"`, "data:image/png;base64," + base64.StdEncoding.EncodeToString(f.pngB), "880100000000013", "张*丰", "有效期至 2026-11-29 20:00",
		"data-print", "@media print"}
	css := c.get("/console/static/console.css").body
	for _, w := range want {
		if !strings.Contains(html.UnescapeString(r.body)+css, w) {
			t.Errorf("print page lacks %q", w)
		}
	}
	if strings.Contains(r.body, "MGE1SECRETTEXT") {
		t.Error("the QR text is shown as text")
	}
	e, _ := f.b.last("ecard.qrcode")
	if string(e.Payload) != `{"cardNo":"880100000000013","printLabel":true,"validity":"72h"}` {
		t.Fatalf("qrcode payload %s", e.Payload)
	}
	r = c.post("/console/form/ecard/print", url.Values{"site": {"s1"}, "cardNo": {"880100000000099"}, "validity": {"24h"}, "csrf": {c.csrf}})
	if !strings.Contains(r.body, "unknown-card") || !strings.Contains(r.body, "card 880100000000099 is unknown") || strings.Contains(r.body, "label-card") {
		t.Fatalf("unknown card: %s", r.body)
	}
	// A reply whose image is not a PNG is not put in the page.
	f.b.handlers["ecard.qrcode"] = func(json.RawMessage) *message.Reply {
		return okReply(map[string]any{"cardNo": "880100000000013", "png": []byte("<svg onload=alert(1)>")})
	}
	r = c.post("/console/form/ecard/print", url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "csrf": {c.csrf}})
	if !strings.Contains(r.body, `is not a PNG image`) || strings.Contains(r.body, "data:image") {
		t.Fatalf("bad image: %s", r.body)
	}
}

func TestSlowReplyDoesNotAbandonTheMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.c.o.Wait = 50 * time.Millisecond
	c := f.client()
	c.login("a")
	f.b.mu.Lock()
	f.b.block = make(chan struct{})
	f.b.mu.Unlock()
	r := c.get("/console/worklists")
	if !strings.Contains(r.body, "had no reply within 50ms") || !strings.Contains(r.body, "goes on in the background") {
		t.Fatalf("slow work list: %s", r.body)
	}
	// The messages are still being processed, not cancelled: released,
	// they finish although the page has been served.
	f.b.mu.Lock()
	n := f.b.finished
	close(f.b.block)
	f.b.block = nil
	f.b.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.b.mu.Lock()
		done := f.b.finished - n
		f.b.mu.Unlock()
		if done == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 work-list messages finished after the page gave up waiting", done)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.handlers["ecard.cards.list"] = func(json.RawMessage) *message.Reply {
		return okReply(map[string]any{"items": []any{map[string]any{"cardNo": `"><script>alert(1)</script>`, "name": "<b>x</b>"}}})
	}
	c := f.client()
	c.login(`<img src=x onerror=alert(1)>`)
	r := c.get("/console/worklists")
	if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<img src=x") || strings.Contains(r.body, "<b>x</b>") {
		t.Fatalf("unescaped:\n%s", r.body)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	c, err := New(&fakeBackend{st: &fakeStore{}}, Options{})
	if err != nil || c.o.Wait != 30*time.Second || c.o.DownloadTTL != time.Hour {
		t.Fatalf("defaults: %v %+v", err, c.o)
	}
	if got := safeNext("/console/message?id=1"); got != "/console/message?id=1" {
		t.Fatal(got)
	}
	for _, bad := range []string{"https://evil", "//evil", "/admin/reload", "/console/\r\nX: y"} {
		if safeNext(bad) != Prefix {
			t.Fatalf("safeNext(%q)", bad)
		}
	}
	if _, err := (&fakeBackend{}).Process(context.Background(), pipeline.Input{Value: []byte("x")}); err == nil {
		t.Fatal("fake accepted garbage")
	}
}

// TestRowAction sends a declared work-list action with the row's value and
// the signed-in operator, then shows its outcome on the list.
func TestRowAction(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.handlers["ecard.revoke"] = func(p json.RawMessage) *message.Reply {
		var q struct{ CardNo string }
		_ = json.Unmarshal(p, &q)
		if q.CardNo != "880100000000013" {
			return &message.Reply{Status: "invalid", Errors: []message.ReplyError{{Field: "$.cardNo", Rule: "unknown-card", Message: "card " + q.CardNo + " is unknown"}}}
		}
		return okReply(map[string]any{"cardNo": q.CardNo, "status": "revoked"})
	}
	c := f.client()
	c.login("收费员 01")
	action := func(card string) resp {
		return c.post("/console/action", url.Values{"plugin": {"ecard"}, "list": {"recent-cards"}, "action": {"revoke"}, "site": {"s1"},
			"row.cardNo": {`"` + card + `"`}, "csrf": {c.csrf}})
	}
	// In this order: the last revoke message sent is the refused one's.
	cases := []struct {
		name, card, want string
	}{
		{"done", "880100000000013", "注销 Revoke ✓"},
		{"refused", "880100000000099", "card 880100000000099 is unknown"},
	}
	for _, tc := range cases {
		name := tc.name
		r := action(tc.card)
		if r.code != http.StatusSeeOther || r.h.Get("Location") != "/console/worklists?list=recent-cards&plugin=ecard" {
			t.Fatalf("%s: %d %v", name, r.code, r.h)
		}
		if page := c.get(r.h.Get("Location")); !strings.Contains(page.body, tc.want) {
			t.Errorf("%s: the list lacks %q:\n%s", name, tc.want, page.body)
		}
	}
	e, _ := f.b.last("ecard.revoke")
	if string(e.Payload) != `{"by":"收费员 01","cardNo":"880100000000099"}` || e.Site != "s1" {
		t.Fatalf("revoke message %+v %s", e, e.Payload)
	}
	r := c.post("/console/action", url.Values{"plugin": {"ecard"}, "list": {"recent-cards"}, "action": {"nosuch"}, "site": {"s1"}, "csrf": {c.csrf}})
	if r.code != http.StatusNotFound || !strings.Contains(r.body, "no such action") {
		t.Fatalf("undeclared action: %d", r.code)
	}
}

// TestNavShowsOnlyEnabledPlugins checks that a plugin enabled at no site
// has no entry in the navigation bar.
func TestNavShowsOnlyEnabledPlugins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.plugins[1].Sites = nil // tracecode
	c := f.client()
	c.login("a")
	page := c.get("/console/").body
	if !strings.Contains(page, `href="/console/form/ecard/print"`) {
		t.Errorf("nav lacks the enabled plugin's form:\n%s", page)
	}
	for _, gone := range []string{`href="/console/form/tracecode/export"`, `href="/console/worklists?list=draft-receipts&amp;plugin=tracecode"`} {
		if strings.Contains(page, gone) {
			t.Errorf("nav shows %s of a plugin enabled nowhere", gone)
		}
	}
}

// TestRefusedDocumentChangesAudited: a confirmation or change the plugin
// refused, or that was not sent, is in the audit log as refused, not ok.
func TestRefusedDocumentChangesAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	c.login("pharm01")
	confirm := url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}}
	c.action("/console/document/tracecode/draft/confirm", confirm)
	c.action("/console/document/tracecode/draft/confirm", confirm) // already confirmed: the plugin refuses
	c.action("/console/document/tracecode/draft/adjust", url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}, "edit": {"explode"}})
	var got []string
	for _, action := range []string{"document.confirm", "document.adjust"} {
		es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: action})
		if err != nil {
			t.Fatal(err)
		}
		for i := len(es) - 1; i >= 0; i-- { // oldest first
			got = append(got, action+" "+es[i].Outcome)
		}
	}
	// Each attempted before it is sent, then its outcome.
	if want := "document.confirm attempted, document.confirm ok, document.confirm attempted, document.confirm refused, document.adjust attempted, document.adjust refused"; strings.Join(got, ", ") != want {
		t.Fatalf("audited %q, want %q", strings.Join(got, ", "), want)
	}
}

// TestEveryPageNamesItsIcon: a browser asks for /favicon.ico unless the
// page names an icon, and medgate serves nothing there (a 404 in the
// console log of every page); every page names the console's own icon,
// served from the console, not from elsewhere.
func TestEveryPageNamesItsIcon(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	iconRE := regexp.MustCompile(`<link rel="icon"[^>]* href="([^"]+)"`)
	check := func(path string, r resp) {
		t.Helper()
		m := iconRE.FindStringSubmatch(r.body)
		if m == nil {
			t.Errorf("%s (HTTP %d) names no icon; the browser asks for /favicon.ico, which medgate does not serve", path, r.code)
			return
		}
		if !strings.HasPrefix(m[1], Prefix) {
			t.Errorf("%s: the icon %s is not served by the console", path, m[1])
			return
		}
		icon := c.get(m[1])
		if icon.code != http.StatusOK || icon.h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(icon.body, "<svg") {
			t.Errorf("%s: the icon %s answers HTTP %d %s", path, m[1], icon.code, icon.h.Get("Content-Type"))
		}
	}
	check("/console/login", c.get("/console/login"))
	c.login("王药师")
	for _, p := range []string{"/console/", "/console/messages", "/console/form/ecard/print", "/console/nowhere"} {
		check(p, c.get(p))
	}
}

// TestFieldErrorsInBothLanguages: a field the console refuses says what is
// wrong in Chinese and in English, like every other notice of the console,
// so the cashier and the pharmacist read it whichever they read.
func TestFieldErrorsInBothLanguages(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		field  sdk.Argument
		value  string
		zh, en string
	}{
		"required":      {sdk.Argument{Name: "cardNo", Type: sdk.SettingString, Required: true, Description: "卡号 card"}, "", "必填", "required"},
		"required list": {sdk.Argument{Name: "codes", Type: sdk.ArgumentList, Required: true}, "", "必填", "required"},
		"enum":          {sdk.Argument{Name: "source", Type: sdk.SettingString, Enum: []string{"upload", "platform"}}, "x", "不是可选值", "is not one of upload, platform"},
		"whole number":  {sdk.Argument{Name: "limit", Type: sdk.SettingInt}, "4x", "不是整数", "is not a whole number"},
		"yes or no":     {sdk.Argument{Name: "dry", Type: sdk.SettingBool}, "maybe", "不是“是”或“否”", "is not true or false"},
		"number":        {sdk.Argument{Name: "qty", Type: sdk.ArgumentNumber}, "4x", "不是数字", "is not a number"},
		"file":          {sdk.Argument{Name: "doc", Type: sdk.ArgumentFile, Required: true}, "", "请选择文件", "choose a file"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{tc.field.Name: {tc.value}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			_, err := formValue(r, tc.field)
			if err == nil {
				t.Fatalf("%s=%q was accepted", tc.field.Name, tc.value)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.zh) || !strings.Contains(msg, tc.en) || !strings.HasPrefix(msg, tc.field.Name) {
				t.Errorf("%s=%q: %q, want the field's name, %q and %q", tc.field.Name, tc.value, msg, tc.zh, tc.en)
			}
		})
	}
}

// TestPluginFormSubmitsOnce: a plugin's form (the cashier's desk, the
// export, which waits up to LongWait) disables its button once sent, so a
// second click or Enter while the reply is awaited does not send the
// operation again (a second registration answering "existing card", a
// second export); console.js does it for forms marked data-busy.
func TestPluginFormSubmitsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	c.login("收费员 01")
	formRE := regexp.MustCompile(`<form method="post" action="/console/form/[^"]+"[^>]*>`)
	for _, p := range []string{"/console/form/tracecode/export", "/console/form/ecard/print?site=s1"} {
		r := c.get(p)
		tag := formRE.FindString(r.body)
		if tag == "" {
			t.Fatalf("%s: no form (HTTP %d)", p, r.code)
		}
		if !strings.Contains(tag, `data-busy="`) {
			t.Errorf("%s: the form %s can be sent twice while its reply is awaited; want data-busy", p, tag)
		}
	}
	if js := c.get("/console/static/console.js").body; !strings.Contains(js, `form[data-busy]`) || !strings.Contains(js, "b.disabled = true") {
		t.Error("console.js no longer disables the button of a form marked data-busy")
	}
}
