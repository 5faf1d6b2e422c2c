package logging_test

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestMaskByDeclaration: MaskRequest and MaskReply mask, inside a
// message's payload only, the keys the operation's schema declares
// personal (input for the request, output and Personal columns for the
// reply), per operation; the envelope's own fields, other operations and
// undeclared keys are masked as MaskJSON masks them.
func TestMaskByDeclaration(t *testing.T) {
	t.Parallel()
	logging.Declare("maskdecl", &sdk.DescribeResponse{Name: "maskdecl",
		Operations: []sdk.Operation{{Type: "maskdecl.register", Schema: "maskdecl/register"}, {Type: "maskdecl.other"}},
		Schemas: map[string][]byte{"maskdecl/register.yaml": []byte("code: register\nname: 登记\nsystem: maskdecl\ndirection: upload\nsource: tests\n" +
			"input:\n  - name: person\n    type: object\n    fields:\n      - name: fullName\n        type: string\n        personal: true\n" +
			"output:\n  - name: holder_nm\n    type: string\n    personal: true\n")},
		Commands: []sdk.Command{{Name: "who", Operation: "maskdecl.other", Result: sdk.Display{Fields: []sdk.Column{{Field: "card.owner", Title: "owner", Personal: true}}}}},
	}, nil)
	tests := map[string]struct {
		mask        func(string, []byte) []byte
		typ, in     string
		hide, shown []string
	}{
		"request payload, nested": {mask: logging.MaskRequest, typ: "maskdecl.register",
			in:   `{"id":"m1","type":"maskdecl.register","payload":{"person":{"fullName":"司马相如","nick":"小明同学"}}}`,
			hide: []string{"司马相如"}, shown: []string{`"fullName":"司***"`, "小明同学"}},
		"request payload, escaped key": {mask: logging.MaskRequest, typ: "maskdecl.register",
			in:   `{"id":"m1","pay\u006coad":{"person":{"fullName":"司马相如"}}}`,
			hide: []string{"司马相如"}},
		"reply payload": {mask: logging.MaskReply, typ: "maskdecl.register",
			in:   `{"requestId":"m1","payload":{"holder_nm":"诸葛孔明","fullName":"欧阳修文"}}`,
			hide: []string{"诸葛孔明"}, shown: []string{`"holder_nm":"诸***"`, "欧阳修文"}},
		"envelope fields are no payload": {mask: logging.MaskReply, typ: "maskdecl.register",
			in:    `{"requestId":"m1","holder_nm":"诸葛孔明","payload":{}}`,
			shown: []string{"诸葛孔明"}},
		"command column, by its last part": {mask: logging.MaskReply, typ: "maskdecl.other",
			in:   `{"payload":{"card":{"owner":"上官婉儿"}}}`,
			hide: []string{"上官婉儿"}, shown: []string{`"owner":"上***"`}},
		"another operation": {mask: logging.MaskReply, typ: "maskdecl.other",
			in:    `{"payload":{"holder_nm":"诸葛孔明"}}`,
			shown: []string{"诸葛孔明"}},
		"undeclared plugin": {mask: logging.MaskReply, typ: "nobody.register",
			in:    `{"payload":{"holder_nm":"诸葛孔明","name":"张三丰"}}`,
			hide:  []string{"张三丰"},
			shown: []string{"诸葛孔明"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := string(tc.mask(tc.typ, []byte(tc.in)))
			for _, h := range tc.hide {
				if strings.Contains(got, h) {
					t.Errorf("shows %q: %s", h, got)
				}
			}
			for _, s := range tc.shown {
				if !strings.Contains(got, s) {
					t.Errorf("lacks %q: %s", s, got)
				}
			}
		})
	}
}
