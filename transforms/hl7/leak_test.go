package hl7

import (
	"strings"
	"testing"
)

// TestParseErrorsQuoteNoPersonalData: a value broken by an unescaped line
// break (a name, an address, an ID number) makes a line that is no
// segment, and a payload that is no HL7 starts with whatever the sender
// put first. The errors say where and what is wrong without quoting those
// bytes, since they reach replies, the console and logs; a mistyped
// segment ID is still quoted.
func TestParseErrorsQuoteNoPersonalData(t *testing.T) {
	t.Parallel()
	const msh = "MSH|^~\\&|HIS|H1|MG|H1|20261203101500||ADT^A01|C1|P|2.5\r"
	cases := map[string]struct {
		in     string
		leaks  []string
		quotes string
	}{
		"name broken": {msh + "PID|1||11010519491231002X||欧阳\r娜娜^^^^^^L\r", []string{"娜娜"}, ""},
		"id broken":   {msh + "PID|1||110105\r19491231002X||欧阳娜娜\r", []string{"19491231002X", "欧阳娜娜"}, ""},
		"address":     {msh + "PID|1||X||Y|||||福建省厦门市\r思明区湖滨南路55号^^厦门\r", []string{"思明区", "湖滨南路"}, ""},
		"not hl7":     {"欧阳娜娜 11010519491231002X", []string{"欧阳", "11010519"}, ""},
		"typo kept":   {msh + "PDI|1||X\rPI|2\r", nil, `"PI"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tc.in)
			}
			for _, leak := range tc.leaks {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("the error quotes %q: %v", leak, err)
				}
			}
			if tc.quotes != "" && !strings.Contains(err.Error(), tc.quotes) {
				t.Errorf("the error does not quote the mistyped segment ID %s: %v", tc.quotes, err)
			}
		})
	}
}
