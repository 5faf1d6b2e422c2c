package browser_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/testenv"
)

// TestAdminOnlyECardPagesInChromium goes through this round's admin-only
// e-card pages (电子卡更正姓名, 电子卡更正手机号, 电子卡注销) as the
// people who use them, in one Chromium:
//   - an operator (the cashier) does not find them in the navigation; a
//     typed address answers a console page (not a bare 403 body) that
//     says, Chinese first, which role is needed, and on which every
//     console page check holds;
//   - the administrator opens 电子卡更正手机号 from the navigation and
//     corrects a phone by keyboard only: Tab reaches every field in order,
//     each field's label is tied to it, a wrong number is refused with its
//     message beside the field, and the correction shows the numbers masked.
//
// Every page: lang="zh-CN", a Chinese title, the Content-Security-Policy
// header, nothing from another origin, no console error, no refused
// resource, and the readsInChinese checks.
func TestAdminOnlyECardPagesInChromium(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgate(t)
	base := "http://" + mg.HTTPAddr
	_, reg := post(t, base, fmt.Sprintf("adminforms-reg-%d", time.Now().UnixNano()), "ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	var card struct{ CardNo string }
	if err := json.Unmarshal(reg.Payload, &card); reg.Status != "ok" || err != nil || card.CardNo == "" {
		t.Fatalf("ecard.register: %+v", reg)
	}

	b := browser.Start(t, base)
	// The headers of each page the tab opens.
	var mu sync.Mutex
	headers := map[string]network.Headers{}
	chromedp.ListenTarget(b.Context(), func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && e.Type == network.ResourceTypeDocument {
			mu.Lock()
			headers[e.Response.URL] = e.Response.Headers
			mu.Unlock()
		}
	})
	check := func(who, what string) {
		t.Helper()
		b.WaitTrue(browser.StepTimeout, "the page loaded", `document.readyState === "complete"`)
		b.Shot(who + "-" + what)
		var problems []string
		b.Eval(pageChecks, &problems)
		var zh []string
		b.Eval(readsInChinese, &zh)
		problems = append(problems, zh...)
		problems = append(problems, b.Problems()...)
		u := b.URL()
		mu.Lock()
		h := headers[u]
		mu.Unlock()
		if csp, _ := h["Content-Security-Policy"].(string); !strings.Contains(csp, "script-src 'self'") {
			problems = append(problems, fmt.Sprintf("the page %s has no Content-Security-Policy with script-src 'self' (%q)", u, csp))
		}
		for _, p := range problems {
			t.Errorf("%s, %s: %s", who, what, p)
		}
	}

	adminForms := []string{"rename", "phone", "revoke"}

	// The cashier (an operator).
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	b.WaitText("form.who", operatorUser)
	for _, f := range adminForms {
		if n := b.Nodes(`header nav a[href^="/console/form/ecard/` + f + `"]`); n != 0 {
			t.Errorf("an operator's navigation links the admin-only form ecard/%s", f)
		}
	}
	if n := b.Nodes(`header nav a[href^="/console/form/ecard/desk"]`); n != 1 {
		t.Errorf("an operator's navigation links the desk %d time(s), want once (the navigation is there)", n)
	}
	check("operator", "overview")
	for _, f := range adminForms {
		b.Go("/console/form/ecard/" + f + "?site=s1&cardNo=" + card.CardNo)
		b.Wait("header form.who") // the console's page, signed in, not a bare body
		h1 := b.Text("main .notice.bad h1")
		if !strings.Contains(h1, "需要角色") || !strings.Contains(h1, "admin") || englishLead(h1) != "" {
			t.Errorf("the typed address of ecard/%s answers the heading %q; want it to say, Chinese first, that the role admin is needed", f, h1)
		}
		if detail := b.Text("main .notice.bad"); !strings.Contains(detail, "管理员") {
			t.Errorf("the refusal of ecard/%s does not name the role in Chinese (管理员): %q", f, detail)
		}
		if n := b.Nodes(`form[action="/console/form/ecard/` + f + `"]`); n != 0 {
			t.Errorf("the refusal of ecard/%s still shows the form", f)
		}
		check("operator", "typed /console/form/ecard/"+f)
	}
	b.Go("/console/")
	b.Click(`form.who button[type=submit]`)
	b.Wait(`form[action="/console/login"] input[name=password]`)

	// The administrator corrects the phone, by keyboard only.
	b.SignIn(map[string]string{"user": adminUser, "password": password(adminUser)})
	for _, f := range adminForms {
		if n := b.Nodes(`header nav a[href^="/console/form/ecard/` + f + `"]`); n != 1 {
			t.Errorf("an admin's navigation links ecard/%s %d time(s), want once", f, n)
		}
	}
	for _, f := range adminForms {
		b.Go("/console/form/ecard/" + f)
		b.Wait(`form[action="/console/form/ecard/` + f + `"] button[type=submit]`)
		check("admin", "/console/form/ecard/"+f)
		for _, miss := range tabWalk(t, b) {
			t.Errorf("ecard/%s: Tab never reaches %s", f, miss)
		}
	}
	form := `form[action="/console/form/ecard/phone"]`
	b.Go("/console/")
	b.Click(`header nav a[href^="/console/form/ecard/phone"]`)
	b.Wait(form + ` input[name=cardNo]`)
	// Each field's label is tied to it and names it in Chinese; Tab goes
	// through them in the order shown.
	var fields []struct{ Name, Label string }
	b.Eval(`Array.from(document.querySelectorAll('`+form+` input:not([type=hidden]), `+form+` select')).map(f => ({Name: f.name, Label: f.labels && f.labels.length ? f.labels[0].innerText.trim() : ""}))`, &fields)
	var order []string
	for _, f := range fields {
		order = append(order, f.Name)
		if !regexp.MustCompile(`\p{Han}`).MatchString(f.Label) {
			t.Errorf("the phone form's field %s has no label in Chinese tied to it: %q", f.Name, f.Label)
		}
	}
	if want := "site cardNo idNumber phone reason"; strings.Join(order, " ") != want {
		t.Errorf("the phone form's fields are %q, want %q", order, want)
	}
	var ok bool
	b.Eval(`document.querySelector('`+form+` select[name=site]').focus(); true`, &ok)
	// From the site, Tab, then type each field, Tab, …, Enter: a wrong
	// number first.
	b.Run("type the correction with a wrong number, Enter", chromedp.KeyEvent("\t"+card.CardNo+"\t"+patientID+"\t"+"1381234\t"+"登记时手机号输错\r"))
	b.WaitTrue(browser.StepTimeout, "the refusal", `document.querySelector("main .notice.bad") !== null && document.readyState === "complete"`)
	check("admin", "phone refused")
	var near struct {
		Invalid, Described bool
		Text               string
		Focus              string
	}
	b.Eval(`(() => {
  const f = document.querySelector('`+form+` input[name=phone]');
  const ids = (f.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  const text = ids.map(id => (document.getElementById(id) || {}).innerText || "").join(" ");
  return {Invalid: f.getAttribute("aria-invalid") === "true", Described: ids.length > 0, Text: text, Focus: document.activeElement ? document.activeElement.name || "" : ""};
})()`, &near)
	if !near.Invalid || !near.Described || !strings.Contains(near.Text, "phone") && !regexp.MustCompile(`手机`).MatchString(near.Text) {
		t.Errorf("the refused phone is not marked beside its field (aria-invalid %v, aria-describedby text %q)", near.Invalid, near.Text)
	}
	if near.Focus != "phone" {
		t.Errorf("after the refusal the cursor is in %q, want the refused field phone", near.Focus)
	}
	// The right number: with the cursor in the refused field, retype it.
	b.Eval(`(() => { const f = document.querySelector('`+form+` input[name=phone]'); f.focus(); f.select(); return true; })()`, &ok)
	b.Run("retype the number, Enter", chromedp.KeyEvent("13987654321\r"))
	b.WaitText("main .result", "****")
	result := b.Text("main")
	if strings.Contains(result, "13987654321") || strings.Contains(result, "13812345678") || strings.Contains(result, patientID) {
		t.Errorf("the corrected phone page shows a number unmasked:\n%s", result)
	}
	if !strings.Contains(result, card.CardNo) {
		t.Errorf("the corrected phone page does not show the card %s:\n%s", card.CardNo, result)
	}
	check("admin", "phone corrected")
	if logs := mg.Logs(); strings.Contains(logs, "13987654321") || strings.Contains(logs, patientID) {
		t.Error("medgate's log contains the new phone number or the ID number unmasked")
	}
}
