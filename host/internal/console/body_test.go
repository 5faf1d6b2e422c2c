package console

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestFormBodiesBounded: every post of a signed-in user is read with a
// bound that fits its form: small for the console's own buttons, larger
// for text and lists (a document change, a plugin's form, a plugin's
// settings), and larger by the upload bound per file a plugin's form
// declares. A larger body gets 413 with an error page, and nothing is
// done; the sign-in form is bounded the same way, whatever its encoding.
func TestFormBodiesBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	// A plugin form with a file, as selfpay's pending-list import declares.
	importForm := sdk.Form{Name: "import", Title: "导入 Import", Operation: "ecard.import",
		Fields: []sdk.Argument{{Name: "list", Type: sdk.ArgumentFile, Required: true}}}
	f.b.plugins[0].Views.Forms = append(f.b.plugins[0].Views.Forms, importForm)
	c := f.client()
	c.login("op01")

	encoded := func(path string, fields url.Values, pad int) *http.Request {
		fields.Set("csrf", c.csrf)
		fields.Set("pad", strings.Repeat("x", pad))
		req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(fields.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	multi := func(path string, fields url.Values, file string, size int) *http.Request {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("csrf", c.csrf)
		for k, vs := range fields {
			for _, v := range vs {
				_ = mw.WriteField(k, v)
			}
		}
		fw, _ := mw.CreateFormFile(file, file+".csv")
		_, _ = fw.Write(bytes.Repeat([]byte("x"), size))
		_ = mw.Close()
		req, _ := http.NewRequest("POST", f.srv.URL+path, &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return req
	}
	job := url.Values{"job": {"tracecode/s1/stockin-sync"}}
	adjust := "/console/document/tracecode/draft/adjust"
	lines := url.Values{"site": {"s1"}, "id": {"SUP-001"}, "edit": {"addCodes"}, "line": {"1"}}
	cases := []struct {
		name     string
		req      *http.Request
		tooLarge bool
	}{
		{"a job run", encoded("/console/jobs/run", job, 0), false},
		{"a job run with 100 KiB more", encoded("/console/jobs/run", job, 100<<10), true},
		{"a job run with 100 KiB more, as multipart", multi("/console/jobs/run", job, "pad", 100<<10), true},
		{"a document change with 512 KiB of codes", encoded(adjust, lines, 512<<10), false},
		{"a document change with 2 MiB of codes", encoded(adjust, lines, 2<<20), true},
		{"a plugin form without files, 2 MiB", encoded("/console/form/ecard/print", url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}}, 2<<20), true},
		{"a plugin form with a 4 MiB file", multi("/console/form/ecard/import", url.Values{"site": {"s1"}}, "list", 4<<20), false},
		{"a plugin form with a file over the upload bound and the text bound", multi("/console/form/ecard/import", url.Values{"site": {"s1"}}, "list", maxUpload+(2<<20)), true},
		{"the sign-in form with 100 KiB more", encoded("/console/login", url.Values{"user": {"op01"}, "password": {testToken}}, 100<<10), true},
	}
	for _, tc := range cases {
		tc.req.Header.Set("Sec-Fetch-Site", "same-origin")
		tc.req.Header.Set("Origin", f.srv.URL)
		r := c.do(tc.req)
		switch {
		case tc.tooLarge && (r.code != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "too large")):
			t.Errorf("%s: HTTP %d; want 413 with an error page:\n%s", tc.name, r.code, r.body)
		case !tc.tooLarge && r.code == http.StatusRequestEntityTooLarge:
			t.Errorf("%s: refused as too large", tc.name)
		}
	}
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	if len(f.b.triggered) != 1 {
		t.Errorf("jobs run: %q; want only the one with an ordinary body", f.b.triggered)
	}
}

// TestFormTooLargeAudited: a signed-in user's post refused for its size is
// a refused action and is audited as one (who, which page, the bound),
// like a post refused for the user's role; nothing else is recorded for it.
func TestFormTooLargeAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	c := f.client()
	c.login("op01")
	fields := url.Values{"job": {"tracecode/s1/stockin-sync"}, "csrf": {c.csrf}, "pad": {strings.Repeat("x", 100<<10)}}
	req, _ := http.NewRequest("POST", f.srv.URL+"/console/jobs/run", strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", f.srv.URL)
	if r := c.do(req); r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("HTTP %d; want 413", r.code)
	}
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var refused []store.AuditEntry
	for _, e := range got {
		if e.Action != "login" {
			refused = append(refused, e)
		}
	}
	if len(refused) != 1 || refused[0].Outcome != audit.Refused || refused[0].Actor != "op01" || refused[0].Target != "/console/jobs/run" ||
		!strings.Contains(refused[0].Detail, sizeText(maxFormBody)) {
		t.Errorf("audit entries besides the sign-in: %+v; want one refused entry by op01 for /console/jobs/run naming the bound %s", refused, sizeText(maxFormBody))
	}
}
