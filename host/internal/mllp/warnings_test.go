package mllp

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
)

// TestACKCarriesWarnings: a reply's warnings reach the sender as ERR
// segments of severity W (ERR-4), after the errors, in a plain ACK and in
// a mapped one whose mapping wrote none (the demo's reply mappings write
// ERR from the errors only). The AA of an ecard.register whose ID number
// was registered under another name, or of a GYU102 with a fee line the
// national system refused, had no trace of the warning, so the HIS took
// the message as done as sent.
func TestACKCarriesWarnings(t *testing.T) {
	t.Parallel()
	const head = "MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||ACK|r1|P|2.5\r"
	mismatch := message.ReplyError{Field: "$.name", Rule: "mismatch", Message: "the name differs from the one registered"}
	refused := message.ReplyError{Field: "$.charges[1]", Rule: "line-refused", Message: "fee line 2 refused"}
	testCases := map[string]struct {
		reply    message.Reply
		mapped   string // "" for the plain ACK
		segments string
		err      []string // "severity rule message" of each ERR, in order
	}{
		"plain AA": {message.Reply{Status: message.StatusOK, Warnings: []message.ReplyError{mismatch, refused}}, "",
			"MSH MSA ERR ERR", []string{"W mismatch the name differs", "W line-refused fee line 2"}},
		"plain AR, errors first": {message.Reply{Status: message.StatusInvalid, Errors: []message.ReplyError{{Field: "$.x", Rule: "required", Message: "x is missing"}}, Warnings: []message.ReplyError{mismatch}}, "",
			"MSH MSA ERR ERR", []string{"E required x is missing", "W mismatch the name differs"}},
		"mapped AA": {message.Reply{Status: message.StatusOK, Warnings: []message.ReplyError{mismatch}}, head + "MSA|AA|x\rZEC|E1\r",
			"MSH MSA ERR ZEC", []string{"W mismatch the name differs"}},
		"mapped AE with its errors": {message.Reply{Status: message.StatusRejected, Errors: []message.ReplyError{{Rule: "external", Message: "refused"}}, Warnings: []message.ReplyError{refused}},
			head + "MSA|AE|x|refused\rERR|||external^^MEDGATE|E||||refused\rZEX|workinjury|E1\r",
			"MSH MSA ERR ERR ZEX", []string{"E external refused", "W line-refused fee line 2"}},
		"mapped AE, errors added": {message.Reply{Status: message.StatusRejected, Errors: []message.ReplyError{{Rule: "external", Message: "refused"}}, Warnings: []message.ReplyError{refused}},
			head + "MSA|AE|x\rZEX|workinjury|E1\r",
			"MSH MSA ERR ERR ZEX", []string{"E external refused", "W line-refused fee line 2"}},
		"the mapping's own warning kept": {message.Reply{Status: message.StatusOK, Warnings: []message.ReplyError{mismatch}}, head + "MSA|AA|x\rERR|||mismatch^^MEDGATE|W||||mapped warning\r",
			"MSH MSA ERR", []string{"W mismatch mapped warning"}},
		"no warnings": {message.Reply{Status: message.StatusOK}, head + "MSA|AA|x\rZEC|E1\r", "MSH MSA ZEC", nil},
	}
	// A v2.3 sender reads ERR-1 alone: a warning is not an error there.
	t.Run("v2.3 plain AA", func(t *testing.T) {
		t.Parallel()
		proc := &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
			return &message.Reply{ID: "r1", RequestID: env["id"].(string), Site: "demo", Type: "ecard.register", Status: message.StatusOK, Warnings: []message.ReplyError{mismatch}}, nil
		}}
		s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
		if err != nil {
			t.Fatal(err)
		}
		acks := exchange(t, s, frame(strings.Replace(strings.Replace(a28, "%s", "1", 1), "|P|2.5", "|P|2.3", 1)))
		if len(acks) != 1 || len(acks[0].All("ERR")) != 1 {
			t.Fatalf("ACKs %+v", acks)
		}
		if got := acks[0].All("ERR")[0].Value(1, 1, 4, 1); got != "0" {
			t.Errorf("ERR-1.4 %q, want 0 (Message accepted)", got)
		}
	})
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
				r := tc.reply
				r.ID, r.RequestID, r.Site, r.Type = "r1", env["id"].(string), "demo", "ecard.register"
				return &r, nil
			}}
			var maps fakeMaps
			if tc.mapped != "" {
				maps.ack = []byte(tc.mapped)
			}
			s, err := New(listenerConfig(), proc, maps, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, frame(strings.Replace(a28, "%s", "1", 1)))
			if len(acks) != 1 {
				t.Fatalf("%d ACKs, want 1", len(acks))
			}
			var ids []string
			for _, seg := range acks[0].Segments {
				ids = append(ids, seg.Name)
			}
			if got := strings.Join(ids, " "); got != tc.segments {
				t.Errorf("segments %q, want %q", got, tc.segments)
			}
			errs := acks[0].All("ERR")
			if len(errs) != len(tc.err) {
				t.Fatalf("%d ERR segments, want %d", len(errs), len(tc.err))
			}
			for i, e := range errs {
				got := e.Value(4, 1, 1, 1) + " " + e.Value(3, 1, 1, 1) + " " + e.Value(8, 1, 1, 1)
				if !strings.HasPrefix(got, tc.err[i]) {
					t.Errorf("ERR[%d] %q, want %q…", i+1, got, tc.err[i])
				}
			}
		})
	}
}
