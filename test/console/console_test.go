// Package console tests medgate's web console as staff use it: real
// medgate and plugin processes (test/harness), real Kafka when it is
// installed (the embedded broker otherwise), the trace-code simulator,
// and a real headless Chromium (test/browser) that signs in, clicks,
// types like a USB scanner, prints to PDF and downloads files.
// Screenshots of every step are in bin/test-artifacts/screenshots/.
package console

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/qrscan"
	"github.com/medgate/medgate/test/sim/tracecode"
	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) { harness.Main(m) }

// cst is the trace-code platform's zone (dates of documents).
var cst = time.FixedZone("CST", 8*60*60)

const (
	adminToken = "console-admin-token-0123456789abcdef"
	appSecret  = "console-app-secret-0123456789"
	operator   = "op01 李操作"
)

// TestConsoleInChromium goes through the operator's and the cashier's day
// in a real browser: sign in; find a message by its business key and open
// its trace; replay a failed message and see it succeed; see the
// 30-minute board; replay a filtered set in bulk; run a job; review,
// adjust and confirm a draft receipt; register a patient at the e-card
// desk and print the label (PDF text and the QR code checked); scan the
// card on the scan page with typed scanner input; run the export and
// download the workbook; then, as the administrator, disable and enable a
// plugin for a site, change its settings, see the plugins' status and the
// audit log (adminPages).
func TestConsoleInChromium(t *testing.T) {
	start := time.Now()
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startMedgate(t)
	in := ingress{t: t, addr: mg.HTTPAddr, mg: mg}

	// What happened before the operator signs in: a recorded effect, a
	// message that failed (the ledger was down), and two more failures whose
	// business events are 40 and 25 minutes old.
	now := time.Now()
	in.send("trace-ok-1", "P-20261203-01", "ledger.record", map[string]any{"seq": 1}, now)
	in.send("trace-fail-1", "P-20261203-01", "ledger.fail", map[string]any{"seq": 2, "failTimes": 3}, now)
	in.send("bulk-fail-1", "P-20261203-02", "ledger.fail", map[string]any{"seq": 3, "failTimes": 3}, now.Add(-40*time.Minute))
	in.send("bulk-fail-2", "P-20261203-03", "ledger.fail", map[string]any{"seq": 4, "failTimes": 3}, now.Add(-25*time.Minute))

	b := browser.Start(t, "http://"+mg.HTTPAddr)

	// Sign in.
	b.Go("/console/")
	b.Wait(`form[action="/console/login"]`)
	b.Shot("sign-in-page")
	b.SignIn(map[string]string{"user": operator, "password": adminToken})
	b.WaitText("form.who", operator)
	b.Shot("signed-in")

	// Find the message by its business key and open its trace.
	b.Go("/console/messages")
	b.Fill(map[string]string{`input[name=key]`: "P-20261203-01"})
	b.Click(`form.search button[type=submit]`)
	b.WaitTrue(browser.StepTimeout, "the search's page", `location.search.includes("key=P-20261203-01") && document.readyState === "complete"`)
	b.WaitText("table.results", "trace-fail-1")
	if n := b.Nodes("table.results tbody tr[data-id]"); n != 2 {
		t.Errorf("the search by business key found %d messages, want 2", n)
	}
	b.Shot("search-by-key")
	b.Click(`tr[data-id="trace-fail-1"] a`)
	b.WaitText("dd.outcome", "failed")
	b.WaitText("#why", "下一步 What to do")
	b.WaitText("#why", "重发 Replay")
	b.WaitText("ol.timeline", "2 attempt(s)")
	b.WaitText("pre.request", "ledger.fail")
	b.Shot("trace-of-failed-message")

	// Replay it: the page follows it until it succeeds.
	b.Click("#replay")
	b.WaitTextWithin(60*time.Second, "dd.outcome", "ok")
	b.Shot("replayed-message-ok")

	// The 30-minute board: one message past the deadline, one near it.
	b.Go("/console/board")
	b.Wait(`tr.level-past[data-id="bulk-fail-1"]`)
	b.Wait(`tr.level-near[data-id="bulk-fail-2"]`)
	b.WaitText("#board-past", "1")
	b.Shot("board")

	// Replay every failed message of a search in bulk, with progress.
	b.Go("/console/messages?status=failed&type=ledger.")
	b.WaitText("table.results", "bulk-fail-2")
	b.Shot("failed-messages")
	b.Click("#replay-all")
	b.WaitTextWithin(60*time.Second, "#replay-state", "完成")
	b.WaitText("#replay-count", "2 / 2")
	b.Shot("bulk-replay-finished")
	for _, id := range []string{"bulk-fail-1", "bulk-fail-2"} {
		b.Go("/console/message?id=" + id) // reloads itself while pending
		b.WaitTextWithin(60*time.Second, "dd.outcome", "ok")
	}
	b.Shot("bulk-replayed-ok")

	// Run the stock-in job now: its outcome and the records it downloaded.
	b.Go("/console/jobs")
	b.Click(`tr[data-job="tracecode/s1/stockin-sync"] button[type=submit]`)
	b.WaitTextWithin(60*time.Second, ".notice.ok", "tracecode/s1/stockin-sync")
	b.WaitText(`tr[data-job="tracecode/s1/stockin-sync"] td.outcome`, "成功")
	if n := b.Text(`tr[data-job="tracecode/s1/stockin-sync"] td.records`); n == "0" || n == "—" {
		t.Errorf("the stock-in job downloaded %q records, want some", n)
	}
	b.Shot("job-ran")

	// Review, adjust and confirm a draft receipt.
	b.Go("/console/worklists?plugin=tracecode&list=draft-receipts")
	b.Click(`a[href^="/console/document/tracecode/draft?"]`)
	setQty := `form[action="/console/document/tracecode/draft/adjust"]:has(input[name=edit][value=setQty])`
	b.Wait(setQty + ` input[name=qty]`)
	b.Shot("draft-receipt")
	b.Fill(map[string]string{setQty + ` input[name=qty]`: "1", setQty + ` input[name=reason]`: "清点 counted"})
	b.Click(setQty + ` button[type=submit]`)
	b.WaitText("main", "清点 counted")
	b.Shot("draft-adjusted")
	b.Click(`form[action="/console/document/tracecode/draft/confirm"] button[type=submit]`)
	b.WaitText("main", "confirmed")
	b.Shot("draft-confirmed")

	// The cashier's desk: register a patient and print the label.
	b.Go("/console/form/ecard/desk")
	person := map[string]string{`input[name=name]`: "张三丰", `input[name=idNumber]`: "11010519491231002X", `input[name=phone]`: "13812345678"}
	b.Fill(person)
	b.Shot("desk-filled")
	b.Click(`form[action="/console/form/ecard/desk"] button[type=submit]`)
	b.Wait(".label-card img.qr")
	b.WaitText(".result", "新登记")
	cardNo := b.Text(".label-card .label-cardno")
	if !regexp.MustCompile(`^\d{6,}$`).MatchString(cardNo) {
		t.Fatalf("the label shows card number %q", cardNo)
	}
	if strings.Contains(b.Text("main"), "张三丰") {
		t.Error("the desk shows the patient's full name")
	}
	b.Shot("desk-label")
	qrPNG := b.ElementShot(".label-card img.qr")
	label := printLabel(t, b, "label", 60, 40)
	for _, want := range []string{cardNo, "张*丰", "有效期至", "电子就诊卡"} {
		if !strings.Contains(label, want) {
			t.Errorf("the printed label lacks %q:\n%s", want, label)
		}
	}
	printLabel(t, b, "a4", 210, 297)
	img, err := png.Decode(bytes.NewReader(qrPNG))
	if err != nil {
		t.Fatal(err)
	}
	qrText, err := qrscan.Decode(img)
	if err != nil {
		t.Fatalf("the QR code on the page does not decode: %v", err)
	}
	// The same person again: the same card (one person, one card).
	b.Go("/console/form/ecard/desk")
	b.Fill(person)
	b.Click(`form[action="/console/form/ecard/desk"] button[type=submit]`)
	b.WaitText(".result", "已有电子卡")
	if again := b.Text(".label-card .label-cardno"); again != cardNo {
		t.Errorf("the second registration got card %s, want %s", again, cardNo)
	}
	b.Shot("desk-existing-card")

	// The scan page: the USB scanner types the code and Enter.
	b.Go("/console/form/ecard/scan")
	b.Type(`form[data-scanner] input[name=text]`, qrText+"\r")
	b.WaitText(".result", cardNo)
	b.WaitText(".result", "张*丰") // personal: a QR scan answers the masked identity (plugins/ecard README, Security)
	if strings.Contains(b.Text("main"), "张三丰") {
		t.Error("the scan page shows the patient's full name")
	}
	b.Shot("scan-card")
	var focused bool
	b.Eval(`document.activeElement && document.activeElement.name === "text" && document.activeElement.value === ""`, &focused)
	if !focused {
		t.Error("after a scan the scanner field is not empty and focused")
	}
	b.Type(`form[data-scanner] input[name=text]`, "9123456789\r") // a temporary card (prefix 9)
	b.WaitText(".notice.bad", "9123456789 is a temporary-card number (prefix 9)")
	b.Shot("scan-temporary-card")
	b.Type(`form[data-scanner] input[name=text]`, "11010519491231002X\r") // an ID card's number
	b.WaitText(".notice.bad", "居民身份证号")
	if strings.Contains(b.Text("main"), "11010519491231002X") {
		t.Error("the scan page shows the scanned ID number unmasked")
	}
	b.Type(`form[data-scanner] input[name=text]`, "81234567890123456789\r") // a drug trace code
	b.WaitText(".notice.bad", "追溯码")
	b.Shot("scan-trace-code")

	// Run the export and download the workbook.
	today := time.Now().In(cst).Format("2006-01-02")
	b.Go("/console/form/tracecode/export")
	b.Fill(map[string]string{`input[name=from]`: today, `input[name=to]`: today})
	b.Click(`form[action="/console/form/tracecode/export"] button[type=submit]`)
	b.WaitWithin(60*time.Second, `a[href^="/console/download/"]`)
	b.Shot("export-ready")
	xlsx := b.Download(`a[href^="/console/download/"]`)
	checkXLSX(t, xlsx)

	adminPages(t, b, in)
	pagesFit(t, b)

	for _, p := range b.Problems() {
		t.Errorf("a console page went wrong in Chromium: %s", p)
	}
	if logs := mg.Logs(); strings.Contains(logs, adminToken) || strings.Contains(logs, "11010519491231002X") {
		t.Error("medgate's log contains the admin token or an unmasked ID number")
	}
	t.Logf("the console walk-through took %s", time.Since(start).Round(time.Millisecond))
}

