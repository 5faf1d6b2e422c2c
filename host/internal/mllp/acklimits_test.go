package mllp

import (
	"fmt"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// msh10Max is the largest MSH-10 (ST) of each HL7 v2 version, as the HL7
// database gives it (the generated segment classes of nHapi,
// NHapi.Model.V2x/Segment/MSH.cs, "Message Control ID"): 20 up to v2.5.1,
// 199 from v2.6 on.
var msh10Max = map[string]int{"2.2": 20, "2.3": 20, "2.3.1": 20, "2.4": 20, "2.5": 20, "2.5.1": 20,
	"2.6": 199, "2.7": 199, "2.7.1": 199, "2.8": 199, "2.8.1": 199}

// replyWithID answers every request with status and the reply id id (a
// stored reply's id is 32 hex digits).
func replyWithID(id, status string) *fakeProc {
	return &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
		r := &message.Reply{ID: id, RequestID: env["id"].(string), Site: "demo", Type: "ecard.register", Status: status}
		if status == message.StatusInvalid {
			r.Errors = []message.ReplyError{{Field: "$.idNumber", Rule: "required", Message: "PID-3.1 is empty"}}
		}
		return r, nil
	}}
}

// TestACKControlIDFitsVersion: the MSH-10 of every ACK (plain, mapped with
// the demo's MSH-10 from the reply id, an AR of a message not processed)
// fits the length the version the message declares gives MSH-10: a strict
// v2.4 receiver (many Chinese HIS engines) truncates or refuses a longer
// one. It is the stored reply's id where that fits, and is the same for a
// resend (the same stored reply) and another for another reply.
func TestACKControlIDFitsVersion(t *testing.T) {
	t.Parallel()
	const (
		id1 = "5f0c2a91d4e34b7a8c61f0e2b3a4d5c6"
		id2 = "5f0c2a91d4e34b7a8c61f0e2b3a4d5c7" // differs in the last digit only
	)
	mapped := "MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||ACK|%s|P|%s\rMSA|AA|x\r"
	testCases := map[string]struct {
		version string // MSH-12 of the message ("" for none)
		ackVer  string // MSH-12 of the ACK
		mapped  bool
		typ     string // MSH-9
	}{
		"2.3 plain":            {"2.3", "2.3", false, "ADT^A28"},
		"2.3.1 plain":          {"2.3.1", "2.3.1", false, "ADT^A28"},
		"2.4 plain":            {"2.4", "2.4", false, "ADT^A28"},
		"2.5 plain":            {"2.5", "2.5", false, "ADT^A28"},
		"2.5.1 plain":          {"2.5.1", "2.5.1", false, "ADT^A28"},
		"2.6 plain":            {"2.6", "2.6", false, "ADT^A28"},
		"2.8 plain":            {"2.8", "2.8", false, "ADT^A28"},
		"no version":           {"", "2.5", false, "ADT^A28"},
		"2.4 mapped as 2.5":    {"2.4", "2.5", true, "ADT^A28"},
		"2.7 mapped as 2.7":    {"2.7", "2.7", true, "ADT^A28"},
		"2.4 AR not processed": {"2.4", "2.4", false, "ZZZ^Z01"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msg := fmt.Sprintf("MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||%s|MSG1|P|%s\rPID|1||X1\r", tc.typ, tc.version)
			ackOf := func(id string) *hl7.Message {
				maps := fakeMaps{}
				if tc.mapped {
					maps.ack = fmt.Appendf(nil, mapped, id, tc.ackVer)
				}
				s, err := New(listenerConfig(), replyWithID(id, message.StatusOK), maps, quiet, nil)
				if err != nil {
					t.Fatal(err)
				}
				acks := exchange(t, s, frame(msg))
				if len(acks) != 1 {
					t.Fatalf("%d ACKs, want 1", len(acks))
				}
				return acks[0]
			}
			ack := ackOf(id1)
			msh := &ack.Segments[0]
			if v := msh.Value(12, 1, 1, 1); v != tc.ackVer {
				t.Fatalf("ACK MSH-12 %q, want %q", v, tc.ackVer)
			}
			limit := min(msh10Max[tc.ackVer], msh10Max[firstNonEmpty(tc.version, "2.5")])
			got := msh.Field(10)
			if got == "" || len([]rune(got)) > limit {
				t.Errorf("ACK MSH-10 %q (%d characters), want 1 to %d for v%s", got, len([]rune(got)), limit, tc.ackVer)
			}
			if tc.typ != "ADT^A28" {
				return // an AR of a message not processed has no stored reply
			}
			if len(id1) <= limit && got != id1 {
				t.Errorf("ACK MSH-10 %q, want the stored reply's id %q, which fits", got, id1)
			}
			if again := ackOf(id1).Segments[0].Field(10); again != got {
				t.Errorf("the resend's ACK MSH-10 %q, want %q as before (the same stored reply)", again, got)
			}
			if other := ackOf(id2).Segments[0].Field(10); other == got {
				t.Errorf("the ACK of another reply has the same MSH-10 %q", other)
			}
		})
	}
}
