// Package browser drives medgate's console in a real headless Chromium
// (the Debian package, installed by deploy/testenv/chromium.sh) through the
// DevTools protocol with github.com/chromedp/chromedp.
//
// A test starts one browser per test with Start, then navigates, fills in
// forms, clicks and waits for selectors. Every wait polls in the page
// (requestAnimationFrame) until the selector matches or the step's timeout
// passes; nothing sleeps. Shot writes a screenshot of the page to
// bin/test-artifacts/screenshots/<test>/<step>.png, and every failed step
// writes one too, so a failure can be seen.
//
// The binary is $MEDGATE_CHROMIUM or /usr/bin/chromium. When neither
// exists the test is skipped with the reason, unless
// MEDGATE_REQUIRE_SERVICES=1, when it fails.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// StepTimeout bounds one step (a navigation, a wait, a click) unless the
// step says otherwise.
const StepTimeout = 30 * time.Second

// Browser is one headless Chromium with one tab.
type Browser struct {
	t    testing.TB
	ctx  context.Context
	base string
	dir  string
	step int

	downloadDir string
	downloads   chan string // GUIDs of finished downloads

	mu       sync.Mutex
	dialogs  []string // messages of the prompts answered, in order
	problems []string // console errors, uncaught exceptions, failed requests
	// refusals are the requests of pages answered with a 4xx status (a
	// form re-shown with its errors): the test judges those pages itself.
	refusals map[network.RequestID]bool
}

// Binary returns the Chromium to run, or why there is none.
func Binary() (string, error) {
	if p := os.Getenv("MEDGATE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("MEDGATE_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("no Chromium: run deploy/testenv/chromium.sh (make test-services) or set MEDGATE_CHROMIUM to its path")
}

// Start launches Chromium for t; base is the URL paths are relative to
// ("http://127.0.0.1:8080"). The browser ends with the test.
func Start(t testing.TB, base string) *Browser {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("MEDGATE_REQUIRE_SERVICES") == "1" {
			t.Fatalf("browser test: %v", err)
		}
		t.Skipf("browser test skipped: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // root in containers
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// Close the browser and wait for it to exit before the test's temporary
	// directories (its profile, its downloads) are removed: a browser
	// killed without waiting still writes its profile, and the removal
	// fails with "directory not empty".
	t.Cleanup(func() { _ = chromedp.Cancel(ctx); cancelC(); cancelA() })
	b := &Browser{t: t, ctx: ctx, base: strings.TrimSuffix(base, "/"), dir: ScreenshotDir(t), downloads: make(chan string, 8), refusals: map[network.RequestID]bool{}}
	// Confirmation prompts (data-confirm) are answered "OK", as the
	// operator would; finished downloads are reported to Download.
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.mu.Lock()
			b.dialogs = append(b.dialogs, e.Message)
			b.mu.Unlock()
			go func() { _ = chromedp.Run(ctx, page.HandleJavaScriptDialog(true)) }()
		case *cdpbrowser.EventDownloadProgress:
			if e.State == cdpbrowser.DownloadProgressStateCompleted {
				b.downloads <- e.GUID
			}
		case *network.EventResponseReceived:
			if e.Type == network.ResourceTypeDocument && e.Response.Status >= 400 && e.Response.Status < 500 {
				b.mu.Lock()
				b.refusals[e.RequestID] = true
				b.mu.Unlock()
			}
		case *cdplog.EventEntryAdded:
			// Resource loads refused (4xx, 5xx), CSP and mixed-content
			// violations, deprecations the browser reports as errors.
			b.mu.Lock()
			page4xx := e.Entry.NetworkRequestID != "" && b.refusals[e.Entry.NetworkRequestID]
			b.mu.Unlock()
			if e.Entry.Level == cdplog.LevelError && !page4xx {
				b.problem(fmt.Sprintf("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.APITypeError || e.Type == cdpruntime.APITypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.problem("console." + string(e.Type) + ": " + strings.Join(args, " "))
			}
		case *cdpruntime.EventExceptionThrown:
			d := e.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			b.problem(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, text))
		case *network.EventLoadingFailed:
			// A download leaves the page as an aborted load; anything
			// else failing is a page that does not work.
			if !e.Canceled && e.ErrorText != "net::ERR_ABORTED" {
				b.problem(fmt.Sprintf("request %s failed: %s %s", e.RequestID, e.ErrorText, e.BlockedReason))
			}
		}
	})
	b.downloadDir = filepath.Join(t.TempDir(), "downloads")
	if err := chromedp.Run(ctx, cdpbrowser.SetDownloadBehavior(cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName).
		WithDownloadPath(b.downloadDir).WithEventsEnabled(true)); err != nil { // starts the browser
		t.Fatalf("start Chromium %s: %v", bin, err)
	}
	return b
}