// adminPages goes through the administrator's pages: on the sites page
// disable ecard for s1 (after the confirmation prompt) and see its
// messages refused with rule disabled, then enable it again; on its
// settings form see invalid values refused with every problem listed,
// then save a valid change; see each plugin's version, checksum and
// health; and find the changes in the audit log. Each change rewrites the
// configuration file the harness wrote and reloads medgate.
func adminPages(t *testing.T, b *browser.Browser, in ingress) {
	t.Helper()
	start := time.Now()
	const (
		toggle = `form[action="/console/admin/sites/s1/ecard/enabled"]`
		row    = `tr:has(` + toggle + `)`
		form   = `form[action="/console/admin/sites/s1/ecard"]`
	)
	register := func() (int, harness.Reply) {
		return in.call("ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678"})
	}

	// The sites page: disable ecard for s1 with its button.
	b.Go("/console/admin/sites")
	b.WaitText(row, "已启用 enabled")
	b.Shot("admin-sites")
	before := len(b.Dialogs())
	b.Click(toggle + ` button[type=submit]`)
	b.WaitText(".notice.ok", "已保存并生效")
	if d := b.Dialogs(); len(d) != before+1 || !strings.Contains(d[len(d)-1], "停用 ecard @ s1") {
		t.Errorf("disabling asked %q, want one prompt 停用 ecard @ s1", d[before:])
	}
	b.Go("/console/admin/sites")
	b.WaitText(row, "已停用 disabled")
	b.WaitText(toggle+` button[type=submit]`, "启用 Enable")
	b.Shot("admin-ecard-disabled")
	if code, r := register(); code == http.StatusOK || !slices.Contains(errorRules(r), "disabled") {
		t.Errorf("ecard.register while ecard is disabled for s1: HTTP %d, status %s, rules %v; want refused with rule disabled", code, r.Status, errorRules(r))
	}

	// Enable it again: its messages are served.
	b.Click(toggle + ` button[type=submit]`)
	b.WaitText(".notice.ok", "已保存并生效")
	b.Go("/console/admin/sites")
	b.WaitText(row, "已启用 enabled")
	b.Shot("admin-ecard-enabled")
	if code, r := register(); code != http.StatusOK {
		t.Errorf("ecard.register after enabling ecard again: HTTP %d, status %s, errors %+v", code, r.Status, r.Errors)
	}

	// The settings form: invalid values are refused with every problem
	// listed, and nothing changes; a valid change is saved.
	b.Click(row + ` a[href="/console/admin/sites/s1/ecard"]`)
	b.Wait(form + ` input[name="s.qrImageSize"]`)
	b.Shot("admin-ecard-settings")
	b.Fill(map[string]string{form + ` input[name="s.identitySecret"]`: "plain-text-secret", form + ` input[name="s.qrImageSize"]`: "abc"})
	b.Click(form + ` button[type=submit]`)
	b.WaitText(".notice.bad", "未保存")
	for _, want := range []string{"identitySecret", "qrImageSize"} {
		b.WaitText(".notice.bad li", want)
	}
	b.Shot("admin-ecard-settings-refused")
	b.Go("/console/admin/sites/s1/ecard")
	b.Fill(map[string]string{form + ` input[name="s.qrImageSize"]`: "384"})
	b.Click(form + ` button[type=submit]`)
	b.WaitText(".notice.ok", "qrImageSize")
	if v := b.Attr(form+` input[name="s.qrImageSize"]`, "value"); v != "384" {
		t.Errorf("after saving, the form shows qrImageSize %q, want 384", v)
	}
	b.Shot("admin-ecard-settings-saved")

	// The plugins' status: version, checksum and health.
	b.Go("/console/admin/plugins")
	b.WaitText("main table", "ecard")
	var cells []string
	b.Eval(`Array.from(document.querySelectorAll("main table tbody tr")).map(r => Array.from(r.cells).map(c => c.innerText.trim())).find(c => c[0] === "ecard") || []`, &cells)
	sum := harness.Binaries(t).SHA256["ecard"]
	if len(cells) < 6 || cells[1] == "" || cells[1] == "—" || !strings.Contains(cells[2], "运行中 up") || !strings.Contains(cells[5], sum) {
		t.Errorf("the plugin status row of ecard is %q, want a version, 运行中 up and sha256 %s", cells, sum)
	}
	b.Shot("admin-plugins")

	// The audit log has every change, the refused one too.
	b.Go("/console/admin/audit?action=site.plugin.update")
	b.WaitText("table.audit", "ecard/s1")
	audit := b.Text("table.audit tbody")
	for _, want := range []string{"enabled false", "enabled true", "refused", "settings changed: qrImageSize"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
	b.Shot("admin-audit")
	t.Logf("the admin pages took %s", time.Since(start).Round(time.Millisecond))
}

