package adapter

import (
	"context"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestCardAuthenticatedForAnotherPerson: a GYD052 answer that authenticates
// the card (auth_result 1) but names another holder than the person the
// message asked about is not that person's authentication. It is not
// passed on as ok (the cashier would admit the patient on another
// worker's card, and the payload is that worker's personal data), it is
// not remembered for GYD052@admission nor as the card's holder for
// GYD055, and neither number reaches the reply. An answer naming the
// person asked about, or none, stays ok.
func TestCardAuthenticatedForAnotherPerson(t *testing.T) {
	t.Parallel()
	card := wisim.DemoCard()
	other := wisim.SampleFiling("DEMO", 2, "350200")
	auth := map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002, "aac003": card.AAC003,
		"akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}
	cases := map[string]struct {
		set      map[string]any // the answer's fields (FaultAlter); nil: as the simulator answers
		omit     []string
		want     sdk.Status
		remember bool
	}{
		"answer names the person asked about": {want: sdk.StatusOK, remember: true},
		"answer names no person":              {omit: []string{"aac002", "aac003"}, want: sdk.StatusOK, remember: true},
		"answer names another person":         {set: map[string]any{"aac002": other["aac002"], "aac003": other["aac003"]}, want: sdk.StatusFailed},
		"answer names another number":         {set: map[string]any{"aac002": other["aac002"]}, want: sdk.StatusFailed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) { s.Seed(0, 2) }))
			switch {
			case tc.set != nil:
				e.sim.Inject(wisim.Fault{Code: "GYD052", Kind: wisim.FaultAlter, Set: tc.set})
			case tc.omit != nil:
				e.sim.Inject(wisim.Fault{Code: "GYD052", Kind: wisim.FaultOmit, Omit: tc.omit})
			}
			r := e.send("GYD052", auth)
			if r.Status != tc.want {
				t.Fatalf("status %s, want %s: %s %s", r.Status, tc.want, r.Diagnostics, r.Payload)
			}
			if r.Status == sdk.StatusFailed {
				if r.Retryable {
					t.Error("failed retryable: the card's holder does not change by asking again")
				}
				if len(r.Payload) != 0 {
					t.Errorf("payload %s passed on", r.Payload)
				}
				d := r.Diagnostics.String()
				if !strings.Contains(d, "$.aac002") && !hasField(r, "$.aac002", "") {
					t.Errorf("diagnostics %s do not point at $.aac002", d)
				}
				for _, n := range []string{card.AAC002, other["aac002"].(string), card.AAZ500} {
					if strings.Contains(d, n) {
						t.Errorf("diagnostics %s carry a card or social-security number", d)
					}
				}
			}
			ctx := context.Background()
			for _, key := range []string{"card/" + personKey(card.AAC002) + "/H35020300123", holderKey(card.AAZ500)} {
				_, err := hostFor(e.host, testSite).Get(ctx, key)
				if got := err == nil; got != tc.remember {
					t.Errorf("%s remembered: %v, want %v", key, got, tc.remember)
				}
			}
		})
	}
}
