package workinjury

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// The filing side's rules (GYU001, GYU002, GYU006, GYU007, GYU009,
// GYU010, GYD052, GYD053, GYD054, GYD055), each refusal and its success.

// audit is a GYU001 input for application apply.
func audit(apply map[string]any, result, opinion string) map[string]any {
	in := map[string]any{"apply_no": apply["apply_no"], "aac002": apply["aac002"], "aac003": apply["aac003"], "audit_result": result,
		"auditor": "审核员", "audit_time": "2025-04-01 09:00:00"}
	if opinion != "" {
		in["audit_opinion"] = opinion
	}
	return in
}

// localFiling is a GYU006 input of this province (insured in 350200) for
// a new person i, with attachment ids.
func localFiling(i int, ids ...string) map[string]any {
	f := SampleFiling("LOC", i, "350200")
	in := map[string]any{"aab004": "厦门市示例建筑有限公司", "aae011": "王五", "aae036": "2025-04-01 09:00:00"}
	for _, k := range []string{"aac002", "aac003", "aac043", "aac044", "aac004", "aae005", "injury_cert_no", "aab299", "filing_type", "akb020", "aae030", "aae031"} {
		in[k] = f[k]
	}
	in["aab301"] = "350200"
	var atts []any
	for _, id := range ids {
		atts = append(atts, map[string]any{"attachment_id": id, "attachment_type": "01"})
	}
	in["attachments"] = atts
	return in
}

func uploadAttachment(c *client, content string) string {
	c.t.Helper()
	code, out := c.call("GYU002", map[string]any{"biz_type": "1", "biz_no": "LOCAL1", "attachments": []any{map[string]any{"attachment_type": "01",
		"file_name": "认定书.pdf", "file_format": "pdf", "file_size": len(content), "file_content": base64.StdEncoding.EncodeToString([]byte(content))}}})
	if code != "0" {
		c.t.Fatalf("GYU002 answered %s", code)
	}
	return out["attachments"].([]any)[0].(map[string]any)["attachment_id"].(string)
}

