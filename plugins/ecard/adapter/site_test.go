package adapter

import (
	"context"
	"crypto/cipher"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm4"
	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestScanOtherSite prints a code at one site and scans it at another site
// configured with the same keys (and so the same card numbers): the scan
// must be refused, not answered with the patient whose card has that number
// at the scanning site.
func TestScanOtherSite(t *testing.T) {
	t.Parallel()
	const otherSite = "xm-second"
	e := newEnv(t, testSettings())
	if r, err := e.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: otherSite, Settings: maps.Clone(testSettings())}); err != nil || r.Diagnostics.HasError() {
		t.Fatalf("Configure %s: %v %s", otherSite, err, r.Diagnostics)
	}
	other := func(typ string, payload any) *sdk.HandleResponse {
		t.Helper()
		b, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: otherSite, Type: typ, MessageID: "other-" + typ, Format: "json", Payload: b, Attempt: 1})
		if err != nil {
			t.Fatalf("Handle %s at %s: %v", typ, otherSite, err)
		}
		return r
	}
	// Both sites have a card with the same number, for different people.
	_, q := e.issue(nil)
	if r := other(OpRegister, person(1)); r.Status != sdk.StatusOK {
		t.Fatalf("register at %s: %s %s", otherSite, r.Status, r.Diagnostics)
	}

	r := other(OpScan, map[string]string{"text": q.Text})
	var got map[string]any
	if err := json.Unmarshal(r.Payload, &got); err != nil {
		t.Fatalf("decode scan reply %s: %v", r.Payload, err)
	}
	if r.Status != sdk.StatusInvalid || len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != ResultOtherSite || got["result"] != ResultOtherSite {
		t.Fatalf("scan at %s of a code printed at %s = %s %s %v, want invalid, rule %s", otherSite, testSite, r.Status, r.Diagnostics, got, ResultOtherSite)
	}
	for _, f := range []string{"cardNo", "name", "idNumber", "phone"} {
		if _, ok := got[f]; ok {
			t.Errorf("refused scan reply has %q: %v", f, got)
		}
	}
	if got["kind"] != "ecard" || got["message"] == "" {
		t.Errorf("refused scan reply kind/message = %v / %v, want ecard and a message", got["kind"], got["message"])
	}

	// The site that printed it still accepts it.
	if st, rule, _ := e.scan(q.Text); st != sdk.StatusOK {
		t.Errorf("scan at %s = %s %s, want ok", testSite, st, rule)
	}
}

// TestScanMasksIdentity scans a valid QR code: a card number is all that
// ecard.qrcode needs, so the scan must not turn it into the holder's
// identity. The reply has the card and the masked identity, as ecard.get;
// the real one only with "reveal": true at a site that sets revealIdentity.
func TestScanMasksIdentity(t *testing.T) {
	t.Parallel()
	full := cardView{CardNo: "", Status: "active", Name: "张三丰", IDType: "01", IDNumber: testResidentID, Phone: "13812345678",
		RegisteredAt: testT0, TempCards: []string{}}
	masked := full
	masked.Name, masked.IDNumber, masked.Phone, masked.Masked = "张*丰", "110***********002X", "138****5678", true
	testCases := map[string]struct {
		siteAllows string
		reveal     bool
		want       *cardView
		rule       string
	}{
		"masked by default":                   {want: &masked},
		"masked at a site that allows reveal": {siteAllows: "true", want: &masked},
		"revealed when asked and allowed":     {siteAllows: "true", reveal: true, want: &full},
		"reveal refused where not allowed":    {reveal: true, rule: "not-allowed"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			if tc.siteAllows != "" {
				s[setRevealIdentity] = tc.siteAllows
			}
			e := newEnv(t, s)
			cardNo, q := e.issue(nil)
			r := e.call(OpScan, map[string]any{"text": q.Text, "reveal": tc.reveal})
			if tc.want == nil {
				if r.Status != sdk.StatusInvalid || len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != tc.rule {
					t.Fatalf("scan = %s %s, want invalid, rule %s", r.Status, r.Diagnostics, tc.rule)
				}
				if containsAny(string(r.Payload), "张三丰", testResidentID, "13812345678") != "" {
					t.Errorf("refused scan reveals the identity: %s", r.Payload)
				}
				return
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("scan = %s %s, want ok", r.Status, r.Diagnostics)
			}
			var got scanReply
			if err := json.Unmarshal(r.Payload, &got); err != nil {
				t.Fatal(err)
			}
			want := *tc.want
			want.CardNo = cardNo
			if diff := cmp.Diff(want, got.cardView); diff != "" {
				t.Errorf("scanned card (-want +got):\n%s", diff)
			}
			if tc.want.Masked && containsAny(string(r.Payload), "张三丰", testResidentID, "13812345678") != "" {
				t.Errorf("masked scan reply has raw personal data: %s", r.Payload)
			}
		})
	}
}

