package adapter

import (
	"encoding/json"
	"testing"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// FuzzQRCode feeds the scanned content of an electronic social-security
// card (GYU010 qr_code: whatever the scanner read, untrusted) through
// everything that runs before the request is sent: the payload parser,
// the schema and the rules, and the request's JSON. It must never panic,
// and a payload that passes goes out with exactly the qr_code that was
// checked: the request's JSON decodes to the same string.
func FuzzQRCode(f *testing.F) {
	for _, s := range []string{"ESSC0000000000000000000000000000", "", " ", "QR\r\n", "\x00\x01", "\"}{", `\u0000`, "\xff\xfe", "\u2028\u2029",
		"<script>", "https://h5.ecard.example/qr?c=ABC&d=1", string(make([]byte, 600))} {
		f.Add(s, false)
		f.Add(s, true)
	}
	c, _ := parseSettings("s", withDefaults(map[string]string{setURL: "http://x", setRegionCode: "350200", setKeyDir: f.TempDir()}))
	a := New(WithLogger(discardLogger()))
	h := hostFor(sdktest.NewMemoryHost(), "s")
	sc, _ := c.schemas.Get(Name, "GYU010")
	f.Fuzz(func(t *testing.T, qr string, raw bool) {
		var payload []byte
		if raw {
			// The content as a scanner wrapper may paste it, unescaped.
			payload = []byte(`{"aae036":"2025-04-01 09:30:00","akb020":"H35020300123","qr_code":"` + qr + `"}`)
		} else {
			payload, _ = json.Marshal(map[string]any{"qr_code": qr, "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"})
		}
		doc, rawDoc, ds := decodePayload(payload)
		if ds.HasError() {
			return
		}
		if a.defaults(c, "GYU010", doc) || plainNumbers(doc) {
			rawDoc = nil
		}
		if len(sc.ValidateInput(doc)) > 0 {
			return
		}
		rds, err := a.checkRules(t.Context(), h, c, "fuzz", "GYU010", doc)
		if err != nil || rds.HasError() {
			t.Fatalf("a GYU010 the schema accepts is refused by the rules: %v %s", err, rds)
		}
		b, _, err := requestJSON(requestInput(doc, rawDoc))
		if err != nil {
			t.Fatalf("request JSON: %v", err)
		}
		var sent map[string]any
		if err := json.Unmarshal(b, &sent); err != nil {
			t.Fatalf("the request is not JSON: %v: %q", err, b)
		}
		if sent["qr_code"] != doc["qr_code"] {
			t.Fatalf("checked qr_code %q, sent %q", doc["qr_code"], sent["qr_code"])
		}
	})
}
