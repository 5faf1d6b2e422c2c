package adapter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// TestScanMessages: every scan reply, accepted or refused, says what the
// text is ("kind") and in Chinese what to do ("message"), with the name
// masked even when the reply carries it in full.
func TestScanMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo, q := e.issue(map[string]any{"validity": "1h"})
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
	_, old := e.issue(map[string]any{"validity": "1s"})
	expired := old.Text
	e.clock.Set(testT0.Add(2 * time.Second))
	tampered := q.Text[:len(q.Text)-1] + map[bool]string{true: "A", false: "B"}[!strings.HasSuffix(q.Text, "A")]

	testCases := map[string]struct {
		text, kind, message string
	}{
		"e-card QR code": {text: q.Text + "\r\n", kind: "ecard",
			message: "电子卡有效：卡号 " + cardNo + "，张*丰，二维码有效期至 2026-11-26 21:00。"},
		"linked temporary card": {text: "99000123", kind: "temporary-card",
			message: "临时卡 99000123（前缀 99）已关联电子卡 " + cardNo + "：张*丰。"},
		"unlinked temporary card": {text: "98000777", kind: "temporary-card",
			message: "临时卡 98000777（前缀 98）：尚未关联电子卡，请在 HIS 中按临时卡号查找病人，为其注册电子卡并关联。"},
		"expired QR code": {text: expired, kind: "ecard",
			message: "电子卡 " + cardNo + " 的二维码已于 2026-11-26 20:00 过期，请患者刷新或重新打印二维码。"},
		"altered QR code": {text: tampered, kind: "ecard",
			message: "电子卡二维码校验失败：可能是外院签发的电子卡二维码，或被改动、误读、伪造。请重新扫描；仍失败请核实患者身份，外院患者请在本院登记电子卡。"},
		"e-card number": {text: cardNo, kind: "ecard-number",
			message: "这是电子卡号 " + cardNo + "，不是二维码：卡号不能证明患者在场，请出示电子卡二维码。"},
		"resident ID of a card holder": {text: testResidentID, kind: "resident-id",
			message: "这是居民身份证号（校验位正确），不是电子卡：此人已注册电子卡 " + cardNo + "（张*丰），请出示电子卡二维码，或按身份证号在 HIS 查找病人。"},
		"resident ID of nobody here": {text: "440524188001010014", kind: "resident-id",
			message: "这是居民身份证号（校验位正确），不是电子卡：此人未注册电子卡，请按身份证号在 HIS 查找病人。"},
		"resident ID, wrong check": {text: "110105194912310021", kind: "resident-id-bad-check",
			message: "像居民身份证号，但校验位不对（GB 11643）：可能读错或输错，请重新扫描或核对证件。"},
		"trace code": {text: "81234567890123456789", kind: "trace-code",
			message: "这是药品追溯码（20 位），不是就诊卡：请在药品出入库或发药时扫描。"},
		"national health card": {text: strings.Repeat("B5A28173", 8) + ":1", kind: "national-health-card",
			message: "这是国家电子健康卡二维码，不是本院电子卡：请通过电子健康卡平台核验。"},
		"anything else": {text: "hello", kind: "unknown",
			message: "无法识别的码：不是本院电子卡、临时卡、身份证号或追溯码，请重新扫描。"},
		"nothing": {text: "", kind: "", message: "没有扫到内容，请重新扫描。"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.call(OpScan, map[string]string{"text": tc.text})
			var got struct{ Kind, Message, LooksLike string }
			if err := json.Unmarshal(r.Payload, &got); err != nil {
				t.Fatalf("payload %q: %v", r.Payload, err)
			}
			if diff := cmp.Diff([]string{tc.kind, tc.message}, []string{got.Kind, got.Message}); diff != "" {
				t.Errorf("kind and message (-want +got):\n%s", diff)
			}
			if got.LooksLike != "" && got.LooksLike != got.Kind {
				t.Errorf("looksLike %q differs from kind %q", got.LooksLike, got.Kind)
			}
		})
	}
}

// TestScanResidentIDOfRevokedCard: the ID number of a person whose card
// was revoked says so, and so does a temporary card linked to it.
func TestScanResidentIDOfRevokedCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
	e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "lost"}, nil)
	r := e.call(OpScan, map[string]string{"text": testResidentID})
	var got struct{ Kind, Message, CardNo, CardStatus string }
	if err := json.Unmarshal(r.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := "这是居民身份证号（校验位正确），不是电子卡：此人的电子卡 " + cardNo + "（张*丰）已注销，请重新注册。"
	if got.Kind != "resident-id" || got.CardNo != cardNo || got.CardStatus != "revoked" || got.Message != want {
		t.Errorf("scan of a revoked card holder's ID: %s", r.Payload)
	}
	r = e.call(OpScan, map[string]string{"text": "99000123"})
	var temp struct{ Kind, Message string }
	_ = json.Unmarshal(r.Payload, &temp)
	if want := "临时卡 99000123 关联的电子卡 " + cardNo + " 已于 2026-11-26 20:00 注销，请为患者重新注册电子卡。"; temp.Kind != "temporary-card" || temp.Message != want {
		t.Errorf("scan of a temporary card linked to a revoked card: %s", r.Payload)
	}
}

