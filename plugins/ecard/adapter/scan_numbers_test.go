package adapter

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
			want: with(masked, map[string]any{"result": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "source": "links", "linkedAt": linkedAt})},
		"linked, scanner's CR/LF": {payload: map[string]any{"text": "99000123\r\n"}, status: sdk.StatusOK,
			want: with(masked, map[string]any{"result": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "source": "links", "linkedAt": linkedAt})},
		"linked, revealed where allowed": {settings: map[string]string{setRevealIdentity: "true"}, payload: map[string]any{"text": "99000123", "reveal": true}, status: sdk.StatusOK,
			want: with(masked, map[string]any{"result": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "source": "links", "linkedAt": linkedAt,
				"name": "张三丰", "idNumber": testResidentID, "phone": "13812345678", "masked": false})},
		"reveal not allowed": {payload: map[string]any{"text": "99000123", "reveal": true}, status: sdk.StatusInvalid, rule: "not-allowed"},
		"unlinked temporary card": {payload: map[string]any{"text": "98000777"}, status: sdk.StatusInvalid, rule: "temporary-card",
			want: map[string]any{"result": "temporary-card", "looksLike": "temporary-card", "tempCardNo": "98000777", "prefix": "98", "lookup": "links"}},
		"site does not look up": {settings: map[string]string{setTempCardLookup: "none"}, payload: map[string]any{"text": "99000123"}, status: sdk.StatusInvalid, rule: "temporary-card",
			want: map[string]any{"result": "temporary-card", "looksLike": "temporary-card", "tempCardNo": "99000123", "prefix": "99", "lookup": "none"}},
		"linked to a revoked card": {revoke: true, payload: map[string]any{"text": "99000123"}, status: sdk.StatusInvalid, rule: "revoked",
			want: map[string]any{"result": "revoked", "revokedAt": linkedAt, "looksLike": "temporary-card", "tempCardNo": "99000123"}},
		"e-card number without its QR code": {payload: map[string]any{"text": "<card>"}, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "ecard-number"}},
		"health card starting with 99": {payload: map[string]any{"text": "99" + strings.Repeat("B5A28173", 8)[2:] + ":1"}, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "national-health-card"}},
		"resident ID": {payload: map[string]any{"text": testResidentID}, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "resident-id", "cardStatus": "active", "name": "张*丰"}},
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
			got = unexplained(t, got)
			want := tc.want
			if want != nil && (tc.status == sdk.StatusOK || tc.revoke || want["looksLike"] == "ecard-number" || want["looksLike"] == "resident-id") {
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
		"defaults":                {settings: map[string]string{}},
		"sequential numbers":      {settings: map[string]string{setCardNumbers: numbersSequential}},
		"reveal as 1":             {settings: map[string]string{setRevealIdentity: "1"}},
		"no temp lookup":          {settings: map[string]string{setTempCardLookup: lookupNone}},
		"unknown numbering":       {settings: map[string]string{setCardNumbers: "random"}, field: setCardNumbers},
		"reveal not a boolean":    {settings: map[string]string{setRevealIdentity: "yes please"}, field: setRevealIdentity},
		"HIS lookup URL":          {settings: map[string]string{setTempCardLookup: "https://his.local/tempcard"}},
		"unknown lookup":          {settings: map[string]string{setTempCardLookup: "ftp://his"}, field: setTempCardLookup},
		"lookup timeout too long": {settings: map[string]string{setLookupTimeout: "5m"}, field: setLookupTimeout},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, tc.settings)
			_, ds := parseSettings(testSite, s, func() time.Time { return testT0 })
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

