package adapter

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestCardPreCheck: GYD052 and GYD055 go out only for a person with an
// approved filing (「人员存在已审核通过备案」), checked as the uploads'
// filing preconditions are: from what this site knows, else with GYD051,
// never skipped. The simulator refuses both without an approved filing
// (E6001), so an adapter that skipped the check would get a rejection
// instead of the invalid reply with nothing sent that these cases expect.
func TestCardPreCheck(t *testing.T) {
	t.Parallel()
	card := wisim.Card{AAZ500: "A35020000077", CardID: "350200D156000077", AAB301: "350200", AAC002: "350203199001010077",
		AAC003: "卡测试人", AAC004: "1", AAC006: "1990-01-01", Status: "1", Secret: []byte("card-secret")}
	filing := func(kv ...string) map[string]any {
		f := wisim.SampleFiling("CARD", 7, "350200")
		f["aac002"], f["aac044"], f["aac003"] = card.AAC002, card.AAC002, card.AAC003
		f["aae031"] = "2025-06-30"
		for i := 0; i+1 < len(kv); i += 2 {
			f[kv[i]] = kv[i+1]
		}
		return f
	}
	// The adapter's clock: 2025-06-01 10:00 (CST), moved on by the cases.
	base := time.Date(2025, 6, 1, 10, 0, 0, 0, cst)
	auth := map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002, "aac003": card.AAC003,
		"akb020": hospital, "aae036": "2025-06-01 09:30:00"}
	random := "0011223344556677"
	internal := map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "random_hex": random,
		"internal_auth_data": wisim.InternalAuthData(card.Secret, random), "akb020": hospital}

	type env2 struct {
		*env
		later *atomic.Int64 // added to base by the adapter's clock
	}
	cases := map[string]struct {
		pre        string         // the preconditions setting, "" for the default
		filing     map[string]any // the holder's filing at the national system
		before     func(e env2)   // what happened earlier at this site
		code       string
		in         map[string]any
		want       sdk.Status
		wantField  string // an error diagnostic on it (invalid)
		wantGYD051 int    // GYD051 calls for this message
		wantSent   bool   // the message itself went out
		wantCode   string // external code (rejected)
	}{
		"GYD052, approved filing not known here: GYD051 first": {filing: filing(), code: "GYD052", in: auth,
			want: sdk.StatusOK, wantGYD051: 1, wantSent: true},
		"GYD052, approved filing known here": {filing: filing(), code: "GYD052", in: auth,
			before: func(e env2) { e.mustOK(e.send("GYD052", auth)) }, want: sdk.StatusOK, wantSent: true},
		"GYD052, known here, GYD051@card": {pre: "GYD051@admission,GYD051@card", filing: filing(), code: "GYD052", in: auth,
			before: func(e env2) { e.mustOK(e.send("GYD052", auth)) }, want: sdk.StatusOK, wantGYD051: 1, wantSent: true},
		"GYD052, no filing": {code: "GYD052", in: auth,
			want: sdk.StatusInvalid, wantField: "$.aac002", wantGYD051: 1},
		"GYD052, refused filing": {filing: filing("filing_status", "2"), code: "GYD052", in: auth,
			want: sdk.StatusInvalid, wantField: "$.aac002", wantGYD051: 1},
		"GYD052, filing ended before the authentication day": {filing: filing("aae031", "2025-05-31"), code: "GYD052", in: auth,
			want: sdk.StatusInvalid, wantField: "$.aac002", wantGYD051: 1},
		"GYD052, GYD051 gives no answer": {filing: filing(), code: "GYD052", in: auth,
			before: func(e env2) { e.sim.Inject(wisim.Fault{Code: "GYD051", Kind: wisim.Fault5xx}) },
			want:   sdk.StatusFailed, wantGYD051: 1},
		"GYD055 after a GYD052 of the card": {filing: filing(), code: "GYD055", in: internal,
			before: func(e env2) { e.mustOK(e.send("GYD052", auth)) }, want: sdk.StatusOK, wantSent: true},
		"GYD055 after a GYD052, filing terminated since, GYD051@card": {pre: "GYD051@admission,GYD051@card", filing: filing(), code: "GYD055", in: internal,
			before: func(e env2) {
				e.mustOK(e.send("GYD052", auth))
				e.sim.AddFiling(filing("filing_status", "4"))
			}, want: sdk.StatusInvalid, wantField: "$.aaz500", wantGYD051: 1},
		"GYD055 after cardAuthMaxAge, filing known here still valid": {filing: filing(), code: "GYD055", in: internal,
			before: func(e env2) {
				e.mustOK(e.send("GYD052", auth))
				e.later.Store(int64(13 * time.Hour))
			}, want: sdk.StatusOK, wantSent: true},
		"GYD055 after cardAuthMaxAge, filing ended since": {filing: filing(), code: "GYD055", in: internal,
			before: func(e env2) {
				e.mustOK(e.send("GYD052", auth))
				e.later.Store(int64(40 * 24 * time.Hour)) // 2025-07-11: past aae031
			}, want: sdk.StatusInvalid, wantField: "$.aaz500", wantGYD051: 1},
		"GYD055 of a card not seen here, holder with a filing": {filing: filing(), code: "GYD055", in: internal,
			want: sdk.StatusOK, wantSent: true},
		"GYD055 of a card not seen here, holder without a filing": {code: "GYD055", in: internal,
			want: sdk.StatusRejected, wantSent: true, wantCode: "E6001"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			later := &atomic.Int64{}
			opts := []envOption{
				withClock(func() time.Time { return base.Add(time.Duration(later.Load())) }),
				withSeed(func(s *wisim.Server) {
					s.AddInstitution(wisim.SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"))
					s.AddCard(card)
					if tc.filing != nil {
						s.AddFiling(tc.filing)
					}
				}),
			}
			if tc.pre != "" {
				opts = append(opts, withSettings(setPreconditions, tc.pre))
			}
			e := env2{newEnv(t, opts...), later}
			e.mustOK(e.send("GYD009", map[string]any{})) // the institution's type is known here
			if tc.before != nil {
				tc.before(e)
			}
			gyd051, sent := e.journaled("GYD051"), e.journaled(tc.code)
			r := e.send(tc.code, tc.in)
			if r.Status != tc.want {
				t.Fatalf("status %s, want %s: %s (external %+v)", r.Status, tc.want, r.Diagnostics, r.External)
			}
			if tc.wantField != "" && !hasField(r, tc.wantField, "GYD051") {
				t.Errorf("diagnostics %v, want a GYD051 error on %s", fields(r), tc.wantField)
			}
			if r.Status == sdk.StatusInvalid && !strings.Contains(r.Diagnostics.String(), "rule approved-filing") && !strings.Contains(r.Diagnostics.String(), "rule filing-validity") {
				t.Errorf("diagnostics %s do not name the rule", r.Diagnostics)
			}
			if r.Status == sdk.StatusFailed && !r.Retryable {
				t.Error("a GYD051 without an answer must leave the message retryable")
			}
			if n := e.journaled("GYD051") - gyd051; n != tc.wantGYD051 {
				t.Errorf("%d GYD051 calls, want %d", n, tc.wantGYD051)
			}
			if got := e.journaled(tc.code) > sent; got != tc.wantSent {
				t.Errorf("%s sent: %v, want %v", tc.code, got, tc.wantSent)
			}
			if tc.wantCode != "" && (r.External == nil || r.External.Code != tc.wantCode) {
				t.Errorf("external %+v, want code %s", r.External, tc.wantCode)
			}
			if r.Status == sdk.StatusOK {
				var out map[string]any
				if err := json.Unmarshal(r.Payload, &out); err != nil || out["auth_result"] != "1" {
					t.Errorf("output %s, want auth_result 1", r.Payload)
				}
			}
		})
	}
}
