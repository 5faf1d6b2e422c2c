package browser_test

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/testenv"
)

// pageChecks is run in a console page: what the page lacks that every
// console page has, each as a sentence: lang="zh-CN" on the document, a
// title with Chinese in it, and no subresource (script, style, image)
// from another origin or over plain http from an https page (mixed
// content).
const pageChecks = `(() => {
  const out = [];
  if (document.documentElement.lang !== "zh-CN") out.push("html lang is " + JSON.stringify(document.documentElement.lang) + ", want zh-CN");
  if (!/\p{Script=Han}/u.test(document.title)) out.push("the title " + JSON.stringify(document.title) + " has no Chinese");
  for (const e of performance.getEntriesByType("resource")) {
    const u = new URL(e.name, location.href);
    if (u.protocol === "data:") continue;
    if (u.origin !== location.origin) out.push("a resource from another origin: " + e.name);
    if (location.protocol === "https:" && u.protocol === "http:") out.push("mixed content: " + e.name);
  }
  return out;
})()`

// TestSignInLockoutSaysWhenInChromium: a user locked out after too many
// wrong passwords reads on the sign-in page, in Chinese, when to try
// again: the time of day (in the console's zone, with its offset) at
// which the lockout ends, matching the Retry-After the page was answered
// with, not only a header a browser does not show.
func TestSignInLockoutSaysWhenInChromium(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgate(t)
	b := browser.Start(t, "http://"+mg.HTTPAddr)
	var mu sync.Mutex
	var retry []string
	chromedp.ListenTarget(b.Context(), func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && e.Type == network.ResourceTypeDocument && e.Response.Status == http.StatusTooManyRequests {
			v, _ := e.Response.Headers["Retry-After"].(string)
			mu.Lock()
			retry = append(retry, v)
			mu.Unlock()
		}
	})
	form := `form[action="/console/login"]`
	var before time.Time
	for i := range 6 { // console.lockout.failures (5), then one more
		b.Go("/console/login")
		b.Fill(map[string]string{form + ` [name=user]`: viewerUser, form + ` [name=password]`: fmt.Sprintf("wrong-%d", i)})
		before = time.Now()
		b.Click(form + ` button[type=submit]`)
		b.Wait(`.notice.bad[role=alert]`)
	}
	b.WaitText(`.notice.bad[role=alert]`, "登录失败次数过多")
	b.Shot("locked-out")
	notice := b.Text(`.notice.bad[role=alert]`)
	mu.Lock()
	got := append([]string(nil), retry...)
	mu.Unlock()
	if len(got) == 0 {
		t.Fatalf("the locked-out sign-in was not answered 429; the page says %q", notice)
	}
	secs, err := strconv.Atoi(got[len(got)-1])
	if err != nil || secs <= 0 {
		t.Fatalf("Retry-After %q", got[len(got)-1])
	}
	// The time the page names: HH:MM in the console's zone (Asia/Shanghai).
	m := regexp.MustCompile(`(\d\d):(\d\d)(?::\d\d)?\s*[（(]?UTC\+08:00`).FindStringSubmatch(notice)
	if m == nil {
		t.Fatalf("the lockout page names no time of day (UTC+08:00) to sign in again; it says %q", notice)
	}
	cst := time.FixedZone("UTC+8", 8*3600)
	end := before.Add(time.Duration(secs) * time.Second).In(cst)
	hh, _ := strconv.Atoi(m[1])
	mm, _ := strconv.Atoi(m[2])
	named := time.Date(end.Year(), end.Month(), end.Day(), hh, mm, 0, 0, cst)
	if d := named.Sub(end); d < -2*time.Minute || d > 2*time.Minute {
		if d2 := named.Add(24 * time.Hour).Sub(end); d2 < -2*time.Minute || d2 > 2*time.Minute {
			t.Errorf("the lockout page says to sign in again at %s:%s; Retry-After %d s ends at %s", m[1], m[2], secs, end.Format("15:04:05"))
		}
	}
	if i := strings.Index(notice, m[0]); englishLead(notice) != "" || !regexp.MustCompile(`\p{Han}`).MatchString(notice[:max(i, 0)]) {
		t.Errorf("the lockout page does not say when in Chinese first: %q", notice)
	}
	var zh []string
	b.Eval(readsInChinese, &zh)
	for _, p := range zh {
		t.Errorf("the lockout page: %s", p)
	}
	b.Eval(pageChecks, &zh)
	for _, p := range zh {
		t.Errorf("the lockout page: %s", p)
	}
	for _, p := range b.Problems() {
		t.Errorf("the lockout page went wrong in Chromium: %s", p)
	}
}
