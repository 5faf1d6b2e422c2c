package mapping

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestOutboundReplyCarriesWarnings: a reply mapped to an HL7 v2 ACK for the
// replies topic (the demo's reply mappings, which write ERR from the errors
// alone) carries each of the reply's warnings as an ERR of severity W,
// after the errors; an AA of an ecard.register whose ID number was
// registered under another name said nothing of it. JSON replies and
// replies without warnings are as the mapping wrote them.
func TestOutboundReplyCarriesWarnings(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Sites: []config.Site{{Code: "demo", Outbound: &config.Outbound{Format: "hl7v2", Replies: []string{"*"}}}}}
	sets, err := Compile(cfg, map[string]source{})
	if err != nil {
		t.Fatal(err)
	}
	var m Mappings
	m.Set(sets)
	const mismatch = `{"field":"$.name","rule":"mismatch","message":"the name differs from the one registered"}`
	testCases := map[string]struct {
		typ, reply string
		err        []string // ERR-4 ERR-3.1 ERR-8 of each ERR
		after      string   // the segment after the last ERR
	}{
		"AA with a warning": {"ecard.register", `{"id":"r1","requestId":"m1","site":"demo","type":"ecard.register","status":"ok","warnings":[` + mismatch + `],"payload":{"cardNo":"8801","created":false,"status":"active"},"completedAt":"2026-12-03T02:00:00Z"}`,
			[]string{"W mismatch the name differs from the one registered"}, "ZEC"},
		"AR, errors first": {"workinjury.GYU102", `{"id":"r2","requestId":"m2","site":"demo","type":"workinjury.GYU102","status":"invalid","errors":[{"field":"$.fee[0].qty","rule":"required","message":"qty is missing"}],"warnings":[{"field":"$.fee[1]","rule":"line-refused","message":"line 2 refused"}],"completedAt":"2026-12-03T02:00:00Z"}`,
			[]string{"E required qty is missing", "W line-refused line 2 refused"}, ""},
		"no warnings": {"ecard.register", `{"id":"r3","requestId":"m3","site":"demo","type":"ecard.register","status":"ok","payload":{"cardNo":"8801","created":true,"status":"active"},"completedAt":"2026-12-03T02:00:00Z"}`,
			nil, ""},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := map[string]string{}
			out := m.OutboundReply("demo", tc.typ, nil, []byte(tc.reply), h)
			msg, err := hl7.ParseWith(out, hl7.Options{Text: true})
			if err != nil {
				t.Fatalf("reply %q (headers %v): %v", out, h, err)
			}
			errs := msg.All("ERR")
			if len(errs) != len(tc.err) {
				t.Fatalf("%d ERR, want %d: %q", len(errs), len(tc.err), out)
			}
			for i, e := range errs {
				if got := e.Value(4, 1, 1, 1) + " " + e.Value(3, 1, 1, 1) + " " + e.Value(8, 1, 1, 1); got != tc.err[i] {
					t.Errorf("ERR[%d] %q, want %q", i+1, got, tc.err[i])
				}
			}
			var ids []string
			for _, s := range msg.Segments {
				ids = append(ids, s.Name)
			}
			if tc.after != "" && !strings.Contains(strings.Join(ids, " "), "MSA ERR "+tc.after) {
				t.Errorf("segments %v, want MSA ERR %s", ids, tc.after)
			}
		})
	}
	// A JSON reply is left as it is.
	jsonCfg := &config.Config{Sites: []config.Site{{Code: "demo", Outbound: &config.Outbound{Format: "json", Events: []string{"ecard.registered"}}}}}
	if sets, err = Compile(jsonCfg, map[string]source{}); err != nil {
		t.Fatal(err)
	}
	var mj Mappings
	mj.Set(sets)
	doc := `{"id":"r1","requestId":"m1","site":"demo","type":"ecard.register","status":"ok","warnings":[` + mismatch + `]}`
	if out := mj.OutboundReply("demo", "ecard.register", nil, []byte(doc), map[string]string{}); string(out) != doc {
		t.Errorf("a reply the site does not map changed: %s", out)
	}
}