func TestFilingRules(t *testing.T) {
	t.Parallel()
	app := SampleApplication("AU", 1, "350200")
	delivered := func(c *chain) {
		c.srv.AddApplication(app)
		c.ack("GYD001", c.must("GYD001", map[string]any{"aab299": "350200"}))
	}
	change := func(c *chain, typ string, kv ...any) map[string]any {
		return with(map[string]any{"filing_no": c.filing["filing_no"], "change_type": typ, "change_reason": "变更", "aae011": "王五", "aae036": "2025-04-01 09:00:00"}, kv...)
	}
	tests := map[string]struct {
		code string
		in   func(c *chain) map[string]any
		want string
	}{
		"GYU001 approve":                     {"GYU001", func(c *chain) map[string]any { delivered(c); return audit(app, "1", "") }, "0"},
		"GYU001 refuse with opinion":         {"GYU001", func(c *chain) map[string]any { delivered(c); return audit(app, "2", "材料不全") }, "0"},
		"GYU001 refuse without opinion":      {"GYU001", func(c *chain) map[string]any { delivered(c); return audit(app, "2", "") }, "E3008"},
		"GYU001 refuse with a blank opinion": {"GYU001", func(c *chain) map[string]any { delivered(c); return audit(app, "2", "\u3000 ") }, "E3008"},
		"GYU001 approve another person": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "1", ""), "aac002", "350203199001010011")
		}, "E3010"},
		"GYU001 refuse another person": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "2", "材料不全"), "aac002", "350203199001010011")
		}, "E3010"},
		"GYU001 approve at an institution of another place": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "1", ""), "akb020", outside)
		}, "E3011"},
		"GYU001 approve at an institution of the place": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "1", ""), "akb020", rehab)
		}, "0"},
		"GYU001 approve with an end before the application's start": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "1", ""), "aae031", "2025-03-31")
		}, "E3013"},
		"GYU001 approve with a start after the application's end": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "1", ""), "aae030", "2027-01-01")
		}, "E3013"},
		"GYU001 approve ending on the application's start": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "1", ""), "aae031", "2025-04-01")
		}, "0"},
		"GYU001 refuse with an end before the application's start": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			return with(audit(app, "2", "材料不全"), "aae031", "2025-03-31")
		}, "0"},
		"GYU001 not downloaded": {"GYU001", func(c *chain) map[string]any {
			c.srv.AddApplication(app)
			return audit(app, "1", "")
		}, "E3006"},
		"GYU001 twice": {"GYU001", func(c *chain) map[string]any {
			delivered(c)
			c.must("GYU001", audit(app, "1", ""))
			return audit(app, "1", "")
		}, "E3007"},
		"GYU006 with its attachment":     {"GYU006", func(c *chain) map[string]any { return localFiling(5, uploadAttachment(c.client, "认定书")) }, "0"},
		"GYU006 attachment not uploaded": {"GYU006", func(c *chain) map[string]any { return localFiling(5, "FJNOSUCH") }, "E3002"},
		"GYU006 insured elsewhere": {"GYU006", func(c *chain) map[string]any {
			return with(localFiling(5, uploadAttachment(c.client, "认定书")), "aab301", "440300")
		}, "E3003"},
		"GYU006 second valid filing": {"GYU006", func(c *chain) map[string]any {
			id := uploadAttachment(c.client, "认定书")
			c.must("GYU006", localFiling(5, id))
			return localFiling(5, id)
		}, "E3001"},
		"GYU007 extend": {"GYU007", func(c *chain) map[string]any { return change(c, "1", "aae031", "2027-06-30") }, "0"},
		"GYU007 extend to an end before the filing's start": {"GYU007", func(c *chain) map[string]any { return change(c, "1", "aae031", "2024-12-31") }, "E3013"},
		"GYU007 extend to the filing's start":               {"GYU007", func(c *chain) map[string]any { return change(c, "1", "aae031", "2025-01-01") }, "0"},
		"GYU007 unknown filing": {"GYU007", func(c *chain) map[string]any {
			return with(change(c, "1", "aae031", "2027-06-30"), "filing_no", "BANOSUCH")
		}, "E3004"},
		"GYU007 to unknown inst": {"GYU007", func(c *chain) map[string]any { return change(c, "2", "akb020", "H35029999999") }, "E3009"},
		"GYU007 terminated back to valid": {"GYU007", func(c *chain) map[string]any {
			c.must("GYU007", change(c, "5"))
			return change(c, "1", "aae031", "2027-06-30")
		}, "E3005"},
		"GYU002 size mismatch": {"GYU002", func(c *chain) map[string]any {
			return map[string]any{"biz_type": "1", "biz_no": "X", "attachments": []any{map[string]any{"attachment_type": "01", "file_name": "a.pdf",
				"file_format": "pdf", "file_size": 99, "file_content": base64.StdEncoding.EncodeToString([]byte("abc"))}}}
		}, "E1002"},
		"GYU002 content in MIME lines": {"GYU002", func(c *chain) map[string]any {
			content := []byte(strings.Repeat("%PDF-1.4 line ", 10))
			wrapped := base64.StdEncoding.EncodeToString(content)
			wrapped = wrapped[:76] + "\r\n" + wrapped[76:]
			return map[string]any{"biz_type": "1", "biz_no": "X", "attachments": []any{map[string]any{"attachment_type": "01", "file_name": "a.pdf",
				"file_format": "pdf", "file_size": len(content), "file_content": wrapped}}}
		}, "E1002"},
		"GYD054 unknown attachment": {"GYD054", func(c *chain) map[string]any { return map[string]any{"attachment_id": "FJNOSUCH"} }, "E4001"},
		"GYD054 uploaded attachment": {"GYD054", func(c *chain) map[string]any {
			return map[string]any{"attachment_id": uploadAttachment(c.client, "内容")}
		}, "0"},
		"GYU010 valid code": {"GYU010", func(c *chain) map[string]any {
			c.srv.AddCard(DemoCard())
			c.srv.AddQRCode("QR1", DemoCard().AAZ500, "ESSC1", time.Now().Add(time.Hour))
			return map[string]any{"qr_code": "QR1", "akb020": hospital, "aae036": "2025-04-01 09:00:00"}
		}, "0"},
		"GYU010 expired code": {"GYU010", func(c *chain) map[string]any {
			c.srv.AddCard(DemoCard())
			c.srv.AddQRCode("QR1", DemoCard().AAZ500, "ESSC1", time.Now().Add(-time.Second))
			return map[string]any{"qr_code": "QR1", "akb020": hospital, "aae036": "2025-04-01 09:00:00"}
		}, "E5001"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			in := tc.in(c)
			n := len(c.srv.Ledger())
			got, _ := c.call(tc.code, in)
			if got != tc.want {
				t.Fatalf("%s answered %s, want %s", tc.code, got, tc.want)
			}
			grew := len(c.srv.Ledger()) > n
			if query := tc.code == "GYD054"; !query && grew != (tc.want == "0") {
				t.Fatalf("%s answered %s but the ledger grew: %v", tc.code, got, grew)
			}
		})
	}
}

