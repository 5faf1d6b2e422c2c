package adapter

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestDetailsLayouts: a visit's fee lines are read from the map of the
// older layout (one key per visit) and from the maps of each GYU102
// together; revocation marks lines in both; another visit whose number
// starts with this one is not touched.
func TestDetailsLayouts(t *testing.T) {
	ctx := t.Context()
	h := hostFor(sdktest.NewMemoryHost(), testSite)
	for key, dm := range map[string]visitDetails{
		"visit/V1/details":     {"0001": {Amount: "1.00", Fund: "1.00", Self: "0.00"}},
		"visit/V1/details/m2":  {"0002": {Amount: "2.00", Fund: "1.00", Self: "1.00"}, "0003": {Amount: "3.00", Fund: "3.00", Self: "0.00"}},
		"visit/V10/details/m3": {"0004": {Amount: "4.00", Fund: "4.00", Self: "0.00"}},
	} {
		if err := putJSON(ctx, h, key, dm); err != nil {
			t.Fatal(err)
		}
	}
	l := &lifecycle{ctx: ctx, h: h}
	read := func(v string) visitDetails {
		t.Helper()
		dm, err := l.details(v)
		if err != nil {
			t.Fatal(err)
		}
		return dm
	}
	want := visitDetails{
		"0001": {Amount: "1.00", Fund: "1.00", Self: "0.00"},
		"0002": {Amount: "2.00", Fund: "1.00", Self: "1.00"},
		"0003": {Amount: "3.00", Fund: "3.00", Self: "0.00"},
	}
	if diff := cmp.Diff(want, read("V1")); diff != "" {
		t.Errorf("details of V1 (-want +got):\n%s", diff)
	}

	if err := revokeDetails(ctx, h, "V1", map[string]bool{"0001": true, "0003": true}); err != nil {
		t.Fatal(err)
	}
	for no, revoked := range map[string]bool{"0001": true, "0002": false, "0003": true} {
		if got := read("V1")[no].Revoked; got != revoked {
			t.Errorf("after revoking 0001 and 0003, line %s revoked = %v, want %v", no, got, revoked)
		}
	}
	if err := revokeDetails(ctx, h, "V1", nil); err != nil {
		t.Fatal(err)
	}
	for no, d := range read("V1") {
		if !d.Revoked {
			t.Errorf("after revoking every line of V1, line %s is not revoked", no)
		}
	}
	if d := read("V10")["0004"]; d.Revoked || d.Amount != "4.00" {
		t.Errorf("visit V10 changed with V1: line 0004 = %+v", d)
	}
}