// pagesFit opens every page at the counter's 1366×768 screen and in a
// narrow window (a phone, a half screen): none is wider than the window,
// so nothing needs sideways scrolling of the whole page; in the narrow
// window wide tables scroll inside their own box, at 1366 px none needs to.
func pagesFit(t *testing.T, b *browser.Browser) {
	t.Helper()
	pages := []string{"/console/", "/console/?all=1", "/console/messages?key=P-20261203-01", "/console/message?id=trace-fail-1", "/console/board",
		"/console/jobs", "/console/worklists", "/console/form/ecard/desk", "/console/form/ecard/scan", "/console/form/tracecode/export",
		"/console/admin/sites", "/console/admin/sites/s1/ecard", "/console/admin/plugins", "/console/admin/users", "/console/admin/audit", "/console/nowhere"}
	for _, size := range [][2]int64{{1366, 768}, {390, 844}} {
		b.Run(fmt.Sprintf("window %d×%d", size[0], size[1]), chromedp.EmulateViewport(size[0], size[1]))
		for _, p := range pages {
			b.Go(p)
			b.WaitTrue(browser.StepTimeout, "the page loaded with its styles", `document.readyState === "complete"`)
			var over []string
			b.Eval(fmt.Sprintf(`(() => {
  const w = document.documentElement.clientWidth, inBoxes = %t;
  const name = e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " " + JSON.stringify(e.innerText.slice(0, 30));
  const right = e => Math.round(e.getBoundingClientRect().right);
  const boxes = Array.from(document.querySelectorAll(".scroll")).filter(e => inBoxes && e.scrollWidth > e.clientWidth + 1)
    .map(e => "a table scrolls sideways, hiding " + Array.from(e.querySelectorAll("th")).filter(c => right(c) > right(e) + 1).map(name).join(", "));
  if (document.documentElement.scrollWidth <= w) return boxes;
  return boxes.concat(Array.from(document.querySelectorAll("main *, header *")).filter(e => right(e) > w + 1 && !e.closest(".scroll"))
    .slice(0, 5).map(e => name(e) + " ends at " + right(e) + " > " + w));
})()`, size[0] >= 1366), &over)
			if len(over) > 0 {
				b.Shot(fmt.Sprintf("too-wide-%d-%s", size[0], p))
				t.Errorf("%s at %d×%d is wider than the window: %q", p, size[0], size[1], over)
			}
		}
	}
	b.Run("window back to 1280×900", chromedp.EmulateViewport(1280, 900))
}