// ScreenshotDir is bin/test-artifacts/screenshots/<test> under the module
// root, created and emptied.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	root := moduleRoot()
	name := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(t.Name(), "_")
	dir := filepath.Join(root, "bin", "test-artifacts", "screenshots", name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

// moduleRoot is the directory of go.mod above this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Context is the tab's context, for chromedp actions the helpers lack.
func (b *Browser) Context() context.Context { return b.ctx }

// Run runs actions within StepTimeout; on failure it takes a screenshot
// and fails the test with what was being done.
func (b *Browser) Run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	b.RunWithin(StepTimeout, what, actions...)
}

// RunWithin is Run with its own timeout.
func (b *Browser) RunWithin(d time.Duration, what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.Shot("failed-" + what)
		url, body := b.location()
		b.t.Fatalf("browser: %s: %v\n  page %s\n%s", what, err, url, body)
	}
}

// location returns the current URL and the start of the page's text.
func (b *Browser) location() (string, string) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	var url, text string
	_ = chromedp.Run(ctx, chromedp.Location(&url), chromedp.Evaluate(`document.body ? document.body.innerText.slice(0, 2000) : ""`, &text))
	return url, text
}

// Go opens a console path (or a full URL) and waits for its body.
func (b *Browser) Go(path string) {
	b.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.base + path
	}
	b.Run("open "+path, chromedp.Navigate(u), chromedp.WaitReady("body", chromedp.ByQuery))
}

// Wait polls until sel (a CSS selector) matches a visible element.
func (b *Browser) Wait(sel string) {
	b.t.Helper()
	b.WaitWithin(StepTimeout, sel)
}

// WaitWithin is Wait with its own timeout.
func (b *Browser) WaitWithin(d time.Duration, sel string) {
	b.t.Helper()
	b.RunWithin(d, "wait for "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery))
}

// WaitText polls until the text of the element sel contains want.
func (b *Browser) WaitText(sel, want string) {
	b.t.Helper()
	b.WaitTextWithin(StepTimeout, sel, want)
}

// WaitTextWithin is WaitText with its own timeout.
func (b *Browser) WaitTextWithin(d time.Duration, sel, want string) {
	b.t.Helper()
	expr := fmt.Sprintf(`Array.from(document.querySelectorAll(%s)).some(e => e.innerText.includes(%s))`, jsString(sel), jsString(want))
	b.poll(d, fmt.Sprintf("wait for %q in %s", want, sel), expr)
}

// WaitTrue polls until the JavaScript expression is true.
func (b *Browser) WaitTrue(d time.Duration, what, expr string) {
	b.t.Helper()
	b.poll(d, what, expr)
}

// poll evaluates expr in the page on every animation frame until it is
// true. A navigation in between (a form submitted by Enter) ends the
// page's poll; it starts again on the new page until d has passed.
func (b *Browser) poll(d time.Duration, what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	for {
		var ok bool
		err := chromedp.Run(ctx, chromedp.Poll(expr, &ok))
		if err == nil {
			return
		}
		if ctx.Err() == nil && navigated(err) {
			continue
		}
		b.Shot("failed-" + what)
		url, body := b.location()
		b.t.Fatalf("browser: %s: %v\n  page %s\n%s", what, err, url, body)
	}
}

// navigated reports whether err says the page went away under a poll.
func navigated(err error) bool {
	s := err.Error()
	return strings.Contains(s, "navigated or closed") || strings.Contains(s, "context was destroyed") ||
		strings.Contains(s, "Not attached") || strings.Contains(s, "Cannot find context")
}

// Fill sets the form fields: selector → value. Text inputs are cleared
// and typed into; selects get the value.
func (b *Browser) Fill(fields map[string]string) {
	b.t.Helper()
	for sel, v := range fields {
		b.Run("fill "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.SetValue(sel, v, chromedp.ByQuery))
	}
}

// Type focuses sel and types text key by key, as a keyboard (or a USB
// scanner, which is one) does; "\r" is Enter.
func (b *Browser) Type(sel, text string) {
	b.t.Helper()
	b.Run("type into "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Focus(sel, chromedp.ByQuery), chromedp.KeyEvent(text))
}

// Click clicks the element sel.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.Run("click "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Click(sel, chromedp.ByQuery))
}

// ClickAndWait clicks sel and waits until next matches on the page that follows.
func (b *Browser) ClickAndWait(sel, next string) {
	b.t.Helper()
	b.Click(sel)
	b.Wait(next)
}

