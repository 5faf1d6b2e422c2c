package browser_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/testenv"
)

// TestOutsideConsoleCrawl follows every link of the console in Chromium,
// signed in as an administrator (who sees every page), from the overview
// on: each page the links reach is opened, and on each
//   - nothing goes wrong in the browser (console errors, uncaught
//     exceptions, failed or refused resources);
//   - every link answers (same-origin links are fetched with the
//     session; an in-page #anchor names an element that exists);
//   - every form works from the keyboard: each visible field and button
//     is reached by Tab, in order, each field has a name a screen reader
//     reads (a label, aria-label or title), and each form has a submit
//     button, so Enter in a field sends it;
//   - at 1366×768 and in a 390×844 window the page is no wider than the
//     window (wide tables scroll in their own box).
//
// Pages reached by many links of one kind (a message, a document) are
// opened up to three times per path and query keys.
func TestOutsideConsoleCrawl(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startExportMedgate(t)
	base := "http://" + mg.HTTPAddr
	// Something on the pages: a card, a refused message, an export.
	post(t, base, fmt.Sprintf("crawl-reg-%d", time.Now().UnixNano()), "ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	post(t, base, fmt.Sprintf("crawl-bad-%d", time.Now().UnixNano()), "ecard.register", map[string]any{})
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	post(t, base, fmt.Sprintf("crawl-fetch-%d", time.Now().UnixNano()), "tracecode.stockin.fetch", map[string]any{"beginDate": today, "endDate": today})

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": adminUser, "password": password(adminUser)})
	client := sessionClient(t, b, base)

	// Up to perKind pages of each kind (a message that went through and
	// one refused, two documents), maxPages in all.
	const maxPages, perKind = 60, 3
	queue := []string{"/console/"}
	seen := map[string]int{pageKind("/console/"): 1}
	queued := map[string]bool{"/console/": true}
	checked := map[string]int{} // link → HTTP status
	opened := 0
	for len(queue) > 0 && opened < maxPages {
		opened++
		p := queue[0]
		queue = queue[1:]
		for _, size := range [][2]int64{{1366, 768}, {390, 844}} {
			b.Run(fmt.Sprintf("window %d×%d", size[0], size[1]), chromedp.EmulateViewport(size[0], size[1]))
			b.Go(p)
			b.WaitTrue(browser.StepTimeout, "the page loaded", `document.readyState === "complete"`)
			var over []string
			b.Eval(`(() => {
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= w) return [];
  const right = e => Math.round(e.getBoundingClientRect().right);
  return Array.from(document.querySelectorAll("main *, header *")).filter(e => right(e) > w + 1 && !e.closest(".scroll"))
    .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " " + JSON.stringify(e.innerText.slice(0, 40)) + " ends at " + right(e) + " > " + w);
})()`, &over)
			if len(over) > 0 {
				b.Shot(fmt.Sprintf("too-wide-%d", size[0]))
				t.Errorf("%s at %d×%d is wider than the window: %q", p, size[0], size[1], over)
			}
		}
		b.Run("window 1366×768", chromedp.EmulateViewport(1366, 768))
		b.Go(p)
		b.WaitTrue(browser.StepTimeout, "the page loaded", `document.readyState === "complete"`)
		for _, pr := range b.Problems() {
			t.Errorf("%s went wrong in Chromium: %s", p, pr)
		}
		var page struct {
			Links, MissingAnchors []string
			Unlabelled, NoSubmit  []string
		}
		b.Eval(`(() => {
  const visible = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) && getComputedStyle(e).visibility !== "hidden";
  const name = e => e.tagName.toLowerCase() + (e.name ? "[name=" + e.name + "]" : "") + (e.id ? "#" + e.id : "");
  const links = [], missing = [];
  for (const a of document.querySelectorAll("a[href]")) {
    const raw = a.getAttribute("href");
    if (raw.startsWith("#")) {
      if (raw.length > 1 && !document.getElementById(decodeURIComponent(raw.slice(1)))) missing.push(raw);
      continue;
    }
    links.push(a.href);
  }
  const unlabelled = [];
  for (const f of document.querySelectorAll("input, select, textarea")) {
    if (f.type === "hidden" || f.type === "submit" || f.type === "button" || !visible(f)) continue;
    const labelled = (f.labels && f.labels.length > 0 && Array.from(f.labels).some(l => l.innerText.trim() !== "")) ||
      (f.getAttribute("aria-label") || "").trim() !== "" || (f.title || "").trim() !== "" || f.getAttribute("aria-labelledby");
    if (!labelled) unlabelled.push((f.form ? (f.form.getAttribute("action") || "") + " " : "") + name(f));
  }
  const noSubmit = [];
  for (const f of document.querySelectorAll("form")) {
    if (!visible(f)) continue;
    if (!f.querySelector("button:not([type]), button[type=submit], input[type=submit]")) noSubmit.push(f.getAttribute("action") || "(no action)");
  }
  return {Links: links, MissingAnchors: missing, Unlabelled: unlabelled, NoSubmit: noSubmit};
})()`, &page)
		for _, a := range page.MissingAnchors {
			t.Errorf("%s links %s, but no element has that id", p, a)
		}
		for _, f := range page.Unlabelled {
			t.Errorf("%s: the field %s has no label a screen reader reads (label, aria-label or title)", p, f)
		}
		for _, f := range page.NoSubmit {
			t.Errorf("%s: the form %s has no submit button: Enter does not send it", p, f)
		}
		for _, miss := range tabWalk(t, b) {
			t.Errorf("%s: Tab never reaches %s: it cannot be used without a mouse", p, miss)
		}
		for _, l := range page.Links {
			u, err := url.Parse(l)
			if err != nil || u.Host != mg.HTTPAddr {
				continue // another site: not ours to check here
			}
			u.Fragment = ""
			link := u.RequestURI()
			if _, done := checked[link]; !done {
				checked[link] = status(t, client, base+link)
			}
			if st := checked[link]; st >= 400 {
				t.Errorf("%s links %s, which answers HTTP %d", p, link, st)
				continue
			}
			if strings.HasPrefix(u.Path, "/console/") && !strings.HasPrefix(u.Path, "/console/download/") && !queued[link] && seen[pageKind(link)] < perKind {
				seen[pageKind(link)]++
				queued[link] = true
				queue = append(queue, link)
			}
		}
	}
	if len(seen) < 10 {
		t.Errorf("the crawl reached only %d kinds of page from the overview: %v", len(seen), slices.Sorted(maps.Keys(seen)))
	}
	t.Logf("opened %d pages of %d kinds, checked %d links", opened, len(seen), len(checked))
}

// pageKind is a link's path and sorted query keys: one page of each kind
// is opened.
func pageKind(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	var ks []string
	for k := range u.Query() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return u.Path + "?" + strings.Join(ks, "&")
}

// tabWalk presses Tab from the top of the page until the focus leaves
// the page or comes back to where it was (at most 250 presses) and
// returns the visible fields and buttons of forms it never reached.
func tabWalk(t *testing.T, b *browser.Browser) []string {
	t.Helper()
	var ok bool
	b.Eval(`(() => {
  document.querySelectorAll("[data-tabseen]").forEach(e => e.removeAttribute("data-tabseen"));
  // Start at the top: focus a mark before everything (not itself in the
  // Tab order), as a page just opened with nothing focused.
  const start = document.createElement("span");
  start.tabIndex = -1;
  document.body.prepend(start);
  start.focus();
  return true;
})()`, &ok)
	var path []string
	for range 250 {
		var at string
		b.Run("press Tab", chromedp.KeyEvent("\t"))
		b.Eval(`(() => {
  const e = document.activeElement;
  const name = e ? e.tagName.toLowerCase() + (e.name ? "[name=" + e.name + "]" : "") + (e.getAttribute("href") ? "[href=" + e.getAttribute("href") + "]" : "") : "none";
  // Tab moves through the parts of a date or time field (year, month,
  // day…) before it leaves it: the same field again is not a cycle.
  if (e && e === window.__tabLast) return name;
  window.__tabLast = e;
  if (!e || e === document.body || e.hasAttribute("data-tabseen")) return "stop " + name;
  e.setAttribute("data-tabseen", "1");
  return name;
})()`, &at)
		if len(path) == 0 || path[len(path)-1] != at {
			path = append(path, at)
		}
		if strings.HasPrefix(at, "stop ") {
			break
		}
	}
	var missed []string
	b.Eval(`(() => {
  const visible = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) && getComputedStyle(e).visibility !== "hidden";
  return Array.from(document.querySelectorAll("form button, form input, form select, form textarea"))
    .filter(e => visible(e) && !e.disabled && e.type !== "hidden" && !e.hasAttribute("data-tabseen"))
    .map(e => e.tagName.toLowerCase() + (e.name ? "[name=" + e.name + "]" : "") + " in form " + (e.closest("form").getAttribute("action") || ""));
})()`, &missed)
	if len(missed) > 0 {
		t.Logf("Tab went through %q", path)
	}
	return missed
}

// sessionClient is an HTTP client with the browser's session cookies,
// which never follows redirects (a redirect is an answer).
func sessionClient(t *testing.T, b *browser.Browser, base string) *http.Client {
	t.Helper()
	var cookies []*network.Cookie
	b.Run("read the session cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base + "/console/"}).Do(ctx)
		return err
	}))
	if len(cookies) == 0 {
		t.Fatal("the browser has no session cookie after signing in")
	}
	jar := &cookieJar{}
	for _, c := range cookies {
		jar.cookies = append(jar.cookies, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(*url.URL, []*http.Cookie) {}
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie     { return j.cookies }
func status(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Errorf("GET %s: %v", u, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
