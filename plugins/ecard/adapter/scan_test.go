package adapter

import (
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// issue registers zhang and returns the card number and a QR reply.
func (e *env) issue(payload map[string]any) (string, qrReply) {
	e.tb.Helper()
	cardNo := e.register(zhang()).CardNo
	p := map[string]any{"cardNo": cardNo}
	maps.Copy(p, payload)
	var q qrReply
	e.ok(OpQRCode, p, &q)
	return cardNo, q
}

func TestQRCodeScanRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo, q := e.issue(map[string]any{"printLabel": true})

	if q.CardNo != cardNo || !q.ExpiresAt.Equal(testT0.Add(72*time.Hour)) || !strings.HasPrefix(q.Text, "MGE2") {
		t.Errorf("qrcode = %s %s %s; want card %s, expiry 72h after %s, text MGE2…", q.CardNo, q.ExpiresAt, q.Text, cardNo, testT0)
	}
	wantLabel := labelReply{
		LabelText: card.LabelText{CardNo: cardNo, Name: "张*丰", Expires: "2026-11-29 20:00", ValidUntil: "有效期至 2026-11-29 20:00", ValidUntilASCII: "VALID UNTIL 2026-11-29 20:00"},
		Lines:     []string{cardNo, "张*丰", "有效期至 2026-11-29 20:00"},
	}
	if diff := cmp.Diff(wantLabel, q.Label); diff != "" {
		t.Errorf("label (-want +got):\n%s", diff)
	}
	for name, img := range map[string][]byte{"png": q.PNG, "labelPng": q.LabelPNG} {
		if got := decodeQR(t, img); got != q.Text {
			t.Errorf("%s decodes to %q, want %q", name, got, q.Text)
		}
	}

	var s scanReply
	e.ok(OpScan, map[string]string{"text": decodeQR(t, q.PNG) + "\r\n"}, &s)
	want := scanReply{
		Result: "ok",
		cardView: cardView{CardNo: cardNo, Status: "active", Name: "张*丰", IDType: "01", IDNumber: "110***********002X", Phone: "138****5678",
			RegisteredAt: testT0, TempCards: []string{}, Masked: true},
		IssuedAt: testT0, ExpiresAt: testT0.Add(72 * time.Hour),
	}
	if diff := cmp.Diff(want, s, cmp.AllowUnexported(scanReply{})); diff != "" {
		t.Errorf("scan (-want +got):\n%s", diff)
	}
}

func TestQRCodeValidity(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s[setQRValidity] = "24h"
	e := newEnv(t, s)
	cardNo := e.register(zhang()).CardNo
	testCases := map[string]struct {
		payload map[string]any
		want    time.Duration
		diags   []diag
	}{
		"site default":        {payload: map[string]any{}, want: 24 * time.Hour},
		"chosen":              {payload: map[string]any{"validity": "30m"}, want: 30 * time.Minute},
		"longest":             {payload: map[string]any{"validity": "2160h"}, want: card.MaxValidity},
		"too long":            {payload: map[string]any{"validity": "2161h"}, diags: []diag{{"$.validity", "range", true}}},
		"not a duration":      {payload: map[string]any{"validity": "3 days"}, diags: []diag{{"$.validity", "type", true}}},
		"image too small":     {payload: map[string]any{"size": 50}, diags: []diag{{"$.size", "range", true}}},
		"temporary card":      {payload: map[string]any{"cardNo": "99000001"}, diags: []diag{{"$.cardNo", "temporary-card", true}}},
		"unknown card":        {payload: map[string]any{"cardNo": "88010000009999X"}, diags: []diag{{"$.cardNo", "unknown-card", true}}},
		"malformed card":      {payload: map[string]any{"cardNo": "../person/x"}, diags: []diag{{"$.cardNo", "format", true}}},
		"several at once":     {payload: map[string]any{"cardNo": "", "validity": "0s", "size": 5000}, diags: []diag{{"$.cardNo", "required", true}, {"$.validity", "range", true}, {"$.size", "range", true}}},
		"wrong type of field": {payload: map[string]any{"size": "big"}, diags: []diag{{"$.size", "type", true}}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := map[string]any{"cardNo": cardNo}
			maps.Copy(p, tc.payload)
			r := e.call(OpQRCode, p)
			if diff := cmp.Diff(tc.diags, diagsOf(r.Diagnostics)); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s\n%s", diff, r.Diagnostics)
			}
			if tc.diags != nil {
				return
			}
			var q qrReply
			if err := json.Unmarshal(r.Payload, &q); err != nil {
				t.Fatal(err)
			}
			if !q.ExpiresAt.Equal(testT0.Add(tc.want)) {
				t.Errorf("expiresAt %s, want %s", q.ExpiresAt, testT0.Add(tc.want))
			}
		})
	}
}

