package mllp

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/medgate/medgate/transforms/hl7"
)

// messageKeyOf is the key messageKey gives a message whose PID-3 holds
// only the document number v.
func messageKeyOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "pid:" + hex.EncodeToString(sum[:16])
}

// TestMessageKeyHoldsNoDocumentNumber: a message's key, stored with it and
// shown on the admin API and the console (where only resident ID and
// mobile numbers are masked), is the visit or the hospital's patient
// number, never a person's document number: a passport or resident ID
// number alone in PID-3 is keyed by its hash, the same for every message
// of the patient.
func TestMessageKeyHoldsNoDocumentNumber(t *testing.T) {
	t.Parallel()
	const msh = "MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28^ADT_A05|MSG1|P|2.5\r"
	for name, tc := range map[string]struct{ segs, want, secret string }{
		"passport only":      {"PID|1||E12345678^^^CHN^PPN||SMITH JOHN\r", messageKeyOf("E12345678"), "E12345678"},
		"resident id only":   {"PID|1||11010519491231002X^^^CHN^NN||王小梅\r", messageKeyOf("11010519491231002X"), "11010519491231002X"},
		"number of no type":  {"PID|1||G87654321||王小梅\r", messageKeyOf("G87654321"), "G87654321"},
		"patient number too": {"PID|1||E12345678^^^CHN^PPN~0001234567^^^HIS^PI||SMITH JOHN\r", "0001234567", "E12345678"},
		"medical record":     {"PID|1||11010519491231002X^^^CHN^NN~MR778899^^^HIS^MR||王小梅\r", "MR778899", "11010519491231002X"},
		"visit":              {"PID|1||E12345678^^^CHN^PPN\rPV1|1|I|||||||||||||||||V20261203001\r", "V20261203001", "E12345678"},
		"no patient":         {"EVN|A28|20261203101500\r", "hl7:HIS:XMFY:MSG1", ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msg, err := hl7.Parse([]byte(msh + tc.segs))
			if err != nil {
				t.Fatal(err)
			}
			got := messageKey(msg, "hl7:HIS:XMFY:MSG1")
			if got != tc.want || (tc.secret != "" && strings.Contains(got, tc.secret)) {
				t.Errorf("key %q, want %q (never the document number %q)", got, tc.want, tc.secret)
			}
		})
	}
}
