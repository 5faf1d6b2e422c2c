package adapter

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestScanNumbers: a scanned temporary-card number says it is one, and
// which patient it belongs to when it is linked and the site looks links
// up; an e-card number without its QR code is named as such; codes of
// other kinds are still recognised even when they start like a
// temporary-card number.
func TestScanNumbers(t *testing.T) {
	t.Parallel()
	linkedAt := testT0.Format(time.RFC3339)
	masked := map[string]any{"status": "active", "name": "张*丰", "idType": "01", "idNumber": "110***********002X", "phone": "138****5678",
		"registeredAt": linkedAt, "tempCards": []any{"99000123"}, "masked": true}
	testCases := map[string]struct {
		settings map[string]string
		revoke   bool
		payload  map[string]any
		status   sdk.Status
		rule     string
		want     map[string]any // cardNo is filled in
	}{
		"linked temporary card": {payload: map[string]any{"text": "99000123"}, status: sdk.StatusOK,
			want: with(masked, map[string]any{"result": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "linkedAt": linkedAt})},
		"linked, scanner's CR/LF": {payload: map[string]any{"text": "99000123\r\n"}, status: sdk.StatusOK,
			want: with(masked, map[string]any{"result": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "linkedAt": linkedAt})},
		"linked, revealed where allowed": {settings: map[string]string{setRevealIdentity: "true"}, payload: map[string]any{"text": "99000123", "reveal": true}, status: sdk.StatusOK,
			want: with(masked, map[string]any{"result": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "linkedAt": linkedAt,
				"name": "张三丰", "idNumber": testResidentID, "phone": "13812345678", "masked": false})},
		"reveal not allowed": {payload: map[string]any{"text": "99000123", "reveal": true}, status: sdk.StatusInvalid, rule: "not-allowed"},
		"unlinked temporary card": {payload: map[string]any{"text": "98000777"}, status: sdk.StatusInvalid, rule: "temporary-card",
			want: map[string]any{"result": "temporary-card", "looksLike": "temporary-card", "tempCardNo": "98000777", "prefix": "98", "lookup": "links"}},
		"site does not look up": {settings: map[string]string{setTempCardLookup: "none"}, payload: map[string]any{"text": "99000123"}, status: sdk.StatusInvalid, rule: "temporary-card",
			want: map[string]any{"result": "temporary-card", "looksLike": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "lookup": "none"}},
		"linked to a revoked card": {revoke: true, payload: map[string]any{"text": "99000123"}, status: sdk.StatusInvalid, rule: "revoked",
			want: map[string]any{"result": "revoked", "revokedAt": linkedAt}},
		"e-card number without its QR code": {payload: map[string]any{"text": "<card>"}, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "ecard-number"}},
		"health card starting with 99": {payload: map[string]any{"text": "99" + strings.Repeat("B5A28173", 8)[2:] + ":1"}, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "national-health-card"}},
		"resident ID": {payload: map[string]any{"text": testResidentID}, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "resident-id"}},
		"trace code": {payload: map[string]any{"text": "81234567890123456789"}, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "trace-code"}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, tc.settings)
			e := newEnv(t, s)
			cardNo := e.register(zhang()).CardNo
			e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
			if tc.revoke {
				e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "lost"}, nil)
			}
			if tc.payload["text"] == "<card>" {
				tc.payload["text"] = cardNo
			}
			r := e.call(OpScan, tc.payload)
			rule := ""
			if len(r.Diagnostics) > 0 {
				rule = r.Diagnostics[0].Rule
			}
			if r.Status != tc.status || rule != tc.rule {
				t.Fatalf("status %s rule %q (%s), want %s %q", r.Status, rule, r.Diagnostics, tc.status, tc.rule)
			}
			var got map[string]any
			_ = json.Unmarshal(r.Payload, &got)
			want := tc.want
			if want != nil && (tc.status == sdk.StatusOK || tc.revoke || want["looksLike"] == "ecard-number") {
				want = with(want, map[string]any{"cardNo": cardNo})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

// with returns a copy of base with the entries of more.
func with(base, more map[string]any) map[string]any {
	out := maps.Clone(base)
	maps.Copy(out, more)
	return out
}

// TestECardEvents: registration, a new QR code and revocation each publish
// an event whose type starts with "ecard.", keyed by the card number and
// free of personal data and of the QR text.
func TestECardEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	var qr qrReply
	e.ok(OpQRCode, map[string]any{"cardNo": cardNo, "validity": "72h"}, &qr)
	e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "lost"}, nil)
	testCases := map[string]struct {
		typ  string
		want map[string]any
	}{
		"registration": {"ecard.registered", map[string]any{"cardNo": cardNo, "status": "active", "registeredAt": testT0.Format(time.RFC3339), "idType": "01", "name": "张*丰"}},
		"new QR code": {EventQRIssued, map[string]any{"cardNo": cardNo, "issuedAt": testT0.Format(time.RFC3339),
			"expiresAt": testT0.Add(72 * time.Hour).Format(time.RFC3339)}},
		"revocation": {"ecard.revoked", map[string]any{"cardNo": cardNo, "status": "revoked", "revokedAt": testT0.Format(time.RFC3339), "reason": "lost"}},
	}
	for name, tc := range testCases {
		evs := e.eventsOfType(tc.typ)
		if len(evs) != 1 {
			t.Errorf("%s: %d %s events, want 1", name, len(evs), tc.typ)
			continue
		}
		ev := evs[0]
		if !strings.HasPrefix(ev.Type, "ecard.") || ev.Key != cardNo || ev.ID == "" {
			t.Errorf("%s: event type %q key %q id %q", name, ev.Type, ev.Key, ev.ID)
		}
		var got map[string]any
		if err := json.Unmarshal(ev.Payload, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s payload (-want +got):\n%s", name, diff)
		}
		if containsAny(string(ev.Payload), "张三丰", testResidentID, "13812345678", qr.Text) != "" {
			t.Errorf("%s event carries personal data or the QR text: %s", name, ev.Payload)
		}
	}
}

// TestNewSettings checks the values and refusals of cardNumbers,
// revealIdentity and tempCardLookup.
func TestNewSettings(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		settings map[string]string
		field    string
	}{
		"defaults":             {settings: map[string]string{}},
		"sequential numbers":   {settings: map[string]string{setCardNumbers: numbersSequential}},
		"reveal as 1":          {settings: map[string]string{setRevealIdentity: "1"}},
		"no temp lookup":       {settings: map[string]string{setTempCardLookup: lookupNone}},
		"unknown numbering":    {settings: map[string]string{setCardNumbers: "random"}, field: setCardNumbers},
		"reveal not a boolean": {settings: map[string]string{setRevealIdentity: "yes please"}, field: setRevealIdentity},
		"unknown lookup":       {settings: map[string]string{setTempCardLookup: "http://his"}, field: setTempCardLookup},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, tc.settings)
			_, ds := parseSettings(s, func() time.Time { return testT0 })
			if tc.field == "" {
				if ds.HasError() {
					t.Fatalf("refused: %s", ds)
				}
				return
			}
			if !ds.HasError() || ds[0].Field != tc.field {
				t.Errorf("diagnostics %s, want an error on %s", ds, tc.field)
			}
		})
	}
}
