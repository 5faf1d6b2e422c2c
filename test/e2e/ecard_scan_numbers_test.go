package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
)

// TestECardScanNumbersAndEvents goes through the HTTP ingress of a medgate
// with the demo-like e-card settings (temporary cards start with 9): a
// scanned temporary-card number says so and, once linked, names the
// patient masked; ecard.get is masked and refuses to reveal; card numbers
// of consecutive registrations are not consecutive; and the platform, a
// kafka-go consumer of the events topic, receives the registration,
// temporary-card link, new-QR and revocation events without personal data
// or the QR text.
func TestECardScanNumbersAndEvents(t *testing.T) {
	t.Parallel()
	cfg, mg, _ := start(t, func(c *harness.Config) { ecardConfig(t, c) })
	in := &ingress{t: t, addr: mg.HTTPAddr}
	person := map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678"}
	code, r := in.call("ecard.register", person)
	var reg struct{ CardNo string }
	if err := json.Unmarshal(r.Payload, &reg); code != 200 || err != nil || reg.CardNo == "" {
		t.Fatalf("register: %d %+v", code, r)
	}

	scan := func(text string) (int, harness.Reply, map[string]any) {
		code, r := in.call("ecard.scan", map[string]any{"text": text})
		var m map[string]any
		_ = json.Unmarshal(r.Payload, &m)
		return code, r, m
	}
	code, r, m := scan("9100001\r\n")
	if code != 422 || r.Errors[0].Rule != "temporary-card" || m["tempCardNo"] != "9100001" || m["prefix"] != "9" {
		t.Errorf("unlinked temporary card: %d %+v", code, r)
	}
	if code, r := in.call("ecard.link", map[string]any{"cardNo": reg.CardNo, "tempCardNo": "9100001"}); code != 200 {
		t.Fatalf("link: %d %+v", code, r)
	}
	code, r, m = scan("9100001\r\n")
	if code != 200 || m["result"] != "temporary-card" || m["cardNo"] != reg.CardNo || m["name"] != "张*丰" || m["idNumber"] != "110***********002X" ||
		m["phone"] != "138****5678" || m["status"] != "active" || m["masked"] != true {
		t.Errorf("linked temporary card: %d %s", code, r.Payload)
	}
	code, r, m = scan(reg.CardNo)
	if code != 422 || r.Errors[0].Rule != "not-ecard" || m["looksLike"] != "ecard-number" {
		t.Errorf("bare e-card number: %d %+v", code, r)
	}
	for text, kind := range map[string]string{"11010519491231002X": "resident-id", "81234567890123456789": "trace-code"} {
		if code, r, m := scan(text); code != 422 || m["looksLike"] != kind {
			t.Errorf("scan of a %s: %d %+v", kind, code, r)
		}
	}

	code, r = in.call("ecard.get", map[string]any{"cardNo": reg.CardNo})
	if code != 200 || strings.Contains(string(r.Payload), "张三丰") || strings.Contains(string(r.Payload), "13812345678") ||
		strings.Contains(string(r.Payload), "11010519491231002X") {
		t.Errorf("ecard.get is not masked: %d %s", code, r.Payload)
	}
	if code, r := in.call("ecard.get", map[string]any{"cardNo": reg.CardNo, "reveal": true}); code != 422 || r.Errors[0].Rule != "not-allowed" {
		t.Errorf("reveal on a site that does not allow it: %d %+v", code, r)
	}

	var numbers []int64
	for i := range 5 {
		code, r := in.call("ecard.register", map[string]any{"name": "测试" + strconv.Itoa(i), "idType": "03", "idNumber": "E1000000" + strconv.Itoa(i), "issuingCountry": "GBR", "phone": "1390000000" + strconv.Itoa(i)})
		var p struct{ CardNo string }
		_ = json.Unmarshal(r.Payload, &p)
		if code != 200 || len(p.CardNo) < 14 {
			t.Fatalf("register passport %d: %d %+v", i, code, r)
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(p.CardNo[4:], "X")[:10], 10, 64)
		if err != nil || len(p.CardNo) != 15 || !strings.HasPrefix(p.CardNo, "8801") {
			t.Fatalf("card number %q breaks the hospital's rule (8801 + 10 digits + check)", p.CardNo)
		}
		numbers = append(numbers, n)
	}
	for i := 1; i < len(numbers); i++ {
		if d := numbers[i] - numbers[i-1]; d > -1000 && d < 1000 {
			t.Errorf("consecutive registrations got nearby numbers %d and %d", numbers[i-1], numbers[i])
		}
	}

	code, r = in.call("ecard.qrcode", map[string]any{"cardNo": reg.CardNo, "validity": "72h"})
	var qr struct{ Text string }
	if err := json.Unmarshal(r.Payload, &qr); code != 200 || err != nil || qr.Text == "" {
		t.Fatalf("qrcode: %d %+v", code, r)
	}
	if code, r := in.call("ecard.revoke", map[string]any{"cardNo": reg.CardNo, "reason": "lost"}); code != 200 {
		t.Fatalf("revoke: %d %+v", code, r)
	}
	got := map[string]map[string]any{}
	harness.Eventually(t, 30*time.Second, "the registration, link, new-QR and revocation events", func() bool {
		msgs, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().Events, 0, 5*time.Second)
		for _, msg := range msgs {
			var ev struct {
				Type    string
				Payload map[string]any
			}
			if json.Unmarshal(msg.Value, &ev) != nil || string(msg.Key) != reg.CardNo {
				continue
			}
			got[ev.Type] = ev.Payload
			for _, secret := range []string{"张三丰", "11010519491231002X", "13812345678", qr.Text} {
				if strings.Contains(string(msg.Value), secret) {
					t.Errorf("event %s carries personal data or the QR text", ev.Type)
				}
			}
		}
		return got["ecard.registered"] != nil && got["ecard.qrcode.issued"] != nil && got["ecard.revoked"] != nil && got["ecard.linked"] != nil
	})
	if l := got["ecard.linked"]; l["cardNo"] != reg.CardNo || l["tempCardNo"] != "9100001" || l["linkedAt"] == nil {
		t.Errorf("ecard.linked payload %v", l)
	}
	if r := got["ecard.revoked"]; r["cardNo"] != reg.CardNo || r["status"] != "revoked" || r["reason"] != "lost" {
		t.Errorf("ecard.revoked payload %v", r)
	}
	if r := got["ecard.registered"]; r["cardNo"] != reg.CardNo || r["status"] != "active" || r["name"] != "张*丰" {
		t.Errorf("ecard.registered payload %v", r)
	}
	if iss := got["ecard.qrcode.issued"]; iss["cardNo"] != reg.CardNo || iss["expiresAt"] == nil || iss["issuedAt"] == nil {
		t.Errorf("ecard.qrcode.issued payload %v", iss)
	}
}
