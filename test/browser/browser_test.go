package browser

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
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
