package browser

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBrowserDrivesAForm drives a small page of its own: typed input and
// Enter submit a form, the reply page is waited for by selector, a
// screenshot and a PDF are written.
func TestBrowserDrivesAForm(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><body><form method="post" action="/echo">
<input name="code" autofocus><select name="kind"><option>a</option><option value="b">b</option></select><button type="submit">提交 Send</button></form>
<a id="file" href="/file">file</a><button id="ask" onclick="document.getElementById('answer').textContent = String(window.confirm('sure?'))">ask</button><p id="answer"></p></body></html>`)
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="data.bin"`)
		fmt.Fprint(w, "PK-file-content")
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><p id="got">收到 %s/%s</p>`, r.PostFormValue("code"), r.PostFormValue("kind"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := Start(t, srv.URL)
	b.Go("/")
	if got := string(b.Download("#file")); got != "PK-file-content" {
		t.Fatalf("download: %q", got)
	}
	b.Click("#ask") // the confirmation is answered OK
	b.WaitText("#answer", "true")
	b.Fill(map[string]string{`select[name=kind]`: "b"})
	b.Type(`input[name=code]`, "TC-0042\r") // a scanner types, then Enter
	b.WaitText("#got", "收到 TC-0042/b")
	p := b.Shot("reply")
	if data, err := os.ReadFile(p); err != nil || !bytes.HasPrefix(data, []byte("\x89PNG")) {
		t.Fatalf("screenshot %s: %v", p, err)
	}
	if filepath.Base(filepath.Dir(p)) != "TestBrowserDrivesAForm" {
		t.Errorf("screenshot directory %s", p)
	}
	if pdf := b.PDF(false); !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.20q", pdf)
	}
	if n := b.Nodes("#got"); n != 1 {
		t.Fatalf("nodes: %d", n)
	}
}

// TestBrowserReportsPageProblems: a missing image, an uncaught exception
// and console.error are reported by Problems; a page answered 422 (a form
// shown again with its errors) is not, nor is a page without problems.
func TestBrowserReportsPageProblems(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>`)
	})
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><img src="/missing.png" alt="x"><script>console.error("boom-logged"); throw new Error("boom-thrown")</script><p id="x">x</p>`)
	})
	mux.HandleFunc("GET /refused", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><p id="x">请检查输入 check the fields</p>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := Start(t, srv.URL)
	b.Go("/refused")
	b.Wait("#x")
	if p := b.Problems(); len(p) != 0 {
		t.Errorf("a page answered 422 reported %q, want nothing", p)
	}
	b.Go("/bad")
	b.Wait("#x")
	want := []string{"missing.png", "boom-logged", "boom-thrown"}
	var got []string
	b.WaitTrue(StepTimeout, "the problems reported", `document.readyState === "complete"`)
	deadline := time.Now().Add(StepTimeout)
	for {
		got = append(got, b.Problems()...)
		all := strings.Join(got, "\n")
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return strings.Contains(all, w) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Problems reported %q, lacking %q", got, missing)
		}
		b.WaitTrue(StepTimeout, "the next frame", `new Promise(r => requestAnimationFrame(() => r(true)))`)
	}
}
