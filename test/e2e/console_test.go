package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/qrscan"
	"github.com/medgate/medgate/test/sim/tracecode"
	"github.com/medgate/medgate/test/testenv"
)

// browser is a console user: a cookie jar, redirects not followed.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func newBrowser(t *testing.T, addr string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: "http://" + addr, c: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the status, the body and the headers.
func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		// What Chrome sends with a form posted from the console's own page.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.base)
		req.Header.Set("Referer", b.base+path)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(data); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(data), resp.Header
}

// page GETs a console page and fails the test unless it is 200.
func (b *browser) page(path string) string {
	b.t.Helper()
	code, body, _ := b.do("GET", path, nil)
	if code != 200 {
		b.t.Fatalf("GET %s: HTTP %d\n%s", path, code, body)
	}
	return body
}

// submit POSTs a form with the CSRF token and follows one redirect.
func (b *browser) submit(path string, form url.Values) string {
	b.t.Helper()
	form.Set("csrf", b.csrf)
	code, body, h := b.do("POST", path, form)
	if code == http.StatusSeeOther {
		return b.page(h.Get("Location"))
	}
	if code != 200 {
		b.t.Fatalf("POST %s: HTTP %d\n%s", path, code, body)
	}
	return body
}

func mustFind(t *testing.T, re, s, what string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s not found in the page:\n%s", what, s)
	}
	return m
}