// TestCardChecks: GYD052 authenticates a card and GYD055 checks its internal
// authentication, both only for a person with an approved filing (the
// pre-check 「人员存在已审核通过备案」, E6001); GYD052 needs it valid on its
// authentication day.
func TestCardChecks(t *testing.T) {
	t.Parallel()
	card := DemoCard()
	card.AAC002, card.AAC003 = "350203199001010099", "卡测试人"
	filing := func(kv ...any) map[string]any {
		return with(SampleFiling("CARD", 9, "350200"), append([]any{"aac002", card.AAC002, "aac003", card.AAC003}, kv...)...)
	}
	auth := map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002, "aac003": card.AAC003,
		"akb020": hospital, "aae036": "2025-04-01 09:00:00"}
	random := "0011223344556677"
	internal := map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "random_hex": random,
		"internal_auth_data": InternalAuthData(card.Secret, random), "akb020": hospital}
	cases := map[string]struct {
		filing  map[string]any // the holder's filing, if any
		code    string
		in      map[string]any
		want    string            // the answer code
		wantOut map[string]string // members of a success's output
	}{
		"GYD052 without a filing":         {code: "GYD052", in: auth, want: "E6001"},
		"GYD052 with a refused filing":    {filing: filing("filing_status", "2"), code: "GYD052", in: auth, want: "E6001"},
		"GYD052 with a terminated filing": {filing: filing("filing_status", "4"), code: "GYD052", in: auth, want: "E6001"},
		"GYD052 after the filing ended":   {filing: filing("aae031", "2025-03-31"), code: "GYD052", in: auth, want: "E6001"},
		"GYD052 before the filing began":  {filing: filing("aae030", "2025-04-02"), code: "GYD052", in: auth, want: "E6001"},
		"GYD052 with an approved filing":  {filing: filing(), code: "GYD052", in: auth, want: "0", wantOut: map[string]string{"auth_result": "1", "filing_valid": "1"}},
		"GYD052 with a changed filing":    {filing: filing("filing_status", "3"), code: "GYD052", in: auth, want: "0", wantOut: map[string]string{"auth_result": "1"}},
		"GYD052 of another holder":        {filing: filing(), code: "GYD052", in: with(auth, "aac003", "别人"), want: "0", wantOut: map[string]string{"auth_result": "0"}},
		"GYD055 without a filing":         {code: "GYD055", in: internal, want: "E6001"},
		"GYD055 with a refused filing":    {filing: filing("filing_status", "2"), code: "GYD055", in: internal, want: "E6001"},
		"GYD055 with an approved filing":  {filing: filing(), code: "GYD055", in: internal, want: "0", wantOut: map[string]string{"auth_result": "1", "external_auth_data": ExternalAuthData(card.Secret, random)}},
		"GYD055 with a forged card":       {filing: filing(), code: "GYD055", in: with(internal, "internal_auth_data", InternalAuthData([]byte("forged"), random)), want: "0", wantOut: map[string]string{"auth_result": "0"}},
		"GYD055 of an unknown card":       {filing: filing(), code: "GYD055", in: with(internal, "aaz500", "A00000000000"), want: "0", wantOut: map[string]string{"auth_result": "0"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			c.srv.AddCard(card)
			if tc.filing != nil {
				c.srv.AddFiling(tc.filing)
			}
			got, out := c.call(tc.code, tc.in)
			if got != tc.want {
				t.Fatalf("%s answered %s, want %s (output %v)", tc.code, got, tc.want, out)
			}
			for k, v := range tc.wantOut {
				if out[k] != v {
					t.Errorf("%s: %s = %v, want %s (output %v)", tc.code, k, out[k], v, out)
				}
			}
		})
	}
}

