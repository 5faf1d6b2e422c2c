package mllp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// hl7Table0357 is HL7 table 0357 (message error condition codes) as v2.3 to
// v2.5 give it.
var hl7Table0357 = map[string]bool{"0": true, "100": true, "101": true, "102": true, "103": true,
	"200": true, "201": true, "202": true, "203": true, "204": true, "205": true, "206": true, "207": true}

// TestACKErrShapePerVersion: up to v2.4 the ERR segment has one field,
// ERR-1 (error code and location, ELD, required, at most 80 characters:
// segment ID^sequence^field position^code identifying the error, a CE of
// table 0357), so a strict v2.4 receiver refuses an ERR without it; from
// v2.5 ERR-3 (HL7 error code, CWE) and ERR-4 (severity) are required and
// ERR-1 is kept for backward compatibility only (nHapi's generated
// NHapi.Model.V23/V231/V24/V25/Segment/ERR.cs). Each ERR of our AE and AR
// has what the message's version requires.
func TestACKErrShapePerVersion(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		version string
		status  string
		errs    []message.ReplyError
		eld     bool // ERR-1 required
	}{
		"2.3 invalid":   {"2.3", message.StatusInvalid, []message.ReplyError{{Field: "$.idNumber", Rule: "required", Message: "PID-3.1 is empty"}}, true},
		"2.3.1 invalid": {"2.3.1", message.StatusInvalid, []message.ReplyError{{Field: "$.name", Rule: "length", Message: "PID-5 is too long"}}, true},
		"2.4 two errors": {"2.4", message.StatusInvalid, []message.ReplyError{{Field: "$.idNumber", Rule: "required", Message: "PID-3.1 is empty"},
			{Field: "$.sex", Rule: "enum", Message: "PID-8 is not M, F or U"}}, true},
		"2.4 rejected": {"2.4", message.StatusRejected, nil, true},
		"2.5 invalid":  {"2.5", message.StatusInvalid, []message.ReplyError{{Field: "$.idNumber", Rule: "required", Message: "PID-3.1 is empty"}}, false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
				r := &message.Reply{ID: "r1", RequestID: env["id"].(string), Site: "demo", Status: tc.status, Errors: tc.errs}
				if tc.status == message.StatusRejected {
					r.External = &message.External{System: "ecard", Code: "E9", Message: "card revoked"}
				}
				return r, nil
			}}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := fmt.Sprintf("MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28|MSG1|P|%s\rPID|1||X1\r", tc.version)
			acks := exchange(t, s, frame(msg))
			if len(acks) != 1 {
				t.Fatalf("%d ACKs, want 1", len(acks))
			}
			var errs []*hl7.Segment
			for i := range acks[0].Segments {
				if acks[0].Segments[i].Name == "ERR" {
					errs = append(errs, &acks[0].Segments[i])
				}
			}
			if want := max(len(tc.errs), 1); len(errs) != want {
				t.Fatalf("%d ERR segments, want %d", len(errs), want)
			}
			for i, e := range errs {
				if e.Field(3) == "" || e.Value(4, 1, 1, 1) != "E" {
					t.Errorf("ERR %d: ERR-3 %q ERR-4 %q, want a code and severity E", i+1, e.Field(3), e.Field(4))
				}
				if !tc.eld {
					continue
				}
				eld := e.Field(1)
				code, text, system := e.Value(1, 1, 4, 1), e.Value(1, 1, 4, 2), e.Value(1, 1, 4, 3)
				if len([]rune(eld)) > 80 || !hl7Table0357[code] || text == "" || system != "HL70357" || strings.Contains(eld, "~") {
					t.Errorf("ERR %d: ERR-1 %q, want one ELD of at most 80 characters whose 4th component is a table 0357 code, its text and HL70357", i+1, eld)
				}
			}
		})
	}
}