// TestScanTemporaryCardHISLookup: with tempCardLookup set to a HIS
// service's URL, a temporary card that is not linked here is looked up
// there; a linked one is answered from the link without asking.
func TestScanTemporaryCardHISLookup(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	his := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct{ TempCardNo string }
		if json.NewDecoder(r.Body).Decode(&req) != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch req.TempCardNo {
		case "98000001":
			_, _ = w.Write([]byte(`{"found": true, "patientId": "P0001", "name": "李四光", "idType": "01", "idNumber": "110105194912310021", "phone": "13900001111"}`))
		case "98000002":
			_, _ = w.Write([]byte(`{"found": false}`))
		case "98000003":
			http.NotFound(w, r)
		case "98000004":
			http.Error(w, "database down", http.StatusInternalServerError)
		case "98000005":
			<-r.Context().Done() // answers only when medgate gives up
		case "98000006":
			_, _ = w.Write([]byte(`<html>login</html>`))
		}
	}))
	t.Cleanup(his.Close)
	patient := map[string]any{"found": true, "patientId": "P0001", "name": "李*光", "idType": "01", "idNumber": "110***********0021", "phone": "139****1111"}
	refusal := func(no string, failed bool) map[string]any {
		m := map[string]any{"result": "temporary-card", "looksLike": "temporary-card", "tempCardNo": no, "prefix": "98", "lookup": "his"}
		if failed {
			m["lookupFailed"] = true
		}
		return m
	}
	testCases := map[string]struct {
		text   string
		reveal bool
		status sdk.Status
		want   map[string]any
		calls  int64
	}{
		"known to HIS": {text: "98000001", status: sdk.StatusOK, calls: 1,
			want: map[string]any{"result": "temporary-card", "tempCardNo": "98000001", "prefix": "98", "source": "his", "patient": patient, "masked": true}},
		"known to HIS, revealed": {text: "98000001", reveal: true, status: sdk.StatusOK, calls: 1,
			want: map[string]any{"result": "temporary-card", "tempCardNo": "98000001", "prefix": "98", "source": "his", "masked": false,
				"patient": with(patient, map[string]any{"name": "李四光", "idNumber": "110105194912310021", "phone": "13900001111"})}},
		"HIS says not found":  {text: "98000002", status: sdk.StatusInvalid, calls: 1, want: refusal("98000002", false)},
		"HIS answers 404":     {text: "98000003", status: sdk.StatusInvalid, calls: 1, want: refusal("98000003", false)},
		"HIS fails":           {text: "98000004", status: sdk.StatusInvalid, calls: 1, want: refusal("98000004", true)},
		"HIS too slow":        {text: "98000005", status: sdk.StatusInvalid, calls: 1, want: refusal("98000005", true)},
		"HIS answers garbage": {text: "98000006", status: sdk.StatusInvalid, calls: 1, want: refusal("98000006", true)},
		"linked: no HIS call": {text: "99000123", status: sdk.StatusOK, calls: 0},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, map[string]string{setTempCardLookup: his.URL + "/tempcard", setLookupTimeout: "1s", setRevealIdentity: "true"})
			e := newEnv(t, s)
			cardNo := e.register(zhang()).CardNo
			e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
			r := e.call(OpScan, map[string]any{"text": tc.text, "reveal": tc.reveal})
			if r.Status != tc.status {
				t.Fatalf("status %s %s, want %s", r.Status, r.Diagnostics, tc.status)
			}
			var got map[string]any
			_ = json.Unmarshal(r.Payload, &got)
			got = unexplained(t, got)
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("payload (-want +got):\n%s", diff)
				}
			} else if got["source"] != "links" || got["cardNo"] != cardNo {
				t.Errorf("linked card answered %v, want the link", got)
			}
			var lookups []sdk.Exchange
			for _, x := range e.host.Exchanges() {
				if x.Exchange.System == "his" {
					lookups = append(lookups, x.Exchange)
				}
			}
			if int64(len(lookups)) != tc.calls {
				t.Fatalf("%d HIS lookups journaled, want %d", len(lookups), tc.calls)
			}
			for _, x := range lookups {
				if x.Serial != tc.text || strings.Contains(string(x.Response), "李四光") || strings.Contains(string(x.Response), "13900001111") {
					t.Errorf("journal %s %s: want the lookup of %s, masked", x.Serial, x.Response, tc.text)
				}
			}
		})
	}
	t.Cleanup(func() { // after the parallel subtests
		if calls.Load() == 0 {
			t.Error("the HIS service was never called")
		}
	})
}

// TestScanPermitNumberFindsItsCard: the 18-character numbers of a 港澳台居民
// 居住证 (idType 09, 81/82/83…) and a 2023 外国人永久居留身份证 (idType 08,
// 9…) carry a valid MOD 11-2 check character, so a scan classifies them as
// resident IDs; the scan must still find the card registered under them
// instead of saying the person has none.
func TestScanPermitNumberFindsItsCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	for _, id := range []map[string]string{
		{"name": "陈大文", "idType": "09", "idNumber": "810000199408230021", "phone": "13812345679"},
		{"name": "约翰", "idType": "08", "idNumber": "911156198001010016", "phone": "13812345670"},
	} {
		cardNo := e.register(id).CardNo
		st, rule, out := e.scan(id["idNumber"])
		if st != sdk.StatusInvalid || rule != "not-ecard" || out["cardNo"] != cardNo || out["cardStatus"] != "active" {
			t.Errorf("scan of idType %s number %s: %s %s %v, want not-ecard naming card %s", id["idType"], id["idNumber"], st, rule, out, cardNo)
		}
	}
}