// TestTransactionQuery: GYD053 answers a past transaction by serial, its
// success output or its refusal, and "9" for an unknown serial.
func TestTransactionQuery(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	in := SampleAdmission(c.filing, hospital, "ZY1", day0)
	if code, _ := c.callSerial("GYU101", "Q1", in); code != "0" {
		t.Fatalf("GYU101: %s", code)
	}
	if code, _ := c.callSerial("GYU101", "Q2", in); code != "E6004" {
		t.Fatalf("second GYU101: %s", code)
	}
	for serial, want := range map[string]string{"Q1": "1", "Q2": "0", "Q9": "9"} {
		out := c.must("GYD053", map[string]any{"orig_code": "GYU101", "orig_msg_id": serial})
		if out["trans_status"] != want {
			t.Errorf("GYD053 of %s = %v, want trans_status %s", serial, out, want)
		}
	}
	if out := c.must("GYD053", map[string]any{"orig_code": "GYU102", "orig_msg_id": "Q1"}); out["trans_status"] != "9" {
		t.Errorf("GYD053 with the wrong code = %v", out)
	}
}

// TestInstitutionAndFilingDownloads: GYU009 stores an institution that
// GYD009 hands out (filtered by type); GYD006 hands out the filings of the
// place of treatment.
func TestInstitutionAndFilingDownloads(t *testing.T) {
	t.Parallel()
	c := newChain(t, func(cfg *Config) { cfg.BatchSize = MaxBatch })
	c.ack("GYD009", c.must("GYD009", map[string]any{}))
	c.must("GYU009", map[string]any{"akb020": "K35020399999", "akb021": "新康复医院", "institution_type": "2", "aab299": "350200",
		"aae030": "2025-01-01", "valid_flag": "1"})
	if out := c.must("GYD009", map[string]any{"institution_type": "1"}); len(records(out)) != 0 {
		t.Fatalf("GYD009 of medical institutions = %v", out)
	}
	out := c.must("GYD009", map[string]any{"institution_type": "2"})
	if got := ids("GYD009", out); got != "[K35020399999]" {
		t.Fatalf("GYD009 gave %s", got)
	}
	if n := c.srv.Accepted("GYU009", "K35020399999"); n != 1 {
		t.Fatalf("GYU009 in the ledger %d times", n)
	}
	if got := ids("GYD006", c.must("GYD006", map[string]any{"aab299": "440300"})); got != "[]" {
		t.Fatalf("GYD006 of another place gave %s", got)
	}
	if got := ids("GYD006", c.must("GYD006", map[string]any{"aab299": "350200"})); got != "["+c.filing["filing_no"].(string)+"]" {
		t.Fatalf("GYD006 gave %s", got)
	}
}

