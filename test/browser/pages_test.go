package browser_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/qrscan"
	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) { harness.Main(m) }

// The users of TestConsolePagesByRole, one of each role, made with
// `medgate user add`; each password is "pw-<name>-0123456789".
const (
	viewerUser   = "zhao.view"
	operatorUser = "pharm01"
	adminUser    = "li.admin"
	pagesToken   = "browser-pages-admin-token-0123456789"
	patientID    = "11010519491231002X"
)

func password(user string) string { return "pw-" + user + "-0123456789" }

// TestConsolePagesByRole opens, in headless Chromium, the console pages
// TestConsoleInChromium (test/console) does not drive, each signed in with
// the least role that may use it, and checks every page renders without a
// console error, an uncaught exception or a failed request:
//   - the sign-in page, refusing a wrong password with its message;
//   - as a viewer: the overview (without "run now"), a message's trace (without the reveal
//     button), the e-card recent-cards work list (masked, its card number
//     plain text, not a link to the print page a viewer cannot open), the
//     403 page of the print page typed in and of an admin page, and signing
//     out, after which the console asks to sign in again;
//   - as an operator: the e-card print page opened from the work list's
//     card link, its form sent; the label printed to PDF as the printer
//     gets it, rasterised by pdftoppm and read by zbarimg (no gozxing), and
//     the code read scanned through the host to the same card;
//   - as an admin: the users page listing every user and role, the reveal
//     of a message's personal data (after its prompt), and the 404 page.
func TestConsolePagesByRole(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	zbar := testenv.Tool(t, "zbarimg", "zbar-tools")
	pdftoppm := testenv.Tool(t, "pdftoppm", "poppler-utils")
	mg := startPagesMedgate(t)
	base := "http://" + mg.HTTPAddr

	// A patient registered at the HIS: a message to trace, a card to print.
	regID := fmt.Sprintf("pages-reg-%d", time.Now().UnixNano())
	code, reg := post(t, base, regID, "ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	var card struct{ CardNo string }
	if err := json.Unmarshal(reg.Payload, &card); code != http.StatusOK || err != nil || card.CardNo == "" {
		t.Fatalf("ecard.register: HTTP %d %+v", code, reg)
	}

	b := browser.Start(t, base)
	noProblems := func(where string) {
		t.Helper()
		b.WaitTrue(browser.StepTimeout, "the page loaded", `document.readyState === "complete"`)
		for _, p := range b.Problems() {
			t.Errorf("%s went wrong in Chromium: %s", where, p)
		}
	}

	// The sign-in page: the console sends a visitor to it; a wrong
	// password is refused with its message (a 401 page, not a problem).
	b.Go("/console/")
	b.Wait(`form[action="/console/login"] input[name=password]`)
	noProblems("the sign-in page")
	b.Fill(map[string]string{`form[action="/console/login"] [name=user]`: viewerUser, `form[action="/console/login"] [name=password]`: "wrong-password"})
	b.Click(`form[action="/console/login"] button[type=submit]`)
	b.WaitText(`.notice.bad[role=alert]`, "wrong user name or password")
	b.Shot("sign-in-refused")
	noProblems("the refused sign-in")

	// The viewer.
	b.SignIn(map[string]string{"user": viewerUser, "password": password(viewerUser)})
	b.WaitText("form.who", viewerUser)
	b.WaitText("main", "ecard")
	noProblems("the viewer's overview")
	// The navigation bar offers only what the viewer may open, and the
	// page no button the viewer may not use.
	if n := b.Nodes(`header nav a[href^="/console/form/"], header nav a[href^="/console/admin/"]`); n != 0 {
		t.Errorf("a viewer's navigation bar links %d operator or admin page(s), want none", n)
	}
	if n := b.Nodes(`form[action="/console/jobs/run"]`); n != 0 {
		t.Errorf("a viewer's overview offers %d \"run now\" button(s), want none (operator only)", n)
	}
	b.Go("/console/message?id=" + regID)
	b.WaitText("dd.outcome", "ok")
	b.WaitText("pre.request", "ecard.register")
	if n := b.Nodes("#reveal"); n != 0 {
		t.Errorf("a viewer's message page has %d reveal button(s), want none (admin only)", n)
	}
	if main := b.Text("main"); strings.Contains(main, "张三丰") || strings.Contains(main, patientID) {
		t.Error("a viewer's message page shows the patient's name or ID number unmasked")
	}
	// Times are Xiamen's (console.timeZone: Asia/Shanghai), each with its
	// offset, and the header names the zone, whatever the server's zone.
	b.WaitText("header .zone", "Asia/Shanghai (UTC+08:00)")
	received := regexp.MustCompile(`收到 received\s*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+08:00)`).FindStringSubmatch(b.Text("main"))
	if received == nil {
		t.Errorf("the message page shows no received time in UTC+08:00:\n%s", b.Text("main"))
	} else if at, err := time.Parse("2006-01-02 15:04:05 UTC-07:00", received[1]); err != nil || time.Since(at).Abs() > 10*time.Minute {
		t.Errorf("the message page says received %q (%v); the message was sent just now", received[1], err)
	}
	noProblems("the viewer's message page")
	b.Go("/console/worklists?plugin=ecard&list=recent-cards")
	link := `a[href^="/console/form/ecard/print?"][href*="cardNo=` + card.CardNo + `"]`
	b.WaitText("main table", card.CardNo)
	b.WaitText("main", "张*丰")
	// The card number opens the print page, which needs an operator: for
	// a viewer it is plain text, not a link that answers 403.
	if n := b.Nodes(`main a[href^="/console/form/"], main a[href^="/console/document/"]`); n != 0 {
		t.Errorf("a viewer's work list links %d form or document page(s), want none (they need an operator)", n)
	}
	if main := b.Text("main"); strings.Contains(main, "张三丰") || strings.Contains(main, patientID) || strings.Contains(main, "13812345678") {
		t.Error("the recent-cards work list shows personal data unmasked")
	}
	b.Shot("viewer-recent-cards")
	noProblems("the recent-cards work list")
	b.Go("/console/form/ecard/print?site=s1&cardNo=" + card.CardNo) // typed in: the route still refuses
	b.WaitText(".notice.bad", "权限不足")
	b.Shot("viewer-print-forbidden")
	b.Go("/console/admin/users")
	b.WaitText(".notice.bad", "权限不足")
	if n := b.Nodes("main table"); n != 0 {
		t.Error("the users page showed its table to a viewer")
	}
	noProblems("the 403 pages")
	b.Go("/console/")
	b.Click(`form.who button[type=submit]`)
	b.Wait(`form[action="/console/login"] input[name=password]`)
	b.Go("/console/jobs")
	b.Wait(`form[action="/console/login"] input[name=password]`)
	if n := b.Nodes("form.who"); n != 0 {
		t.Error("after signing out the console still shows a signed-in user")
	}
	noProblems("signing out")

	// The operator prints the card from the work list.
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	b.WaitText("form.who", operatorUser)
	b.Go("/console/worklists?plugin=ecard&list=recent-cards")
	if b.Nodes(`header nav a[href="/console/form/ecard/print"]`) != 1 || b.Nodes(`header nav a[href^="/console/admin/"]`) != 0 {
		t.Error("an operator's navigation bar does not link the print page, or links an admin page")
	}
	b.Click(link)
	form := `form[action="/console/form/ecard/print"]`
	b.Wait(form + ` input[name=cardNo]`)
	if v := b.Attr(form+` input[name=cardNo]`, "value"); v != card.CardNo {
		t.Errorf("the print page opened from the work list has card number %q, want %s", v, card.CardNo)
	}
	noProblems("the print page")
	b.Click(form + ` button[type=submit]`)
	b.Wait(".label-card img.qr")
	b.WaitText(".label-card .label-cardno", card.CardNo)
	b.WaitText(".label-card", "张*丰")
	b.Shot("print-label")
	noProblems("the printed label")
	var ok bool
	b.Eval(`document.body.classList.add("print-label"); true`, &ok)
	pdf := b.PDF(true)
	text := zbarPDF(t, pdftoppm, zbar, pdf)
	_, scan := post(t, base, fmt.Sprintf("pages-scan-%d", time.Now().UnixNano()), "ecard.scan", map[string]any{"text": text})
	var s struct{ CardNo, Name string }
	_ = json.Unmarshal(scan.Payload, &s)
	if scan.Status != "ok" || s.CardNo != card.CardNo || s.Name != "张*丰" {
		t.Errorf("the scan of the printed label's code (zbarimg read %q) answered %s card %q name %q, want card %s, 张*丰; errors %+v", text, scan.Status, s.CardNo, s.Name, card.CardNo, scan.Errors)
	}
	b.Go("/console/admin/users")
	b.WaitText(".notice.bad", "权限不足")
	noProblems("the operator's 403 page")
	b.Go("/console/")
	b.Click(`form.who button[type=submit]`)
	b.Wait(`form[action="/console/login"] input[name=password]`)

	// The administrator.
	b.SignIn(map[string]string{"user": adminUser, "password": password(adminUser)})
	b.Go("/console/admin/users")
	b.WaitText("main table", viewerUser)
	var rows [][]string
	// The user, role, sites and state columns, found by their headers.
	b.Eval(`(() => {
		const heads = Array.from(document.querySelectorAll("main table thead th")).map(h => h.innerText.trim());
		const col = w => heads.findIndex(h => h.includes(w));
		const want = ["user", "role", "sites", "state"].map(col);
		return Array.from(document.querySelectorAll("main table tbody tr")).map(r => want.map(i => i < 0 || !r.cells[i] ? "" : r.cells[i].innerText.trim()));
	})()`, &rows)
	for _, want := range [][2]string{{viewerUser, "viewer"}, {operatorUser, "operator"}, {adminUser, "admin"}} {
		found := false
		for _, r := range rows {
			if len(r) == 4 && r[0] == want[0] && r[1] == want[1] && strings.Contains(r[2], "all") && strings.Contains(r[3], "enabled") {
				found = true
			}
		}
		if !found {
			t.Errorf("the users page lacks %s, %s, every site, enabled: rows (user, role, sites, state) %q", want[0], want[1], rows)
		}
	}
	b.Shot("admin-users")
	noProblems("the users page")
	b.Go("/console/message?id=" + regID)
	b.Click("#reveal")
	b.Wait("#revealed")
	b.WaitText("main", "张三丰")
	b.Shot("admin-revealed")
	noProblems("the revealed message")
	b.Go("/console/no-such-page")
	b.WaitText(".notice.bad h1", "页面不存在")
	b.Shot("not-found")
	noProblems("the 404 page")
	if logs := mg.Logs(); strings.Contains(logs, pagesToken) || strings.Contains(logs, patientID) || strings.Contains(logs, password(viewerUser)) {
		t.Error("medgate's log contains the admin token, a password or an unmasked ID number")
	}
}

// zbarPDF rasterises the first page of pdf at 300 dpi with pdftoppm, as a
// printer driver does, and returns the QR code zbarimg reads on it.
func zbarPDF(t *testing.T, pdftoppm, zbar string, pdf []byte) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "label.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(browser.ScreenshotDirOf(t), "label.pdf"), pdf, 0o644)
	if out, err := exec.Command(pdftoppm, "-r", "300", "-png", "-singlefile", in, filepath.Join(dir, "label")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm the printed label: %v\n%s", err, out)
	}
	img, err := os.ReadFile(filepath.Join(dir, "label.png"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := qrscan.ZBar(zbar, img)
	if err != nil {
		t.Fatalf("zbarimg reads no QR code on the printed label (bin/test-artifacts/screenshots/%s/label.pdf): %v", t.Name(), err)
	}
	return text
}

// startPagesMedgate runs medgate with the ecard plugin on the embedded
// broker, an admin token and one user of each role.
func startPagesMedgate(t *testing.T) *harness.Medgate {
	t.Helper()
	return startPagesMedgateWith(t, nil)
}

// startPagesMedgateWith is startPagesMedgate with more configuration:
// more gets the configuration before it is written, and secret, which
// writes a secret file and returns its file: reference.
func startPagesMedgateWith(t *testing.T, more func(cfg *harness.Config, secret func(name, v string) string)) *harness.Medgate {
	t.Helper()
	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, nil)
	cfg.Embedded = true
	cfg.Listen = testenv.FreeAddr(t)
	cfg.Brokers = []string{cfg.Listen}
	dir := filepath.Join(cfg.Dir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file:" + p
	}
	cfg.Extra["http"] = map[string]any{"listen": "127.0.0.1:0", "adminToken": secret("admin-token", pagesToken)}
	cfg.Extra["console"] = map[string]any{"timeZone": "Asia/Shanghai"}
	cfg.Plugins = append(cfg.Plugins, "ecard")
	cfg.Sites[0]["plugins"].(map[string]any)["ecard"] = map[string]any{"settings": map[string]any{
		"identitySecret":   secret("identity", "pages-identity-secret-0123456789abcdef"),
		"qrKeys":           secret("qrkeys", "A:00112233445566778899aabbccddeeff"),
		"tempCardPrefixes": "9",
		"revealIdentity":   true,
	}}
	if more != nil {
		more(cfg, secret)
	}
	cfgPath := cfg.Write(t, bins)
	for _, u := range [][2]string{{viewerUser, "viewer"}, {operatorUser, "operator"}, {adminUser, "admin"}} {
		cmd := exec.Command(bins.Medgate, "user", "add", "-config", cfgPath, u[0], u[1])
		cmd.Stdin = strings.NewReader(password(u[0]) + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("medgate user add %s: %v\n%s", u[0], err, out)
		}
	}
	return harness.Start(t, bins, cfgPath)
}

// post sends one message of site s1 through POST /v1/messages and returns
// the HTTP status and the reply.
func post(t *testing.T, base, id, typ string, payload any) (int, harness.Reply) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": id, "site": "s1", "type": typ, "payload": payload})
	resp, err := http.Post(base+"/v1/messages", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("send %s: %v", typ, err)
	}
	defer resp.Body.Close()
	var r harness.Reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("send %s: HTTP %d, reply: %v", typ, resp.StatusCode, err)
	}
	return resp.StatusCode, r
}

