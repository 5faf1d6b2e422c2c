package browser_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// readsInChinese is run in a console page: it returns what a reader of
// Chinese cannot understand there, each as "what: text":
//   - English only: an element (a paragraph, a cell, a button, a link …)
//     whose own text has two English words in a row ("No reply stored
//     yet") while its text has no Chinese, or mostly English: eight
//     English words or more and fewer than half as many Chinese
//     characters (a Chinese label before a long English explanation).
//     Code (pre, code), form values and what plugins, external systems
//     or people wrote (marked data-data) are left out;
//   - a status shown as its code only: a .pill without Chinese ("failed");
//   - a time without its zone: a value that is a date and time of day
//     ("2026-12-05 10:00", "有效期至 2026-12-05 10:00") without
//     "UTC+hh:mm" after it. A time inside a plugin's Chinese sentence is
//     the plugin's (ecard states them in Beijing time), and the label
//     printed for the patient (.label-card) reads as labels do.
const readsInChinese = `(() => {
  const words = /[A-Za-z]{2,}\s+[A-Za-z]{2,}/;
  const count = (t, re) => (t.match(re) || []).length;
  const when = /^\S{0,6}\s*\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?$/;
  const data = "pre, code, script, style, textarea, [data-data]";
  const label = ".label-card";
  const textOf = e => {
    const c = e.cloneNode(true);
    c.querySelectorAll(data).forEach(x => x.remove());
    return (c.textContent || "").replace(/\s+/g, " ").trim();
  };
  const out = [], seen = new Set();
  for (const e of document.body.querySelectorAll("*")) {
    if (e.closest(data)) continue;
    const own = Array.from(e.childNodes).filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent).join(" ");
    if (!own.trim()) continue;
    const t = textOf(e), han = count(t, /\p{Script=Han}/gu), en = count(t, /[A-Za-z]{2,}/g);
    if (seen.has(t)) continue;
    if (words.test(own) && han === 0) { seen.add(t); out.push("English only: " + t.slice(0, 160)); }
    else if (en >= 8 && han * 2 < en) { seen.add(t); out.push("mostly English: " + t.slice(0, 160)); }
    if (when.test(own.trim()) && !e.closest(label)) out.push("time without its zone: " + own.trim().slice(0, 80));
  }
  for (const p of document.querySelectorAll(".pill")) {
    if (!p.closest(data) && !/\p{Script=Han}/u.test(p.textContent)) out.push("status as its code only: " + p.textContent.trim());
  }
  for (const a of document.querySelectorAll("[title], [data-confirm]")) {
    for (const k of ["title", "data-confirm"]) {
      const v = a.getAttribute(k);
      if (v && words.test(v) && !/\p{Script=Han}/u.test(v)) out.push("English only (" + k + "): " + v);
    }
  }
  return out;
})()`