// TestLocalFilingAttachments: GYU006 names the files of the filing as they
// were uploaded with GYU002 for a filing (biz_type 1), each under the type
// it was uploaded as, with the 工伤认定决定书 (01) among them (requirement
// 5: 上传前需先调用附件上传接口提交工伤认定书等资料); otherwise E3002 and no
// filing.
func TestLocalFilingAttachments(t *testing.T) {
	t.Parallel()
	upload := func(c *chain, bizType, typ string) string {
		content := "%PDF-1.4 " + typ
		out := c.must("GYU002", map[string]any{"biz_type": bizType, "biz_no": "LOCAL1", "attachments": []any{map[string]any{"attachment_type": typ,
			"file_name": "附件.pdf", "file_format": "pdf", "file_size": len(content), "file_content": base64.StdEncoding.EncodeToString([]byte(content))}}})
		return out["attachments"].([]any)[0].(map[string]any)["attachment_id"].(string)
	}
	ref := func(id, typ string) any { return map[string]any{"attachment_id": id, "attachment_type": typ} }
	for name, tc := range map[string]struct {
		atts func(c *chain) []any
		want string
	}{
		"the certificate": {func(c *chain) []any { return []any{ref(upload(c, "1", "01"), "01")} }, "0"},
		"the certificate and a diagnosis": {func(c *chain) []any {
			return []any{ref(upload(c, "1", "06"), "06"), ref(upload(c, "1", "01"), "01")}
		}, "0"},
		"a diagnosis named as the certificate": {func(c *chain) []any { return []any{ref(upload(c, "1", "06"), "01")} }, "E3002"},
		"a certificate named as another type": {func(c *chain) []any {
			return []any{ref(upload(c, "1", "01"), "01"), ref(upload(c, "1", "01"), "04")}
		}, "E3002"},
		"no certificate":                {func(c *chain) []any { return []any{ref(upload(c, "1", "04"), "04")} }, "E3002"},
		"a certificate of a stay":       {func(c *chain) []any { return []any{ref(upload(c, "2", "01"), "01")} }, "E3002"},
		"a certificate of a device job": {func(c *chain) []any { return []any{ref(upload(c, "3", "01"), "01")} }, "E3002"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			in := localFiling(5)
			in["attachments"] = tc.atts(c)
			code, out := c.call("GYU006", in)
			if code != tc.want {
				t.Fatalf("GYU006 answered %s (%v), want %s", code, out, tc.want)
			}
			if filed := c.srv.Accepted("GYU006", str(out, "filing_no")) == 1; filed != (tc.want == "0") {
				t.Fatalf("filed = %v after %s", filed, code)
			}
		})
	}
}

// TestChangeKeepsOneValidFiling: GYU007 never leaves a person with two
// valid filings of one institution type (requirements item 5:
// 同一人员同一机构类型仅保留一条有效备案): moving a filing to an institution of
// a type the person already has a valid filing of, or extending an ended
// filing beside a valid one of its type, is E3001; alone, both go through.
func TestChangeKeepsOneValidFiling(t *testing.T) {
	t.Parallel()
	const person = "350203199001010055"
	filing := func(i int, akb020, until string) map[string]any {
		return with(SampleFiling("KO", i, "350200"), "aac002", person, "aac044", person, "akb020", akb020, "aae031", until)
	}
	change := func(no, typ string, kv ...any) map[string]any {
		return with(map[string]any{"filing_no": no, "change_type": typ, "change_reason": "变更", "aae011": "王五", "aae036": "2025-04-01 09:00:00"}, kv...)
	}
	for name, tc := range map[string]struct {
		filings []map[string]any
		in      map[string]any
		want    string
	}{
		"moved beside a valid filing of the new type": {[]map[string]any{filing(1, hospital, "2099-12-31"), filing(2, rehab, "2099-12-31")},
			change("BAKO00000002", "2", "akb020", hospital), "E3001"},
		"moved": {[]map[string]any{filing(2, rehab, "2099-12-31")}, change("BAKO00000002", "2", "akb020", hospital), "0"},
		"extended beside a valid filing of its type": {[]map[string]any{filing(1, hospital, "2025-05-01"), filing(3, hospital, "2099-12-31")},
			change("BAKO00000001", "1", "aae031", "2099-12-31"), "E3001"},
		"extended":                 {[]map[string]any{filing(1, hospital, "2025-05-01")}, change("BAKO00000001", "1", "aae031", "2099-12-31"), "0"},
		"valid filing extended":    {[]map[string]any{filing(3, hospital, "2099-12-31")}, change("BAKO00000003", "1", "aae031", "2100-12-31"), "0"},
		"ended filing's phone set": {[]map[string]any{filing(1, hospital, "2025-05-01"), filing(3, hospital, "2099-12-31")}, change("BAKO00000001", "4", "aae005", "13900000001"), "0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			for _, f := range tc.filings {
				c.srv.AddFiling(f)
			}
			n := len(c.srv.Ledger())
			got, out := c.call("GYU007", tc.in)
			if got != tc.want {
				t.Fatalf("GYU007 answered %s (%v), want %s", got, out, tc.want)
			}
			if grew := len(c.srv.Ledger()) > n; grew != (tc.want == "0") {
				t.Fatalf("GYU007 answered %s but the ledger grew: %v", got, grew)
			}
		})
	}
}