// printLabel prints the label in a layout (the print button's
// data-print value) to PDF, checks the paper size in millimetres and
// returns the PDF's text.
func printLabel(t *testing.T, b *browser.Browser, layout string, wmm, hmm float64) string {
	t.Helper()
	var ok bool
	b.Eval(fmt.Sprintf(`document.body.classList.remove("print-label","print-a4"); document.body.classList.add("print-%s"); true`, layout), &ok)
	pdf := b.PDF(true)
	dir := t.TempDir()
	p := filepath.Join(dir, layout+".pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(browser.ScreenshotDirOf(t), "label-"+layout+".pdf")
	_ = os.WriteFile(shots, pdf, 0o644)
	info, err := exec.Command("pdfinfo", p).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo (poppler-utils, deploy/testenv/chromium.sh): %v\n%s", err, info)
	}
	m := regexp.MustCompile(`Page size:\s+([\d.]+) x ([\d.]+) pts`).FindStringSubmatch(string(info))
	pages := regexp.MustCompile(`Pages:\s+(\d+)`).FindStringSubmatch(string(info))
	if m == nil || pages == nil {
		t.Fatalf("pdfinfo: no page size:\n%s", info)
	}
	var w, h float64
	fmt.Sscan(m[1], &w)
	fmt.Sscan(m[2], &h)
	const ptPerMM = 72 / 25.4
	if abs(w-wmm*ptPerMM) > 2 || abs(h-hmm*ptPerMM) > 2 || pages[1] != "1" {
		t.Errorf("%s layout: %s pages of %.1f × %.1f mm, want one page of %.0f × %.0f mm", layout, pages[1], w/ptPerMM, h/ptPerMM, wmm, hmm)
	}
	text, err := exec.Command("pdftotext", "-enc", "UTF-8", p, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, text)
	}
	return string(text)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// checkXLSX checks that data is an Excel workbook: a zip with the parts