// TestConsoleReadsInChinese opens every console page in Chromium as the
// hospital's staff do (the cashier and the pharmacist are operators, the
// insurance clerk a viewer, the administrator an admin), with messages of
// every outcome (ok, invalid, failed) and a job run, and fails on what a
// reader of Chinese cannot understand (readsInChinese): an English-only
// text, a status shown as its code only, a time without its zone. What a
// plugin declares is held to Chinese by TestZhDeclaredTexts; what the
// host's pages say is held here.
func TestConsoleReadsInChinese(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgateWith(t, func(cfg *harness.Config, _ func(name, v string) string) {
		cfg.Extra["processing"] = map[string]any{"initialBackoff": "10ms", "maxBackoff": "50ms", "maxAttempts": 2, "breakerThreshold": -1}
	})
	base := "http://" + mg.HTTPAddr
	stamp := time.Now().UnixNano()
	okID, invalidID, failedID := fmt.Sprintf("zh-ok-%d", stamp), fmt.Sprintf("zh-invalid-%d", stamp), fmt.Sprintf("zh-failed-%d", stamp)
	_, reg := post(t, base, okID, "ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	var card struct{ CardNo string }
	if err := json.Unmarshal(reg.Payload, &card); reg.Status != "ok" || err != nil || card.CardNo == "" {
		t.Fatalf("ecard.register: %+v", reg)
	}
	if _, r := post(t, base, invalidID, "ecard.register", map[string]any{}); r.Status != "invalid" {
		t.Fatalf("ecard.register without a payload: %+v", r)
	}
	if _, r := post(t, base, failedID, "ledger.fail", map[string]any{"seq": 1, "failTimes": 5}); r.Status != "failed" {
		t.Fatalf("ledger.fail: %+v", r)
	}

	b := browser.Start(t, base)
	read := func(who, what string) {
		t.Helper()
		b.WaitTrue(browser.StepTimeout, "the page loaded", `document.readyState === "complete"`)
		b.Shot(who + "-" + what)
		var problems []string
		b.Eval(readsInChinese, &problems)
		for _, p := range problems {
			t.Errorf("%s, %s: %s", who, what, p)
		}
	}
	check := func(who, path string) {
		t.Helper()
		b.Go(path)
		read(who, path)
	}
	check("a visitor", "/console/login")

	// The insurance clerk reads; the pages an operator's or admin's role
	// opens are refused to a viewer.
	b.SignIn(map[string]string{"user": viewerUser, "password": password(viewerUser)})
	for _, p := range []string{"/console/", "/console/form/ecard/print", "/console/admin/users"} {
		check("the insurance clerk (viewer)", p)
	}
	b.Go("/console/")
	b.Click(`form.who button[type=submit]`)
	b.Wait(`form[action="/console/login"] input[name=password]`)

	// The administrator sees every page the cashier and the pharmacist
	// (operators) see, and the admin pages.
	b.SignIn(map[string]string{"user": adminUser, "password": password(adminUser)})
	b.Go("/console/jobs")
	for _, p := range []string{
		"/console/", "/console/?all=1", "/console/board", "/console/jobs",
		"/console/messages", "/console/messages?status=failed", "/console/messages?from=2026-13-01T00:00",
		"/console/message?id=" + okID, "/console/message?id=" + invalidID, "/console/message?id=" + failedID,
		"/console/worklists", "/console/worklists?plugin=ecard&list=recent-cards",
		"/console/form/ecard/desk", "/console/form/ecard/scan", "/console/form/ecard/print",
		"/console/admin/sites", "/console/admin/sites/s1/ecard", // ledger, the test plugin, is not shipped

		"/console/admin/plugins", "/console/admin/users", "/console/admin/audit",
		"/console/nowhere",
	} {
		check("the administrator", p)
	}
	b.Go("/console/")
	b.Click(`form.who button[type=submit]`)
	b.Wait(`form[action="/console/login"] input[name=password]`)

	// The cashier registers a patient at the desk and scans cards: the
	// pages' answers, accepted and refused.
	_, qr := post(t, base, fmt.Sprintf("zh-qr-%d", stamp), "ecard.qrcode", map[string]any{"cardNo": card.CardNo})
	var code struct{ Text string }
	if err := json.Unmarshal(qr.Payload, &code); err != nil || code.Text == "" {
		t.Fatalf("ecard.qrcode: %+v", qr)
	}
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	b.Go("/console/form/ecard/desk")
	b.Fill(map[string]string{`input[name=name]`: "李四", `input[name=idNumber]`: "110105194912310038", `input[name=phone]`: "13912345678"})
	b.Click(`form[action="/console/form/ecard/desk"] button[type=submit]`)
	b.Wait(".label-card img.qr")
	read("the cashier (operator)", "desk registration")
	b.Go("/console/form/ecard/scan")
	for name, text := range map[string]string{"scan of an e-card": code.Text, "scan of a temporary card": "9123456789", "scan of an ID number": patientID} {
		b.Type(`form[data-scanner] input[name=text]`, text+"\r")
		b.Wait(".result, .notice.bad")
		read("the cashier (operator)", name)
		b.Go("/console/form/ecard/scan")
	}
}

// TestConsoleReadsInChineseAtThePharmacy is TestConsoleReadsInChinese for
// the pharmacist's pages: the trace-code work lists, a draft receipt
// fetched from the platform (the simulator) and changed once, and the
// export form and its answer.
func TestConsoleReadsInChineseAtThePharmacy(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startExportMedgate(t)
	base := "http://" + mg.HTTPAddr
	today := time.Now().Format("2006-01-02")
	if _, r := post(t, base, fmt.Sprintf("zh-fetch-%d", time.Now().UnixNano()), "tracecode.stockin.fetch", map[string]any{"beginDate": today, "endDate": today}); r.Status != "ok" {
		t.Fatalf("tracecode.stockin.fetch: %s %+v", r.Status, r.Errors)
	}
	_, r := post(t, base, fmt.Sprintf("zh-drafts-%d", time.Now().UnixNano()), "tracecode.drafts.list", map[string]any{})
	var list struct{ Items []struct{ ID string } }
	if err := json.Unmarshal(r.Payload, &list); err != nil || len(list.Items) == 0 {
		t.Fatalf("tracecode.drafts.list: %s %s", r.Status, r.Payload)
	}
	draft := "/console/document/tracecode/draft?site=s1&id=" + list.Items[0].ID

	b := browser.Start(t, base)
	read := func(what string) {
		t.Helper()
		b.WaitTrue(browser.StepTimeout, "the page loaded", `document.readyState === "complete"`)
		b.Shot(what)
		var problems []string
		b.Eval(readsInChinese, &problems)
		for _, p := range problems {
			t.Errorf("the pharmacist (operator), %s: %s", what, p)
		}
	}
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	for _, p := range []string{"/console/worklists?plugin=tracecode", draft, "/console/form/tracecode/export"} {
		b.Go(p)
		read(p)
	}
	b.Go(draft)
	form := `form[action="/console/document/tracecode/draft/adjust"]:has(input[name=qty])`
	b.Fill(map[string]string{form + ` [name=qty]`: "7", form + ` [name=reason]`: "少到 short-qty"})
	b.Click(form + ` button[type=submit]`)
	b.WaitText("main", "少到 short-qty")
	read("the draft changed")
	b.Go("/console/form/tracecode/export")
	b.Fill(map[string]string{`form[action="/console/form/tracecode/export"] [name=from]`: today})
	b.Click(`form[action="/console/form/tracecode/export"] button[type=submit]`)
	b.Wait(".result, .notice")
	read("the export's answer")
}
