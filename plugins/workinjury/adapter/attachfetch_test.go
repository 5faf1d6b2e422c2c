package adapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// docStore is a hospital document store behind an httptest server: the
// documents under /docs/ (allowed in the tests' attachmentSources) and
// /private/ (not allowed), redirects, a missing and a slow document.
type docStore struct {
	srv     *httptest.Server
	content atomic.Pointer[[]byte] // of /docs/a.pdf and /private/a.pdf
	big     []byte                 // /docs/big.pdf
	gets    atomic.Int64
}

func newDocStore(t testing.TB, content []byte) *docStore {
	t.Helper()
	d := &docStore{big: bytes.Repeat([]byte("x"), 4096)}
	d.content.Store(&content)
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, _ *http.Request) {
		d.gets.Add(1)
		_, _ = w.Write(*d.content.Load())
	}
	mux.HandleFunc("/docs/a.pdf", serve)
	mux.HandleFunc("/private/a.pdf", serve)
	mux.HandleFunc("/docs/big.pdf", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(d.big) })
	mux.HandleFunc("/docs/in", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/docs/a.pdf", http.StatusFound) })
	mux.HandleFunc("/docs/out", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/private/a.pdf", http.StatusFound) })
	mux.HandleFunc("/docs/down", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/docs/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/docs/loop", http.StatusFound) })
	mux.HandleFunc("/docs/slow", func(w http.ResponseWriter, r *http.Request) {
		// Answers only after the client gave up, or late enough that a
		// fetch that ignored the call's context fails the test.
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
			_, _ = w.Write(*d.content.Load())
		}
	})
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

// linkedUpload is a GYU002 input with one item linking url.
func linkedUpload(url any, size int) map[string]any {
	return map[string]any{"biz_type": "1", "biz_no": "LOCAL0001", "attachments": []any{map[string]any{
		"attachment_type": "01", "file_name": "工伤认定书.pdf", "file_format": "pdf", "file_size": size, "file_url": url}}}
}

// sentContent returns the file_content of the items of the GYU002
// requests the simulator received, and fails if one carries file_url.
func sentContent(t testing.TB, sim *wisim.Server) []string {
	t.Helper()
	var out []string
	for _, r := range sim.Received("GYU002") {
		atts, _ := r.Input["attachments"].([]any)
		for _, x := range atts {
			att := x.(map[string]any)
			if _, ok := att[fileURLField]; ok {
				t.Errorf("the national request carries file_url, a medgate extension: %v", att)
			}
			out = append(out, str(att, "file_content"))
		}
	}
	return out
}

func TestAttachmentLinks(t *testing.T) {
	t.Parallel()
	content := []byte("%PDF-1.4 工伤认定决定书 scanned")
	d := newDocStore(t, content)
	base := d.srv.URL
	hostport := strings.TrimPrefix(base, "http://")
	allow := []string{setAttachmentSources, base + "/docs/"}
	tests := map[string]struct {
		settings []string
		item     map[string]any
		want     sdk.Status
		field    string // with rule, a diagnostic the response must have
		rule     string
		says     string // in that diagnostic's summary
	}{
		"allowed":                {settings: allow, item: linkedUpload(base+"/docs/a.pdf", len(content)), want: sdk.StatusOK},
		"allowed with a query":   {settings: allow, item: linkedUpload(base+"/docs/a.pdf?token=s3cret", len(content)), want: sdk.StatusOK},
		"redirect inside prefix": {settings: allow, item: linkedUpload(base+"/docs/in", len(content)), want: sdk.StatusOK},
		"redirect outside prefix": {settings: allow, item: linkedUpload(base+"/docs/out", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: "redirected to " + base + "/private/a.pdf"},
		"redirect loop": {settings: allow, item: linkedUpload(base+"/docs/loop", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: "redirects"},
		"outside prefix": {settings: allow, item: linkedUpload(base+"/private/a.pdf", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: setAttachmentSources},
		"dot segments out of the prefix": {settings: allow, item: linkedUpload(base+"/docs/../private/a.pdf", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: ".."},
		"user info": {settings: allow, item: linkedUpload("http://u:pw@"+hostport+"/docs/a.pdf", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: "user info"},
		"other scheme": {settings: allow, item: linkedUpload("ftp://"+hostport+"/docs/a.pdf", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: "scheme"},
		"https link, http prefix only": {settings: allow, item: linkedUpload("https://"+hostport+"/docs/a.pdf", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: setAttachmentSources},
		"http link, https prefix only": {settings: []string{setAttachmentSources, "https://" + hostport + "/docs/"}, item: linkedUpload(base+"/docs/a.pdf", len(content)),
			want: sdk.StatusInvalid, field: "$.attachments[0].file_url", rule: "url", says: setAttachmentSources},
		"no sources configured": {item: linkedUpload(base+"/docs/a.pdf", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: "setting " + setAttachmentSources + " is empty"},
		"missing document": {settings: allow, item: linkedUpload(base+"/docs/none.pdf", len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "url", says: "404"},
		"wrong file_size": {settings: allow, item: linkedUpload(base+"/docs/a.pdf", len(content)+1), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_size", rule: "consistency", says: fmt.Sprintf("has %d bytes", len(content))},
		"declared size above the cap": {settings: append([]string{setAttachmentMaxBytes, "1000"}, allow...), item: linkedUpload(base+"/docs/big.pdf", 4096),
			want: sdk.StatusInvalid, field: "$.attachments[0].file_size", rule: "length", says: "above the 1000 bytes"},
		"document above the cap": {settings: append([]string{setAttachmentMaxBytes, "1000"}, allow...), item: linkedUpload(base+"/docs/big.pdf", 900),
			want: sdk.StatusInvalid, field: "$.attachments[0].file_url", rule: "length", says: "larger than the 1000 bytes"},
		"null link beside content": {settings: allow, item: func() map[string]any {
			m := linkedUpload(nil, len(content))
			m["attachments"].([]any)[0].(map[string]any)["file_content"] = base64.StdEncoding.EncodeToString(content)
			return m
		}(), want: sdk.StatusOK},
		"link not a string": {settings: allow, item: linkedUpload(42, len(content)), want: sdk.StatusInvalid,
			field: "$.attachments[0].file_url", rule: "type", says: "string"},
		"both content and link": {settings: allow, item: func() map[string]any {
			m := linkedUpload(base+"/docs/a.pdf", len(content))
			m["attachments"].([]any)[0].(map[string]any)["file_content"] = base64.StdEncoding.EncodeToString(content)
			return m
		}(), want: sdk.StatusInvalid, field: "$.attachments[0].file_url", rule: "exclusive"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSettings(tc.settings...))
			r := e.send("GYU002", tc.item)
			if r.Status != tc.want {
				t.Fatalf("status %s, want %s: %s", r.Status, tc.want, r.Diagnostics)
			}
			got := sentContent(t, e.sim)
			if tc.want == sdk.StatusOK {
				if len(got) != 1 || got[0] != base64.StdEncoding.EncodeToString(content) {
					t.Fatalf("the national system received %d items, not the linked document", len(got))
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("an invalid GYU002 reached the national system")
			}
			var found bool
			for _, dg := range r.Diagnostics {
				if dg.Field == tc.field && dg.Rule == tc.rule && strings.Contains(dg.Summary, tc.says) {
					found = true
				}
				if strings.Contains(dg.Summary+dg.Detail, "s3cret") || strings.Contains(dg.Summary+dg.Detail, "pw@") {
					t.Errorf("a diagnostic shows a link's query or user info: %s", dg.Summary)
				}
			}
			if !found {
				t.Fatalf("no %s %s diagnostic saying %q: %s", tc.field, tc.rule, tc.says, r.Diagnostics)
			}
		})
	}
}

// TestAttachmentLinkChanged: an attempt whose send failed is retried; a
// retry that fetches other bytes than the first attempt sends nothing and
// says the document changed, and once the original is back the upload goes
// out with it.
func TestAttachmentLinkChanged(t *testing.T) {
	t.Parallel()
	original := []byte("%PDF-1.4 original 认定书")
	d := newDocStore(t, original)
	e := newEnv(t, withSettings(setAttachmentSources, d.srv.URL+"/docs/"))
	e.sim.Inject(wisim.Fault{Code: "GYU002", Kind: wisim.Fault5xx})
	in := linkedUpload(d.srv.URL+"/docs/a.pdf", len(original))
	if r := e.handle("m-changed", "GYU002", in, false); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("first attempt: status %s retryable %v, want a retryable failure: %s", r.Status, r.Retryable, r.Diagnostics)
	}
	changed := []byte("%PDF-1.4 ORIGINAL 认定书") // same size, other bytes
	d.content.Store(&changed)
	r := e.handle("m-changed", "GYU002", in, true)
	if r.Status != sdk.StatusFailed || r.Retryable || len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != "changed" {
		t.Fatalf("retry with a changed document: status %s retryable %v %s, want a final failure with rule changed", r.Status, r.Retryable, r.Diagnostics)
	}
	if n := e.sim.Accepted("GYU002", "LOCAL0001"); n != 0 {
		t.Fatalf("a changed document was sent: %d accepted", n)
	}
	d.content.Store(&original)
	e.mustOK(e.handle("m-changed", "GYU002", in, true))
	got := sentContent(t, e.sim)
	if len(got) == 0 || got[len(got)-1] != base64.StdEncoding.EncodeToString(original) {
		t.Fatalf("the upload did not go out with the original document")
	}
}

// TestAttachmentLinkTimeout: a document store that does not answer within
// the call's context is a retryable failure, and nothing is sent.
func TestAttachmentLinkTimeout(t *testing.T) {
	t.Parallel()
	d := newDocStore(t, []byte("%PDF"))
	e := newEnv(t, withSettings(setAttachmentSources, d.srv.URL+"/docs/"))
	b := []byte(`{"biz_type":"1","biz_no":"LOCAL0001","attachments":[{"attachment_type":"01","file_name":"a.pdf","file_format":"pdf","file_size":4,"file_url":"` + d.srv.URL + `/docs/slow"}]}`)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := e.impl.Handle(ctx, &sdk.HandleRequest{Site: testSite, Host: hostFor(e.host, testSite), Type: Name + ".GYU002", MessageID: "m-slow", Key: "m-slow", Format: "json", Payload: b, Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != sdk.StatusFailed || !r.Retryable || r.Diagnostics[0].Rule != "unavailable" {
		t.Fatalf("status %s retryable %v %s, want a retryable failure", r.Status, r.Retryable, r.Diagnostics)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("the fetch took %s: it did not stop with the call's context", el)
	}
	if len(e.sim.Received("GYU002")) != 0 {
		t.Fatal("a GYU002 was sent although its document could not be fetched")
	}
}

// TestAttachmentLinkLarge sends a 3 MiB document, far above what a platform
// message can carry inline, through the adapter to the simulator.
func TestAttachmentLinkLarge(t *testing.T) {
	t.Parallel()
	doc := make([]byte, 3<<20)
	for i := range doc {
		doc[i] = byte(i*7 + i>>8)
	}
	copy(doc, "%PDF-1.4\n") // declared pdf: its content is checked
	d := newDocStore(t, doc)
	e := newEnv(t, withSettings(setAttachmentSources, d.srv.URL+"/docs/"))
	out := e.mustOK(e.send("GYU002", linkedUpload(d.srv.URL+"/docs/a.pdf", len(doc))))
	if ids, _ := out["attachments"].([]any); len(ids) != 1 {
		t.Fatalf("answer %v, want one attachment id", out)
	}
	got := sentContent(t, e.sim)
	if len(got) != 1 {
		t.Fatalf("%d items reached the national system, want 1", len(got))
	}
	raw, err := base64.StdEncoding.DecodeString(got[0])
	if err != nil || sha256.Sum256(raw) != sha256.Sum256(doc) {
		t.Fatalf("the national system received %d bytes, not the 3 MiB document (err %v)", len(raw), err)
	}
	if n := d.gets.Load(); n != 1 {
		t.Fatalf("the document was fetched %d times, want 1", n)
	}
}

// TestAttachmentLinkTLS: a document store with a certificate of the
// hospital's own CA is trusted only with attachmentCAFile; without it the
// fetch fails (TLS is never skipped) and nothing is sent.
func TestAttachmentLinkTLS(t *testing.T) {
	t.Parallel()
	content := []byte("%PDF-1.4 tls")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(content) }))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "hospital-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		settings []string
		want     sdk.Status
	}{
		"hospital CA configured": {settings: []string{setAttachmentCAFile, ca}, want: sdk.StatusOK},
		"system CAs only":        {want: sdk.StatusFailed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSettings(append([]string{setAttachmentSources, srv.URL + "/docs/"}, tc.settings...)...))
			r := e.send("GYU002", linkedUpload(srv.URL+"/docs/a.pdf", len(content)))
			if r.Status != tc.want {
				t.Fatalf("status %s, want %s: %s", r.Status, tc.want, r.Diagnostics)
			}
			if got := sentContent(t, e.sim); (len(got) == 1) != (tc.want == sdk.StatusOK) {
				t.Fatalf("%d items sent", len(got))
			}
		})
	}
}

// BenchmarkAttachmentLinks10x10MiB fetches ten linked 10 MiB documents
// into one GYU002 (fillAttachments: fetch, check, encode, one at a time)
// and reports the growth of the process's peak RSS (VmHWM, reset before
// each run through /proc/self/clear_refs).
func BenchmarkAttachmentLinks10x10MiB(b *testing.B) {
	const size = 10 << 20
	doc := bytes.Repeat([]byte{0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x34}, size/8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		_, _ = w.Write(doc)
	}))
	b.Cleanup(srv.Close)
	c, ds := parseSettings(testSite, withDefaults(map[string]string{setURL: "http://placeholder.invalid", setRegionCode: "350200",
		setKeyDir: b.TempDir(), setAttachmentSources: srv.URL + "/docs/"}))
	if ds.HasError() {
		b.Fatal(ds)
	}
	sc, _ := c.schemas.Get(Name, "GYU002")
	a := New(WithLogger(discardLogger()))
	host := newHostForTest()
	var peak float64
	for i := 0; b.Loop(); i++ {
		in := map[string]any{"biz_type": "1", "biz_no": "LOCAL0001"}
		var atts []any
		for j := range 10 {
			atts = append(atts, map[string]any{"attachment_type": "01", "file_name": fmt.Sprintf("%d.pdf", j), "file_format": "pdf",
				"file_size": json.Number(strconv.Itoa(size)), "file_url": fmt.Sprintf("%s/docs/%d.pdf", srv.URL, j)})
		}
		in["attachments"] = atts
		urls, uds := fileLinks(in)
		if uds.HasError() {
			b.Fatal(uds)
		}
		sc.StripPlatformOnly(in)
		runtime.GC()
		debug.FreeOSMemory()
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		before := vmHWM(b)
		req := &sdk.HandleRequest{Site: testSite, MessageID: fmt.Sprintf("bench-%d", i), Host: hostFor(host, testSite)}
		fds, resp := a.fillAttachments(context.Background(), req, c, sc, in, urls)
		if resp != nil || fds.HasError() {
			b.Fatalf("%v %v", resp, fds)
		}
		peak = max(peak, float64(vmHWM(b)-before)/(1<<20))
		runtime.KeepAlive(in)
	}
	b.ReportMetric(peak, "peakRSS-MiB")
}

// vmHWM returns the process's peak resident set size in bytes.
func vmHWM(tb testing.TB) int64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status: peak RSS not measurable here")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	tb.Skip("no VmHWM in /proc/self/status")
	return 0
}

func TestMaskURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://emr.local/docs/a.pdf":                    "https://emr.local/docs/a.pdf",
		"https://emr.local/docs/a.pdf?token=s3cret&id=42": "https://emr.local/docs/a.pdf?…",
		"https://u:pw@emr.local/docs/a.pdf#page=2":        "https://emr.local/docs/a.pdf",
		"https://emr.local/docs/a.pdf?":                   "https://emr.local/docs/a.pdf?…",
		"%zz?token=s3cret":                                "%zz?…",
	}
	for in, want := range tests {
		if got := maskURL(in); got != want {
			t.Errorf("maskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAttachmentLinkLogsMasked: a failed fetch is logged with the link's
// query masked and nothing of the content.
func TestAttachmentLinkLogsMasked(t *testing.T) {
	t.Parallel()
	d := newDocStore(t, []byte("%PDF secret content"))
	e := newEnv(t, withSettings(setAttachmentSources, d.srv.URL+"/docs/"))
	var logs bytes.Buffer
	e.logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.connect()
	r := e.send("GYU002", linkedUpload(d.srv.URL+"/docs/down?token=s3cret", 19))
	if r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("status %s retryable %v, want a retryable failure: %s", r.Status, r.Retryable, r.Diagnostics)
	}
	all := logs.String() + fmt.Sprint(r.Diagnostics)
	if strings.Contains(all, "s3cret") || strings.Contains(all, "secret content") {
		t.Fatalf("the query or the content reached the logs or the reply: %s", all)
	}
	if !strings.Contains(logs.String(), "/docs/down?…") {
		t.Fatalf("the failed fetch is not logged with its masked link: %s", logs.String())
	}
}
