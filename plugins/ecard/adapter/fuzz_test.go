package adapter

import (
	"context"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// FuzzHandle feeds arbitrary payloads to every operation: the plugin must
// answer ok or invalid with a diagnostic, never panic or fail.
func FuzzHandle(f *testing.F) {
	ops := []string{OpRegister, OpQRCode, OpScan, OpRevoke, OpLink, OpGet, OpCardsList, OpDesk}
	f.Add(uint8(0), []byte(`{"name":"张三丰","idType":"01","idNumber":"11010519491231002X","phone":"13812345678"}`))
	f.Add(uint8(1), []byte(`{"cardNo":"880100000000013","validity":"1h","size":96,"printLabel":true}`))
	f.Add(uint8(2), []byte(`{"text":"MGE1IH56JKCKNESIBFHK3RUFT4UIJULXJXT6NOFNQWJAV6HAVAOH42ECFCKLSRTZNKJRJSLXPZOV"}`))
	f.Add(uint8(3), []byte(`{"cardNo":"880100000000013","reason":"x"}`))
	f.Add(uint8(4), []byte(`{"cardNo":"880100000000013","tempCardNo":"99000123"}`))
	f.Add(uint8(5), []byte(`{"tempCardNo":"99000123"}`))
	f.Add(uint8(6), []byte(`{"limit":-1}`))
	f.Add(uint8(2), []byte(`{"text":{"a":[1,2]}}`))
	f.Add(uint8(0), []byte(`{"name":null,"idType":1e400}`))
	f.Add(uint8(0), []byte(`{"name":"John Smith","idType":"03","idNumber":"E12345678","issuingCountry":"GBR","phone":"+8613812345678"}`))
	f.Add(uint8(0), []byte(`{"name":"李梅之女","gender":"2","birthDate":"2026-11-24","birthOrder":1,"guardian":{"name":"李梅","idType":"03","idNumber":"E12345678","issuingCountry":"GBR","phone":"+85291234567","relation":"52"}}`))
	f.Add(uint8(0), []byte(`{"name":"x","birthOrder":1e9,"guardian":{}}`))
	f.Add(uint8(0), []byte(`{"name":"x","guardian":{"idType":["01"],"relation":52}}`))

	host := sdktest.NewMemoryHost()
	a := New(WithClock(func() time.Time { return testT0 }))
	a.mustConfigureDirect(f)
	h := siteHost{h: host, site: testSite}
	ctx := context.Background()
	reg := []byte(`{"name":"张三丰","idType":"01","idNumber":"11010519491231002X","phone":"13812345678"}`)
	if r, err := a.Handle(ctx, &sdk.HandleRequest{Site: testSite, Type: OpRegister, Payload: reg, Host: h}); err != nil || r.Status != sdk.StatusOK {
		f.Fatalf("register: %v %v", err, r)
	}

	f.Fuzz(func(t *testing.T, op uint8, payload []byte) {
		typ := ops[int(op)%len(ops)]
		r, err := a.Handle(ctx, &sdk.HandleRequest{Site: testSite, Type: typ, MessageID: "fuzz", Format: "json", Payload: payload, Host: h})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if r == nil {
			t.Fatalf("%s: nil response", typ)
		}
		if r.Status != sdk.StatusOK && r.Status != sdk.StatusInvalid {
			t.Fatalf("%s: status %s: %s", typ, r.Status, r.Diagnostics)
		}
		if r.Status == sdk.StatusInvalid && len(r.Diagnostics) == 0 {
			t.Fatalf("%s: invalid without a diagnostic", typ)
		}
	})
}