// TestConsole runs real medgate (embedded broker, SQLite) with the ecard
// and tracecode plugins (the latter against the trace-code simulator) and
// an admin token, and uses the console as staff would: sign in, overview,
// work lists, the e-card print page (its QR decoded like a scanner and
// scanned back to the card), the draft receipt adjust → confirm flow and
// the Excel export with its download.
func TestConsole(t *testing.T) {
	t.Parallel()
	const token, secret = "e2e-console-admin-token-0123456789", "e2e-app-secret-0123456789"
	sim := tracecode.New(tracecode.Options{AppID: "e2e-app", AppSecret: secret, OrgCode: "H35020300001", Seed: 11, BillsPerDay: 2})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	today := time.Now().In(tcZone).Format("2006-01-02")

	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, nil)
	cfg.Embedded = true
	cfg.Listen = testenv.FreeAddr(t)
	cfg.Brokers = []string{cfg.Listen}
	ecardConfig(t, cfg)
	dir := filepath.Join(cfg.Dir, "secrets")
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file:" + p
	}
	cfg.Extra["http"] = map[string]any{"listen": "127.0.0.1:0", "adminToken": write("admin-token", token)}
	cfg.Plugins = append(cfg.Plugins, "tracecode")
	cfg.Sites[0]["plugins"].(map[string]any)["tracecode"] = map[string]any{"settings": map[string]any{
		"baseUrl": srv.URL, "appId": "e2e-app", "appSecret": write("app-secret", secret), "orgCode": "H35020300001", "orgName": "示例医院",
		"productItemMap": "8100001=YP0001,8100002=YP0002,8100003=YP0003,8100004=YP0004,8100005=YP0005",
		"exportDir":      filepath.Join(cfg.Dir, "exports"),
	}}
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	in := &ingress{t: t, addr: mg.HTTPAddr}

	// A patient registers at the HIS (HTTP ingress); deliveries arrive.
	code, r := in.call("ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678"})
	var reg struct{ CardNo string }
	if err := json.Unmarshal(r.Payload, &reg); code != 200 || err != nil || reg.CardNo == "" {
		t.Fatalf("register: %d %+v", code, r)
	}
	if code, r := in.call("tracecode.stockin.fetch", map[string]string{"beginDate": today, "endDate": today}); code != 200 {
		t.Fatalf("stock-in fetch: %d %+v", code, r)
	}

	b := newBrowser(t, mg.HTTPAddr)
	t.Run("sign in", func(t *testing.T) {
		b.t = t
		if code, _, h := b.do("GET", "/console/", nil); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/login") {
			t.Fatalf("console without a session: %d %v", code, h)
		}
		if code, body, _ := b.do("POST", "/console/login", url.Values{"user": {"pharm01 王药师"}, "password": {"wrong"}}); code != 401 || !strings.Contains(body, "wrong user name or password") {
			t.Fatalf("wrong token: %d", code)
		}
		code, _, h := b.do("POST", "/console/login", url.Values{"user": {"pharm01 王药师"}, "password": {token}})
		ck := h.Get("Set-Cookie")
		if code != http.StatusSeeOther || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || strings.Contains(ck, token) {
			t.Fatalf("sign in: %d cookie %q", code, ck)
		}
	})
	t.Run("overview", func(t *testing.T) {
		b.t = t
		body := b.page("/console/")
		for _, w := range []string{"ecard", "tracecode", "tracecode/s1/stockin-sync", "Run now", "tracecode.stockin.fetch", "pharm01 王药师"} {
			if !strings.Contains(body, w) {
				t.Errorf("overview lacks %q", w)
			}
		}
		id := mustFind(t, `/console/message\?id=([^"]+)"`, body, "a message link")[1]
		if page := b.page("/console/message?id=" + url.QueryEscape(html.UnescapeString(id))); !strings.Contains(page, "Reply") {
			t.Errorf("message page: %s", page)
		}
	})
	t.Run("work lists are masked", func(t *testing.T) {
		b.t = t
		body := b.page("/console/worklists")
		for _, w := range []string{reg.CardNo, "张*丰", "138****5678", "draft-receipts"} {
			if !strings.Contains(body, w) {
				t.Errorf("work lists lack %q", w)
			}
		}
		for _, raw := range []string{"张三丰", "11010519491231002X", "13812345678"} {
			if strings.Contains(body, raw) {
				t.Errorf("work lists show unmasked %q", raw)
			}
		}
	})
	t.Run("e-card print", func(t *testing.T) {
		b.t = t
		b.page("/console/form/ecard/print?site=s1&cardNo=" + reg.CardNo)
		body := b.submit("/console/form/ecard/print", url.Values{"site": {"s1"}, "cardNo": {reg.CardNo}, "validity": {"72h"}})
		for _, w := range []string{`class="label-card"`, reg.CardNo, "张*丰", "有效期至", "data-print"} {
			if !strings.Contains(body, w) {
				t.Errorf("print page lacks %q", w)
			}
		}
		b64 := html.UnescapeString(mustFind(t, `<img class="qr" src="data:image/png;base64,([^"]+)"`, body, "the QR image")[1])
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := qrscan.Decode(img)
		if err != nil {
			t.Fatalf("the printed QR code does not decode: %v", err)
		}
		code, scan := in.call("ecard.scan", map[string]any{"text": decoded})
		var s struct{ CardNo string }
		_ = json.Unmarshal(scan.Payload, &s)
		if code != 200 || s.CardNo != reg.CardNo {
			t.Fatalf("scan of the printed code: %d %+v", code, scan)
		}
	})
	t.Run("draft adjust confirm", func(t *testing.T) {
		b.t = t
		list := b.page("/console/worklists?plugin=tracecode&list=draft-receipts")
		link := html.UnescapeString(mustFind(t, `href="(/console/document/tracecode/draft\?[^"]+)"`, list, "a draft link")[1])
		u, _ := url.Parse(link)
		site, id := u.Query().Get("site"), u.Query().Get("id")
		draft := b.page(link)
		version := mustFind(t, `name="version" value="(\d+)"`, draft, "the draft version")[1]
		line := mustFind(t, `name="line" value="(\d+)"`, draft, "a line number")[1]
		page := b.submit("/console/document/tracecode/draft/adjust", url.Values{"site": {site}, "id": {id}, "version": {version}, "edit": {"setQty"}, "line": {line}, "qty": {"1"}, "reason": {"清点"}})
		if !strings.Contains(page, "saved") || !strings.Contains(page, "pharm01 王药师") || !strings.Contains(page, "清点") {
			t.Fatalf("after adjust:\n%s", page)
		}
		// A stale form (the version before the adjustment) is refused by the plugin.
		page = b.submit("/console/document/tracecode/draft/adjust", url.Values{"site": {site}, "id": {id}, "version": {version}, "edit": {"setQty"}, "line": {line}, "qty": {"2"}})
		if !strings.Contains(page, "$.expectedVersion") {
			t.Fatalf("stale adjust not refused:\n%s", page)
		}
		version = mustFind(t, `name="version" value="(\d+)"`, page, "the new version")[1]
		page = b.submit("/console/document/tracecode/draft/confirm", url.Values{"site": {site}, "id": {id}, "version": {version}})
		if !strings.Contains(page, "confirmed") || strings.Contains(page, "/console/document/tracecode/draft/adjust") {
			t.Fatalf("after confirm:\n%s", page)
		}
		receipt := mustFind(t, `receipt\): ([A-Z0-9]+)`, page, "the receipt number")[1]
		page = b.submit("/console/document/tracecode/draft/confirm", url.Values{"site": {site}, "id": {id}})
		if !strings.Contains(page, "already confirmed by pharm01 王药师") || !strings.Contains(page, receipt) {
			t.Fatalf("second confirm:\n%s", page)
		}
	})
	t.Run("export and download", func(t *testing.T) {
		b.t = t
		b.page("/console/form/tracecode/export")
		page := b.submit("/console/form/tracecode/export", url.Values{"site": {"s1"}, "from": {today}, "to": {today}})
		sum := mustFind(t, `<code class="wrap">([0-9a-f]{64})</code>`, page, "the SHA-256")[1]
		link := mustFind(t, `href="(/console/download/[0-9a-f]+)"`, page, "the download link")[1]
		code, body, h := b.do("GET", link, nil)
		got := sha256.Sum256([]byte(body))
		if code != 200 || hex.EncodeToString(got[:]) != sum || !strings.HasPrefix(body, "PK") || !strings.Contains(h.Get("Content-Disposition"), ".xlsx") {
			t.Fatalf("download: %d %v (%d bytes)", code, h, len(body))
		}
		if code, _, _ := b.do("GET", "/console/download/"+strings.Repeat("0", 48), nil); code != 404 {
			t.Fatalf("unknown token: %d", code)
		}
	})
	if logs := mg.Logs(); strings.Contains(logs, token) || strings.Contains(logs, "11010519491231002X") {
		t.Fatal("medgate's log contains the admin token or an unmasked ID number")
	}
}