// TestScanMessageTempLookups: the message of a temporary card follows the
// site's lookup and its outcome, and never shows a full name.
func TestScanMessageTempLookups(t *testing.T) {
	t.Parallel()
	patient := &struct {
		PatientID string `json:"patientId"`
		Name      string `json:"name"`
	}{PatientID: "P0001", Name: "李四光"}
	testCases := map[string]struct {
		facts scanFacts
		want  string
	}{
		"found by the HIS": {facts: scanFacts{Result: ResultTemporaryCard, TempCardNo: "98000001", Prefix: "98", Source: "his", Patient: patient},
			want: "临时卡 98000001（前缀 98）：HIS 查到病人 李*光（病人号 P0001）。"},
		"HIS lookup failed": {facts: scanFacts{Result: ResultTemporaryCard, TempCardNo: "98000001", Prefix: "98", Lookup: "http://his/lookup", LookupFailed: true},
			want: "临时卡 98000001（前缀 98）：HIS 查询失败，请在 HIS 中按临时卡号查找病人。"},
		"unknown to the HIS": {facts: scanFacts{Result: ResultTemporaryCard, TempCardNo: "98000001", Prefix: "98", Lookup: "http://his/lookup"},
			want: "临时卡 98000001（前缀 98）：未关联电子卡，HIS 也不认识此卡，请核对卡号。"},
		"site does not look up": {facts: scanFacts{Result: ResultTemporaryCard, TempCardNo: "98000001", Prefix: "98", Lookup: lookupNone},
			want: "临时卡 98000001（前缀 98）：本院不查询临时卡，请在 HIS 中按临时卡号查找病人。"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			kind, msg := scanMessage(tc.facts, "")
			if kind != KindTemporaryCard || msg != tc.want {
				t.Errorf("scanMessage = %q %q, want temporary-card %q", kind, msg, tc.want)
			}
		})
	}
}

// TestExplainPayloads: kind and message are appended to any JSON object,
// an empty payload becomes one, and anything else is an error.
func TestExplainPayloads(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		payload string
		want    string
		err     bool
	}{
		"none":        {payload: "", want: `{"kind":"","message":"没有扫到内容，请重新扫描。"}`},
		"empty":       {payload: " {} ", want: `{"kind":"","message":"没有扫到内容，请重新扫描。"}`},
		"with fields": {payload: `{"result":"not-ecard","looksLike":"trace-code"}`, want: `{"result":"not-ecard","looksLike":"trace-code","kind":"trace-code","message":"这是药品追溯码（20 位），不是就诊卡：请在药品出入库或发药时扫描。"}`},
		"a list":      {payload: `[1]`, err: true},
		"null":        {payload: `null`, err: true},
		"not JSON":    {payload: `{"result":`, err: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := &sdk.HandleResponse{Status: sdk.StatusInvalid, Payload: []byte(tc.payload), Diagnostics: sdk.Diagnostics{{Rule: "required"}}}
			got, err := explain(r)
			if tc.err {
				if err == nil {
					t.Errorf("explain(%s) = %s, want an error", tc.payload, got.Payload)
				}
				return
			}
			if err != nil || string(got.Payload) != tc.want || !json.Valid(got.Payload) {
				t.Errorf("explain(%s) = %s, %v; want %s", tc.payload, got.Payload, err, tc.want)
			}
		})
	}
}

// TestScanResultsInSchema: every result a scan can answer is a code of the
// result field of the declared schema (schemas/ecard/scan.yaml), with its
// Chinese label, so the console and the platform can show each one.
func TestScanResultsInSchema(t *testing.T) {
	t.Parallel()
	set, err := schemas.FromDocuments(schemas.Documents("ecard"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := set.Lookup("ecard", "scan")
	if err != nil {
		t.Fatal(err)
	}
	var codes map[string]string
	for _, f := range s.Output {
		if f.Name == "result" {
			codes = f.Codes
		}
	}
	for _, r := range []string{ResultOK, ResultExpired, ResultNotYetValid, ResultTampered, ResultRevoked, ResultNotECard, ResultUnknownCard, ResultOtherSite, ResultOldFormat} {
		if codes[r] == "" {
			t.Errorf("scan result %q is not a code of the result field of schemas/ecard/scan.yaml", r)
		}
	}
}
