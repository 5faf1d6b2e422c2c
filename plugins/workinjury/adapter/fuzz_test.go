package adapter

import (
	"errors"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// FuzzPayloadChecks feeds arbitrary payloads through everything that runs
// before a request is sent: the payload parser, the schema validator and
// the business rules. It must never panic, and a payload it accepts must be
// a JSON object.
func FuzzPayloadChecks(f *testing.F) {
	codes := []string{"GYU000", "GYU001", "GYU002", "GYU006", "GYU007", "GYU008", "GYU009", "GYR005", "GYD001", "GYD051", "GYU102"}
	f.Add(uint8(3), []byte(`{"aac002":"350203199001010011","aab301":"350200","attachments":[{"attachment_id":"FJ1","attachment_type":"01"}]}`))
	f.Add(uint8(2), []byte(`{"attachments":[{"file_content":"JVBERi0=","file_size":"5"}]}`))
	f.Add(uint8(4), []byte(`{"filing_no":"BA1","change_type":"5"}`))
	f.Add(uint8(5), []byte(`{"record_count":"x","records":[null,1,{"result_flag":"0"}]}`))
	f.Add(uint8(1), []byte(`{"apply_no":"SQ1","audit_result":"2","aae030":"2025-13-01","aae031":"2025-01-01"}`))
	f.Add(uint8(0), []byte(`[1,2,3]`))
	f.Add(uint8(0), []byte(`{"a":1} {"b":2}`))
	f.Add(uint8(10), []byte(`{"fee":[{"qty":"1e400"}]}`))
	c, _ := parseSettings("s", withDefaults(map[string]string{setURL: "http://x", setRegionCode: "350200", setKeyDir: f.TempDir()}))
	a := New(WithLogger(discardLogger()))
	h := hostFor(sdktest.NewMemoryHost(), "s")
	f.Fuzz(func(t *testing.T, pick uint8, payload []byte) {
		code := codes[int(pick)%len(codes)]
		doc, ds := decodeObject(payload)
		if ds.HasError() {
			return
		}
		if doc == nil {
			t.Fatal("accepted a payload that is not an object")
		}
		a.defaults(c, code, doc)
		sc, _ := c.schemas.Get(Name, code)
		for _, fe := range sc.ValidateInput(doc) {
			if fe.Path == "" || fe.Rule == "" {
				t.Fatalf("error without path or rule: %+v", fe)
			}
		}
		rds, err := a.checkRules(t.Context(), h, c, "fuzz", code, doc)
		var ue *unavailableError
		if err != nil && !errors.As(err, &ue) {
			t.Fatal(err)
		}
		for _, d := range rds {
			if d.Severity == sdk.SeverityError && (d.Field == "" || d.Summary == "") {
				t.Fatalf("rule error without field or summary: %+v", d)
			}
		}
	})
}

// FuzzSettings: any settings are either refused with diagnostics or yield
// valid envelope options.
func FuzzSettings(f *testing.F) {
	f.Add("C1C3C2", "DER", "base64", "plaintext", "ECB", "", "raw16", "single", "/{code}", "350200", "infno")
	f.Add("ASN1", "RS", "HEX", "canonical", "CBC", "00112233445566778899aabbccddeeff", "hex32", "perTransaction", "/x/{code}", "3502", "-")
	f.Add("x", "y", "z", "w", "v", "u", "t", "s", "r", "q", "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, order, sig, enc, target, mode, iv, form, layout, tmpl, region, tx string) {
		in := withDefaults(map[string]string{setURL: "http://x", setKeyDir: dir, setCipherOrder: order, setSigFormat: sig,
			setEncoding: enc, setSignTarget: target, setSM4Mode: mode, setSM4IV: iv, setKeyForm: form, setLayout: layout,
			setPathTemplate: tmpl, setRegionCode: region, "field.txCode": tx})
		c, ds := parseSettings("s", in)
		if ds.HasError() {
			return
		}
		if err := c.opts.Validate(); err != nil {
			t.Fatalf("accepted settings with invalid options: %v", err)
		}
		if c.layout == LayoutPerTransaction && c.endpoint("GYU000") == c.url {
			t.Fatal("per-transaction endpoint does not name the transaction")
		}
	})
}