// A code is valid up to, but not including, its expiry second.
func TestScanExpiryBoundary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo, q := e.issue(map[string]any{"validity": "1h"})
	expires := testT0.Add(time.Hour)

	e.clock.Set(expires.Add(-time.Second))
	if st, rule, _ := e.scan(q.Text); st != sdk.StatusOK {
		t.Fatalf("one second before expiry: %s %s, want ok", st, rule)
	}
	e.clock.Set(expires)
	st, rule, m := e.scan(q.Text)
	want := map[string]any{"result": "expired", "cardNo": cardNo, "issuedAt": testT0.Format(time.RFC3339), "expiresAt": expires.Format(time.RFC3339)}
	if diff := cmp.Diff([]any{sdk.StatusInvalid, "expired", want}, []any{st, rule, m}); diff != "" {
		t.Errorf("at expiry (-want +got):\n%s", diff)
	}
}

// Every single-character change of a code is refused, never accepted as
// another card.
func TestScanTamperedCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	_, q := e.issue(nil)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	for i := range len(q.Text) {
		b := []byte(q.Text)
		b[i] = alphabet[(strings.IndexByte(alphabet, b[i])+1)%len(alphabet)]
		st, rule, _ := e.scan(string(b))
		if st != sdk.StatusInvalid || (rule != ResultTampered && rule != ResultNotECard) {
			t.Errorf("character %d changed (%s): status %s rule %q, want invalid tampered or not-ecard", i, b, st, rule)
		}
	}
}

// Codes sealed under a retired key still scan while the key stays in the
// ring, and are refused as tampered (unknown key) once it is removed.
func TestScanKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	_, old := e.issue(nil)

	rotated := testSettings()
	rotated[setQRKeys] = "A:" + testKeyAHex + ",B:" + testKeyBHex
	rotated[setQRActiveKey] = "B"
	e.mustConfigure(rotated)
	if st, rule, _ := e.scan(old.Text); st != sdk.StatusOK {
		t.Errorf("old code after rotation: %s %s, want ok", st, rule)
	}
	var fresh qrReply
	e.ok(OpQRCode, map[string]string{"cardNo": old.CardNo}, &fresh)
	if st, rule, _ := e.scan(fresh.Text); st != sdk.StatusOK {
		t.Errorf("new code: %s %s, want ok", st, rule)
	}

	retired := testSettings()
	retired[setQRKeys] = "B:" + testKeyBHex
	retired[setQRActiveKey] = ""
	e.mustConfigure(retired)
	st, rule, m := e.scan(old.Text)
	if diff := cmp.Diff([]any{sdk.StatusInvalid, "tampered", map[string]any{"result": "tampered", "reason": "unknown-key"}}, []any{st, rule, m}); diff != "" {
		t.Errorf("old code after removing its key (-want +got):\n%s", diff)
	}
	if st, rule, _ := e.scan(fresh.Text); st != sdk.StatusOK {
		t.Errorf("new code after removing the old key: %s %s, want ok", st, rule)
	}

	// The same id with another secret: the tag no longer verifies.
	swapped := testSettings()
	swapped[setQRKeys] = "B:" + testKeyAHex
	swapped[setQRActiveKey] = "B"
	e.mustConfigure(swapped)
	if _, _, m := e.scan(fresh.Text); m["reason"] != "authentication" {
		t.Errorf("code under a replaced secret: %v, want tampered (authentication)", m)
	}
}