// TestChangeKeepsInstitutionInPlace: GYU007 keeps a filing's institution
// in its place of treatment (GYU101 and GYU303 refuse a filing whose
// institution is elsewhere, E6005): a place change (3) naming an
// institution of another place, or an institution change (2) to one
// outside the filing's place, is E3011; so is a place change naming no
// institution while the filing's own is outside the new place.
func TestChangeKeepsInstitutionInPlace(t *testing.T) {
	t.Parallel()
	change := func(c *chain, typ string, kv ...any) map[string]any {
		return with(map[string]any{"filing_no": c.filing["filing_no"], "change_type": typ, "change_reason": "变更", "aae011": "王五", "aae036": "2025-04-01 09:00:00"}, kv...)
	}
	for name, tc := range map[string]struct {
		in   func(c *chain) map[string]any
		want string
	}{
		// The chain's filing is of place 350200; outside is in 440300.
		"place changed with an institution there":     {func(c *chain) map[string]any { return change(c, "3", "aab299", "440300", "akb020", outside) }, "0"},
		"place changed with an institution elsewhere": {func(c *chain) map[string]any { return change(c, "3", "aab299", "440300", "akb020", hospital) }, "E3011"},
		"place changed alone":                         {func(c *chain) map[string]any { return change(c, "3", "aab299", "440300") }, "0"},
		"place changed alone, the filing's institution elsewhere": {func(c *chain) map[string]any {
			c.srv.AddFiling(with(c.filing, "akb020", hospital))
			return change(c, "3", "aab299", "440300")
		}, "E3011"},
		"place changed alone, the filing's institution there": {func(c *chain) map[string]any {
			c.srv.AddFiling(with(c.filing, "akb020", hospital))
			return change(c, "3", "aab299", "350200")
		}, "0"},
		"institution changed within the place": {func(c *chain) map[string]any { return change(c, "2", "akb020", rehab) }, "0"},
		"institution changed to another place": {func(c *chain) map[string]any { return change(c, "2", "akb020", outside) }, "E3011"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			n := len(c.srv.Ledger())
			got, out := c.call("GYU007", tc.in(c))
			if got != tc.want {
				t.Fatalf("GYU007 answered %s (%v), want %s", got, out, tc.want)
			}
			if grew := len(c.srv.Ledger()) > n; grew != (tc.want == "0") {
				t.Fatalf("GYU007 answered %s but the ledger grew: %v", got, grew)
			}
		})
	}
}

// TestLocalFilingKindOfInstitution: GYU006 of an assistive-device filing
// (filing_type 3) names an assistive-device institution, any other filing
// one that is not (GYU303 and GYU101 refuse the mix, E6301 and E6003);
// otherwise E3012; one whose institution is outside its place of
// treatment (aab299) is E3011. A filing naming no institution is not
// checked.
func TestLocalFilingKindOfInstitution(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		filingType, akb020, want string
	}{
		"device filing at a device institution":               {"3", devices, "0"},
		"device filing at a hospital":                         {"3", hospital, "E3012"},
		"device filing at a rehabilitation institution":       {"3", rehab, "E3012"},
		"treatment filing at a device institution":            {"1", devices, "E3012"},
		"transfer filing at a rehabilitation institution":     {"2", rehab, "0"},
		"device filing without an institution":                {"3", "", "0"},
		"treatment filing at an institution of another place": {"1", outside, "E3011"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			in := with(localFiling(5, uploadAttachment(c.client, "认定书")), "filing_type", tc.filingType, "akb020", tc.akb020)
			if tc.akb020 == "" {
				delete(in, "akb020")
			}
			code, out := c.call("GYU006", in)
			if code != tc.want {
				t.Fatalf("GYU006 answered %s (%v), want %s", code, out, tc.want)
			}
			if filed := c.srv.Accepted("GYU006", str(out, "filing_no")) == 1; filed != (tc.want == "0") {
				t.Fatalf("filed = %v after %s", filed, code)
			}
		})
	}
}
