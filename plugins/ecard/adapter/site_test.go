package adapter

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

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