func TestScanRefusals(t *testing.T) {
	t.Parallel()
	// Sealers with the site's key, to make authentic codes for unregistered
	// numbers and from a clock an hour ahead of the site's.
	key := card.Key{ID: "A"}
	if _, err := hex.Decode(key.Secret[:], []byte(testKeyAHex)); err != nil {
		t.Fatal(err)
	}
	ahead, err := card.NewSealer([]card.Key{key}, "A", func() time.Time { return testT0.Add(time.Hour) }, card.WithSite(testSite))
	if err != nil {
		t.Fatal(err)
	}
	current, err := card.NewSealer([]card.Key{key}, "A", func() time.Time { return testT0 }, card.WithSite(testSite))
	if err != nil {
		t.Fatal(err)
	}
	stranger, _, err := current.Seal("88010000000999X", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	early, _, err := ahead.Seal(cardNo, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nhc := strings.Repeat("B5A28173", 8)
	testCases := map[string]struct {
		text string
		rule string
		want map[string]any
	}{
		"resident ID":           {text: testResidentID, rule: "not-ecard", want: map[string]any{"result": "not-ecard", "looksLike": "resident-id", "cardNo": "<card>", "cardStatus": "active", "name": "张*丰"}},
		"unregistered ID":       {text: "440524188001010014", rule: "not-ecard", want: map[string]any{"result": "not-ecard", "looksLike": "resident-id"}},
		"national health card":  {text: nhc + ":1", rule: "not-ecard", want: map[string]any{"result": "not-ecard", "looksLike": "national-health-card"}},
		"dynamic health card":   {text: nhc + ":0:" + strings.Repeat("07ED", 8), rule: "not-ecard", want: map[string]any{"result": "not-ecard", "looksLike": "national-health-card"}},
		"trace code":            {text: "81234567890123456789", rule: "not-ecard", want: map[string]any{"result": "not-ecard", "looksLike": "trace-code"}},
		"anything else":         {text: "hello", rule: "not-ecard", want: map[string]any{"result": "not-ecard", "looksLike": "unknown"}},
		"unicode garbage":       {text: "\x00\xff电子健康卡", rule: "not-ecard", want: map[string]any{"result": "not-ecard", "looksLike": "unknown"}},
		"cut off":               {text: "MGE1ABCDEFGHIJKLMNOP", rule: "tampered", want: map[string]any{"result": "tampered", "reason": "malformed"}},
		"our prefix, bad chars": {text: "MGE1abcdefghijklmnopqrstuvwxyz", rule: "tampered", want: map[string]any{"result": "tampered", "reason": "malformed"}},
		"unregistered card": {text: stranger, rule: "unknown-card",
			want: map[string]any{"result": "unknown-card", "cardNo": "88010000000999X"}},
		"issued an hour ahead": {text: early, rule: "not-yet-valid", want: map[string]any{"result": "not-yet-valid", "cardNo": cardNo,
			"issuedAt": testT0.Add(time.Hour).Format(time.RFC3339), "expiresAt": testT0.Add(2 * time.Hour).Format(time.RFC3339)}},
		"empty":         {text: "", rule: "required"},
		"only CR/LF":    {text: " \r\n", rule: "required"},
		"absurdly long": {text: strings.Repeat("A", 5000), rule: "length"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, rule, m := e.scan(tc.text)
			if tc.want["cardNo"] == "<card>" {
				tc.want["cardNo"] = cardNo
			}
			if st != sdk.StatusInvalid || rule != tc.rule {
				t.Errorf("status %s rule %q, want invalid %q", st, rule, tc.rule)
			}
			if diff := cmp.Diff(tc.want, m); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScanCapsLock: a USB scanner typing into the scan field with Caps
// Lock on sends the code in lower case; it scans as the code it is.
func TestScanCapsLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo, q := e.issue(nil)
	status, rule, m := e.scan(strings.ToLower(q.Text) + "\r\n")
	if status != sdk.StatusOK || m["cardNo"] != cardNo {
		t.Errorf("scan of the code in lower case: status %s, rule %q, payload %v; want ok with card %s", status, rule, m, cardNo)
	}
}