// TestScanRevealRefusalSaysWhatToDo: since QR scans are masked too, a
// scan with "reveal" at a site that does not allow it is refused for a QR
// code as for a temporary card. The refusal said "identities of temporary
// cards" (and the counter's message 临时卡), which is wrong for the QR code
// the counter scanned, and did not say to scan again without reveal.
func TestScanRevealRefusalSaysWhatToDo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	_, q := e.issue(nil)
	testCases := map[string]string{"QR code": q.Text, "temporary card": "99000123"}
	for name, text := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.call(OpScan, map[string]any{"text": text, "reveal": true})
			if r.Status != sdk.StatusInvalid || len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != "not-allowed" {
				t.Fatalf("scan = %s %s, want invalid, rule not-allowed", r.Status, r.Diagnostics)
			}
			var got struct{ Message string }
			if err := json.Unmarshal(r.Payload, &got); err != nil {
				t.Fatal(err)
			}
			d := r.Diagnostics[0]
			if containsAny(d.Summary+got.Message, "temporary card", "临时卡") != "" {
				t.Errorf("refusal of a %s scan speaks of temporary cards only: %q / %q", name, d.Summary, got.Message)
			}
			if containsAny(d.Detail, "without reveal") == "" || containsAny(got.Message, "重新扫") == "" {
				t.Errorf("refusal does not say to scan again without reveal: %q / %q", d.Detail, got.Message)
			}
		})
	}
}

// sealV1 seals cardNo as a code of format version 1, as the plugin printed
// before codes named their site: key A of testSettings, prefix MGE, issued
// at testT0 for 72 hours (layout: package card's documentation).
func sealV1(t *testing.T, cardNo string) string {
	t.Helper()
	secret, err := hex.DecodeString(testKeyAHex)
	if err != nil {
		t.Fatal(err)
	}
	block, err := sm4.NewCipher(secret)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	p := binary.BigEndian.AppendUint32([]byte{1}, uint32(testT0.Unix()))
	p = binary.AppendUvarint(p, 72*3600)
	for i := 0; i < len(cardNo); i += 2 { // packed BCD, X as 0xA, odd length padded with 0xF
		nib := func(j int) byte {
			switch {
			case j >= len(cardNo):
				return 0xF
			case cardNo[j] == 'X':
				return 0xA
			}
			return cardNo[j] - '0'
		}
		p = append(p, nib(i)<<4|nib(i+1))
	}
	nonce := []byte("v1-nonce-012")
	body := gcm.Seal(append([]byte("A"), nonce...), nonce, p, []byte("MGE1A"))
	return "MGE1" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(body)
}

// TestScanV1Codes: a code of format version 1 (no site sealed in) scans
// while acceptV1Codes is true, the default, and is refused as old-format,
// without its card number, when it is false; version-2 codes scan either
// way, and a value that is not a boolean is a configuration error.
func TestScanV1Codes(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		setting string // acceptV1Codes; "" leaves it unset
		wantV1  string // the result of scanning a version-1 code
	}{
		"default": {"", ResultOK},
		"true":    {"true", ResultOK},
		"false":   {"false", ResultOldFormat},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			settings := testSettings()
			if tc.setting != "" {
				settings[setAcceptV1Codes] = tc.setting
			}
			e := newEnv(t, settings)
			cardNo, v2 := e.issue(nil)
			e.clock.Set(testT0.Add(time.Hour))
			st, rule, got := e.scan(sealV1(t, cardNo))
			if got["result"] != tc.wantV1 {
				t.Fatalf("scan of a version-1 code = %s %s %v, want result %s", st, rule, got, tc.wantV1)
			}
			if tc.wantV1 == ResultOK {
				if st != sdk.StatusOK || got["cardNo"] != cardNo {
					t.Errorf("scan of a version-1 code = %s %v, want ok for card %s", st, got, cardNo)
				}
			} else {
				if st != sdk.StatusInvalid || rule != ResultOldFormat {
					t.Errorf("scan of a version-1 code = %s rule %q, want invalid, rule %s", st, rule, ResultOldFormat)
				}
				if _, ok := got["cardNo"]; ok {
					t.Errorf("refused scan reply names the card: %v", got)
				}
				r := e.call(OpScan, map[string]string{"text": sealV1(t, cardNo)})
				if d := r.Diagnostics[0]; !strings.Contains(d.Summary+d.Detail, "acceptV1Codes") || !strings.Contains(d.Detail, "print a new code") {
					t.Errorf("diagnostic %+v does not name acceptV1Codes and what to do", d)
				}
				var explained map[string]any
				if err := json.Unmarshal(r.Payload, &explained); err != nil {
					t.Fatal(err)
				}
				if msg, _ := explained["message"].(string); explained["kind"] != "ecard" || !strings.Contains(msg, "旧版") {
					t.Errorf("refused scan reply kind/message = %v / %v, want ecard and the old-format message", explained["kind"], explained["message"])
				}
			}
			if st, rule, _ := e.scan(v2.Text); st != sdk.StatusOK {
				t.Errorf("scan of a version-2 code = %s %s, want ok", st, rule)
			}
		})
	}
	t.Run("not a boolean", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		settings := testSettings()
		settings[setAcceptV1Codes] = "sometimes"
		ds := e.configure(settings)
		if !ds.HasError() || !strings.Contains(ds.String(), setAcceptV1Codes) {
			t.Errorf("Configure with acceptV1Codes %q = %s, want an error naming the setting", "sometimes", ds)
		}
	})
}
