package mllp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestACKLengthsFitV24 is the rest of what a strict parser of the version
// a message declares checks in our AR: MSA-3 (ST) holds at most 80
// characters up to v2.5.1 (nHapi's MSA.cs, "Text Message"), however long
// the reason, also one the ACK mapping wrote; the whole reason stays in
// ERR.
func TestACKLengthsFitV24(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("字段超长", 30) + " | fix it" // 129 characters, one of them a delimiter
	testCases := map[string]struct {
		version string
		max     int    // MSA-3
		mapped  string // the ACK mapping's ACK, its MSA-3 the whole reason
	}{
		"2.3":               {"2.3", 80, ""},
		"2.4":               {"2.4", 80, ""},
		"2.5.1":             {"2.5.1", 80, ""},
		"none":              {"", 80, ""},
		"2.4 mapped as 2.5": {"2.4", 80, "MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||ACK|r1|P|2.5\rMSA|AR|x|" + hl7.Escape(long, hl7.DefaultDelimiters) + "\rERR|||length^$.name^MEDGATE|E||||" + hl7.Escape(long, hl7.DefaultDelimiters) + "\r"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
				return &message.Reply{ID: "r1", RequestID: env["id"].(string), Site: "demo", Status: message.StatusInvalid,
					Errors: []message.ReplyError{{Field: "$.name", Rule: "length", Message: long}}}, nil
			}}
			maps := fakeMaps{}
			if tc.mapped != "" {
				maps.ack = []byte(tc.mapped)
			}
			s, err := New(listenerConfig(), proc, maps, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := fmt.Sprintf("MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28|MSG1|P|%s\rPID|1||X1\r", tc.version)
			acks := exchange(t, s, frame(msg))
			if len(acks) != 1 {
				t.Fatalf("%d ACKs, want 1", len(acks))
			}
			var msa *hl7.Segment
			for i := range acks[0].Segments {
				if acks[0].Segments[i].Name == "MSA" {
					msa = &acks[0].Segments[i]
				}
			}
			if msa == nil {
				t.Fatalf("no MSA in %+v", acks[0].Segments)
			}
			if raw := msa.Field(3); raw == "" || len([]rune(raw)) > tc.max {
				t.Errorf("MSA-3 %q is %d characters as written, want 1 to %d", raw, len([]rune(raw)), tc.max)
			}
			if !strings.HasPrefix(long, strings.TrimSuffix(msa.Value(3, 1, 1, 1), "...")) {
				t.Errorf("MSA-3 %q, want the start of the reason", msa.Value(3, 1, 1, 1))
			}
			if got := acks[0].Get(hl7.Location{Segment: "ERR", Field: 8}); got != long {
				t.Errorf("ERR-8 %q, want the whole reason %q", got, long)
			}
		})
	}
}
