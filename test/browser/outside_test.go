package browser_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/testenv"
)

// TestOutsideScanPageSaysWhatWasScanned: the console's 扫码 Scan page is the
// counter's scanning station. Every scan reply, accepted or refused,
// carries payload.message, the sentence in Chinese for the person at the
// counter (plugins/ecard/README.md); the page shows it, with the refusal's
// card number and masked name where the reply has them. Before, a refused
// scan (a temporary card not linked, a resident ID number of a registered
// patient) showed only the rule table in English, and an accepted one no
// sentence at all. The sentence expected is the one the HTTP ingress
// returns for the same text, so the test follows the plugin's wording.
func TestOutsideScanPageSaysWhatWasScanned(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgate(t)
	base := "http://" + mg.HTTPAddr
	code, reg := post(t, base, fmt.Sprintf("outside-reg-%d", time.Now().UnixNano()), "ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	var card struct{ CardNo string }
	if err := json.Unmarshal(reg.Payload, &card); code != http.StatusOK || err != nil || card.CardNo == "" {
		t.Fatalf("ecard.register: HTTP %d %+v", code, reg)
	}
	_, qr := post(t, base, fmt.Sprintf("outside-qr-%d", time.Now().UnixNano()), "ecard.qrcode", map[string]any{"cardNo": card.CardNo})
	var code2 struct{ Text string }
	if err := json.Unmarshal(qr.Payload, &code2); err != nil || code2.Text == "" {
		t.Fatalf("ecard.qrcode: %+v", qr)
	}

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	tests := map[string]struct {
		text     string
		status   string // of the same scan through the ingress
		withCard bool   // the page shows the card number of the reply
	}{
		"an e-card QR code":              {text: code2.Text, status: "ok", withCard: true},
		"a temporary card not linked":    {text: "99000123", status: "invalid"},
		"the ID number of a card holder": {text: patientID, status: "invalid", withCard: true},
		"a trace code":                   {text: "81234567890123456789", status: "invalid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, want := post(t, base, fmt.Sprintf("outside-scan-%d", time.Now().UnixNano()), "ecard.scan", map[string]any{"text": tc.text})
			var p struct{ Message, CardNo string }
			if err := json.Unmarshal(want.Payload, &p); err != nil || want.Status != tc.status || p.Message == "" {
				t.Fatalf("ecard.scan of %q through the ingress: status %s, payload %s; want %s with a message", tc.text, want.Status, want.Payload, tc.status)
			}
			b.Go("/console/form/ecard/scan")
			b.Type(`form[action="/console/form/ecard/scan"] input[name=text]`, tc.text+"\r") // the scanner types, then Enter
			b.WaitTrue(browser.StepTimeout, "the scan's reply", `document.querySelector("main .notice, main .result") !== null && document.readyState === "complete"`)
			main := b.Text("main")
			if !strings.Contains(main, p.Message) {
				t.Errorf("the scan page for %s does not show the reply's message %q; it shows:\n%s", name, p.Message, main)
			}
			if tc.withCard && !strings.Contains(main, p.CardNo) {
				t.Errorf("the scan page for %s does not show the reply's card number %s; it shows:\n%s", name, p.CardNo, main)
			}
			if strings.Contains(main, "张三丰") || strings.Contains(main, patientID) {
				t.Errorf("the scan page for %s shows personal data unmasked:\n%s", name, main)
			}
			for _, pr := range b.Problems() {
				t.Errorf("the scan page for %s went wrong in Chromium: %s", name, pr)
			}
		})
	}
}