// every xlsx has.
func checkXLSX(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("the downloaded export is not a zip (%d bytes): %v", len(data), err)
	}
	have := map[string]bool{}
	for _, f := range zr.File {
		have[f.Name] = true
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("xlsx entry %s: %v", f.Name, err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(rc); err != nil {
			t.Fatalf("xlsx entry %s: %v", f.Name, err)
		}
		rc.Close()
	}
	for _, want := range []string{"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} {
		if !have[want] {
			t.Errorf("the workbook lacks %s (entries: %v)", want, have)
		}
	}
}

// startMedgate runs medgate with the ledger, ecard and tracecode plugins
// (the latter against the trace-code simulator) and an admin token, on
// real Kafka when it is installed.
func startMedgate(t *testing.T) *harness.Medgate {
	t.Helper()
	var brokers []string
	t.Run("kafka", func(t *testing.T) { brokers = testenv.Kafka(t) }) // skipped: the embedded broker
	sim := tracecode.New(tracecode.Options{AppID: "console-app", AppSecret: appSecret, OrgCode: "H35020300001", Seed: 7, BillsPerDay: 2})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, brokers)
	if len(brokers) == 0 {
		cfg.Embedded = true
		cfg.Listen = testenv.FreeAddr(t)
		cfg.Brokers = []string{cfg.Listen}
	}
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
	cfg.Extra["http"] = map[string]any{"listen": "127.0.0.1:0", "adminToken": secret("admin-token", adminToken)}
	cfg.Extra["processing"] = map[string]any{"initialBackoff": "10ms", "maxBackoff": "50ms", "maxAttempts": 2, "breakerThreshold": -1}
	cfg.Plugins = append(cfg.Plugins, "ecard", "tracecode")
	plugins := cfg.Sites[0]["plugins"].(map[string]any)
	plugins["ecard"] = map[string]any{"settings": map[string]any{
		"identitySecret":   secret("identity", "console-identity-secret-0123456789abcdef"),
		"qrKeys":           secret("qrkeys", "A:00112233445566778899aabbccddeeff"),
		"tempCardPrefixes": "9",
	}}
	plugins["tracecode"] = map[string]any{"settings": map[string]any{
		"baseUrl": srv.URL, "appId": "console-app", "appSecret": secret("app-secret", appSecret), "orgCode": "H35020300001", "orgName": "示例医院",
		"productItemMap": "8100001=YP0001,8100002=YP0002,8100003=YP0003,8100004=YP0004,8100005=YP0005",
		"exportDir":      filepath.Join(cfg.Dir, "exports"),
	}}
	return harness.Start(t, bins, cfg.Write(t, bins))
}

