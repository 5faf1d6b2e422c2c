package adapter_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestUploadWithoutATokenIsNotARefusedDocument: when the platform refused
// the token request with a business code (wrong appSecret: AUTH_FAILED;
// or SYS_BUSY), the upload was never sent, yet it was stored as
// "rejected" (被拒绝 in the export) and the reply said the platform
// refused the document and to correct it, naming the token answer's code
// as the document's. The document now stays "pending" (not sent), and the
// reply says the credentials were refused and how to fix that.
func TestUploadWithoutATokenIsNotARefusedDocument(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func(s map[string]string)
		fail string
		code string
	}{
		"wrong secret":       {edit: func(s map[string]string) { s["appSecret"] = "not-the-secret" }, code: "AUTH_FAILED"},
		"token request busy": {fail: tracecode.FailBusy, code: "SYS_BUSY"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.edit)
			if tc.fail != "" {
				e.sim.Fail("token", tc.fail, 1)
			}
			doc := bill("T1", "102", line(1, "1", drugCode("8100002", 7)))
			r := e.send(adapter.OpStockInUpload, doc)
			if r.Status == sdk.StatusOK {
				t.Fatalf("status ok without a token: %s", r.Payload)
			}
			if n := e.sim.Stats().Calls["upload"]; n != 0 {
				t.Fatalf("%d upload calls without a token", n)
			}
			for _, d := range r.Diagnostics {
				if strings.Contains(d.Summary, "refused the document") || strings.Contains(d.Detail, "correct the document") {
					t.Errorf("the reply blames the document, which was never sent: %s: %s", d.Summary, d.Detail)
				}
			}
			text := r.Diagnostics.String()
			if !strings.Contains(text, "credentials") || !strings.Contains(text, tc.code) || !strings.Contains(text, "appSecret") {
				t.Errorf("the reply does not say the token was refused (%s) and what to check: %s", tc.code, text)
			}
			if r.External == nil || r.External.Code != tc.code {
				t.Errorf("external = %+v, want the token answer's code %s", r.External, tc.code)
			}
			var rec map[string]any
			docs := e.state("log/doc/")
			if len(docs) != 1 {
				t.Fatalf("%d stored documents, want 1", len(docs))
			}
			_ = json.Unmarshal(docs[0].Value, &rec)
			if rec["status"] != "pending" {
				t.Errorf("stored status %v (%v), want pending: the document was not sent", rec["status"], rec["statusText"])
			}
			if tc.fail == "" {
				return
			}
			// Once a token is issued the same document goes out.
			if out := must[uploadReply](t, e.send(adapter.OpStockInUpload, doc), sdk.StatusOK); out.Status != "uploaded" || out.Duplicate {
				t.Errorf("retry %+v, want uploaded", out)
			}
		})
	}
}