// TestSignInAgainByKeyboard: after a wrong password the sign-in page keeps
// the user name and puts the cursor in the password field, so the user
// types the password again and presses Enter, without the mouse. Before,
// the cursor went back to the user name: the password typed again went
// after the name, and Enter was refused for the empty password field.
func TestSignInAgainByKeyboard(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgate(t)
	b := browser.Start(t, "http://"+mg.HTTPAddr)
	b.Go("/console/login")
	b.Wait(`form[action="/console/login"] input[name=user]`)
	// The page opens with the cursor in the user name: type it, Tab,
	// a wrong password, Enter.
	b.Run("type the user name, Tab, a wrong password and Enter", chromedp.KeyEvent(operatorUser+"\t"+"not-the-password\r"))
	b.WaitText(".notice.bad", "用户名或密码错误")
	b.Shot("wrong-password")
	var focus struct{ Name, User string }
	b.Eval(`({Name: document.activeElement && document.activeElement.name || "", User: document.querySelector("input[name=user]").value})`, &focus)
	if focus.Name != "password" || focus.User != operatorUser {
		t.Errorf("after a wrong password the cursor is in %q and the user name reads %q; want the cursor in the password field and the name %q kept", focus.Name, focus.User, operatorUser)
	}
	b.Run("type the password again and Enter", chromedp.KeyEvent(password(operatorUser)+"\r"))
	b.WaitText("form.who", operatorUser)
	b.Shot("signed-in")
}