// ingress sends messages as the HIS does, through POST /v1/messages.
type ingress struct {
	t    *testing.T
	addr string
	mg   *harness.Medgate
}

// call posts one message of the site s1 and returns the HTTP status and
// the reply.
func (in ingress) call(typ string, payload any) (int, harness.Reply) {
	in.t.Helper()
	body, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("call-%d", time.Now().UnixNano()), "site": "s1", "type": typ, "payload": payload})
	resp, err := http.Post("http://"+in.addr+"/v1/messages", "application/json", bytes.NewReader(body))
	if err != nil {
		in.t.Fatalf("send %s: %v", typ, err)
	}
	defer resp.Body.Close()
	var r harness.Reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		in.t.Fatalf("send %s: HTTP %d, reply: %v", typ, resp.StatusCode, err)
	}
	return resp.StatusCode, r
}

// errorRules lists the rules of a reply's errors.
func errorRules(r harness.Reply) []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Rule)
	}
	return out
}

// send posts one message and waits for its reply.
func (in ingress) send(id, key, typ string, payload any, occurred time.Time) {
	in.t.Helper()
	body, _ := json.Marshal(map[string]any{"id": id, "site": "s1", "type": typ, "occurredAt": occurred.Format(time.RFC3339), "payload": payload})
	req, _ := http.NewRequest("POST", "http://"+in.addr+"/v1/messages", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Medgate-Key", key)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("send %s: %v", id, err)
	}
	defer resp.Body.Close()
	in.t.Logf("sent %s: HTTP %d in %s", id, resp.StatusCode, time.Since(t0))
	var r harness.Reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		in.t.Fatalf("send %s: HTTP %d, reply: %v", id, resp.StatusCode, err)
	}
	if r.Status == "" {
		in.t.Fatalf("send %s: HTTP %d without a status; medgate's log:\n%s", id, resp.StatusCode, in.mg.Logs())
	}
}