// Text returns the visible text of the first element sel, once there is
// one. It reads the page with JavaScript, as WaitText does, not through
// chromedp's node ids: after a navigation the page started itself (a form
// submitted by Enter), chromedp may still hold the node tree of the
// previous document, and a read by node id then fails with "No node with
// given id found" although the element is on the page.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	b.poll(StepTimeout, "wait for "+sel, fmt.Sprintf(`document.querySelector(%s) !== null`, jsString(sel)))
	var s string
	b.Run("read "+sel, chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%s).innerText`, jsString(sel)), &s))
	return s
}

// Attr returns an attribute of the first element sel.
func (b *Browser) Attr(sel, name string) string {
	b.t.Helper()
	var s string
	var ok bool
	b.Run("read "+sel+"@"+name, chromedp.AttributeValue(sel, name, &s, &ok, chromedp.ByQuery))
	if !ok {
		b.t.Fatalf("browser: %s has no attribute %s", sel, name)
	}
	return s
}

// Eval evaluates a JavaScript expression and stores its JSON result in res.
func (b *Browser) Eval(expr string, res any) {
	b.t.Helper()
	b.Run("evaluate "+expr, chromedp.Evaluate(expr, res))
}

// URL returns the tab's address.
func (b *Browser) URL() string {
	b.t.Helper()
	var u string
	b.Run("location", chromedp.Location(&u))
	return u
}

// SignIn opens the sign-in page and submits it with fields (input name →
// value), then waits for the signed-in navigation.
func (b *Browser) SignIn(fields map[string]string) {
	b.t.Helper()
	b.Go("/console/login")
	sel := map[string]string{}
	for k, v := range fields {
		sel[`form[action="/console/login"] [name="`+k+`"]`] = v
	}
	b.Fill(sel)
	b.Click(`form[action="/console/login"] button[type=submit]`)
	b.Wait(`form.who`)
}

// Dialogs returns the messages of the prompts (confirm, alert) the page
// showed so far, each answered "OK".
func (b *Browser) Dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// problem records something the page did wrong.
func (b *Browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// Problems returns what went wrong in the pages so far and forgets it:
// errors in the browser's log (a resource refused with 4xx or 5xx, a
// Content-Security-Policy or mixed-content violation), console.error
// calls, uncaught exceptions and failed requests. A console page has none.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// Shot writes a full-page screenshot as <dir>/<NN>-<step>.png and returns its path.
func (b *Browser) Shot(step string) string {
	b.t.Helper()
	b.step++
	name := fmt.Sprintf("%02d-%s.png", b.step, regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(step, "_"))
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.WaitReady("body", chromedp.ByQuery), chromedp.FullScreenshot(&png, 100)); err != nil {
		b.t.Logf("browser: screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("browser: write screenshot: %v", err)
	}
	return p
}

// ElementShot returns a PNG screenshot of the element sel.
func (b *Browser) ElementShot(sel string) []byte {
	b.t.Helper()
	var png []byte
	b.Run("screenshot "+sel, chromedp.Screenshot(sel, &png, chromedp.ByQuery))
	return png
}

// PDF prints the page to PDF with its print styles (CSS @page decides the
// paper size when preferCSS is true) and returns the document.
func (b *Browser) PDF(preferCSS bool) []byte {
	b.t.Helper()
	var pdf []byte
	b.Run("print to PDF", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		pdf, _, err = page.PrintToPDF().WithPrintBackground(true).WithPreferCSSPageSize(preferCSS).Do(ctx)
		return err
	}))
	return pdf
}

// Nodes returns how many elements match sel now (no waiting).
func (b *Browser) Nodes(sel string) int {
	b.t.Helper()
	var n int
	b.Eval(fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel)), &n)
	return n
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// Download clicks sel (a link to a file) and returns the file's content
// once the browser has finished downloading it.
func (b *Browser) Download(sel string) []byte {
	b.t.Helper()
	for len(b.downloads) > 0 { // forget earlier downloads
		<-b.downloads
	}
	b.Click(sel)
	select {
	case guid := <-b.downloads:
		data, err := os.ReadFile(filepath.Join(b.downloadDir, guid))
		if err != nil {
			b.t.Fatalf("browser: read the download of %s: %v", sel, err)
		}
		return data
	case <-time.After(StepTimeout):
		b.Shot("failed-download")
		b.t.Fatalf("browser: the download of %s did not finish within %s", sel, StepTimeout)
	}
	return nil
}

// ScreenshotDirOf is the screenshot directory of t (made by Start).
func ScreenshotDirOf(t testing.TB) string {
	name := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(t.Name(), "_")
	return filepath.Join(moduleRoot(), "bin", "test-artifacts", "screenshots", name)
}