// TestQRIssuedEventWithFractionalValidity: the code's validity is whole
// seconds, so a validity such as "1h0.5s" seals a code issued at the
// current second; the ecard.qrcode.issued event must carry that issue
// time, the one a scan of the code reports, not expiry − the raw validity.
func TestQRIssuedEventWithFractionalValidity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	var qr qrReply
	e.ok(OpQRCode, map[string]any{"cardNo": cardNo, "validity": "1h0.5s"}, &qr)
	st, _, out := e.scan(qr.Text)
	if st != sdk.StatusOK || out["issuedAt"] != testT0.Format(time.RFC3339) {
		t.Fatalf("scan: %s issuedAt %v, want ok issued at %s", st, out["issuedAt"], testT0.Format(time.RFC3339))
	}
	evs := e.eventsOfType(EventQRIssued)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1", len(evs), EventQRIssued)
	}
	var got map[string]any
	if err := json.Unmarshal(evs[0].Payload, &got); err != nil {
		t.Fatal(err)
	}
	if got["issuedAt"] != out["issuedAt"] || !evs[0].OccurredAt.Equal(testT0) {
		t.Errorf("event issuedAt %v (occurredAt %s), want the code's issue time %v", got["issuedAt"], evs[0].OccurredAt, out["issuedAt"])
	}
}

// TestScanTemporaryCardShapedLikeOtherCodes: a temporary-card number that
// also has the shape of a resident ID number (18 digits with the right
// check character) or of a drug trace code (20 digits starting with 8) is
// answered as the temporary card: the site's tempCardPrefixes take
// precedence over those generic shapes. Numbers outside the prefixes keep
// their kinds.
func TestScanTemporaryCardShapedLikeOtherCodes(t *testing.T) {
	t.Parallel()
	const (
		idShaped    = "990000000000000123"   // 99 + 15 digits + the valid MOD 11-2 check character
		idUnlinked  = "981234567890123459"   // ditto, prefix 98, not linked
		traceShaped = "87000000000000000001" // 20 digits starting with 8, prefix 87
	)
	s := testSettings()
	s[setTempCardPrefixes] = "99,98,87"
	e := newEnv(t, s)
	cardNo := e.register(zhang()).CardNo
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": idShaped}, nil)
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": traceShaped}, nil)
	linkedAt := testT0.Format(time.RFC3339)
	linked := func(tempNo, prefix string) map[string]any {
		return map[string]any{"result": "temporary-card", "tempCardNo": tempNo, "prefix": prefix, "source": "links", "linkedAt": linkedAt,
			"cardNo": cardNo, "status": "active", "name": "张*丰", "idType": "01", "idNumber": "110***********002X", "phone": "138****5678",
			"registeredAt": linkedAt, "tempCards": []any{idShaped, traceShaped}, "masked": true}
	}
	testCases := map[string]struct {
		text   string
		status sdk.Status
		rule   string
		want   map[string]any
	}{
		"linked, resident-ID shape": {text: idShaped, status: sdk.StatusOK, want: linked(idShaped, "99")},
		"linked, trace-code shape":  {text: traceShaped, status: sdk.StatusOK, want: linked(traceShaped, "87")},
		"unlinked, resident-ID shape": {text: idUnlinked, status: sdk.StatusInvalid, rule: "temporary-card",
			want: map[string]any{"result": "temporary-card", "looksLike": "temporary-card", "tempCardNo": idUnlinked, "prefix": "98", "lookup": "links"}},
		"resident ID outside the prefixes": {text: testResidentID, status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "resident-id", "cardNo": cardNo, "cardStatus": "active", "name": "张*丰"}},
		"trace code outside the prefixes": {text: "81234567890123456789", status: sdk.StatusInvalid, rule: "not-ecard",
			want: map[string]any{"result": "not-ecard", "looksLike": "trace-code"}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			status, rule, got := e.scan(tc.text)
			if status != tc.status || rule != tc.rule {
				t.Fatalf("status %s rule %q, want %s %q (payload %v)", status, rule, tc.status, tc.rule, got)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScanTemporaryCardLinkedToMissingCard: a temporary card whose link
// names a card record that is missing is answered as a temporary card
// (kind, tempCardNo, the linked number) with a message that fits a
// temporary-card scan, not the one for an authentic QR code.
func TestScanTemporaryCardLinkedToMissingCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
	if err := e.host.Delete(context.Background(), testSite, keyCard+cardNo); err != nil {
		t.Fatal(err)
	}
	r := e.call(OpScan, map[string]string{"text": "99000123"})
	if r.Status != sdk.StatusInvalid || len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != ResultUnknownCard {
		t.Fatalf("status %s %s, want invalid %s", r.Status, r.Diagnostics, ResultUnknownCard)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"result": "unknown-card", "looksLike": "temporary-card", "tempCardNo": "99000123", "cardNo": cardNo, "kind": "temporary-card",
		"message": "临时卡 99000123 关联的电子卡 " + cardNo + " 在本院不存在（关联记录有误）：请在 HIS 中按临时卡号查找病人，并请信息科核查此关联。"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if d := r.Diagnostics[0]; !strings.Contains(d.Summary, "temporary card 99000123") || !strings.Contains(d.Detail, "HIS") {
		t.Errorf("diagnostic %q / %q does not name the temporary card and what to do", d.Summary, d.Detail)
	}
}
