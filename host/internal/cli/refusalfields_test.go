package cli

import (
	"bytes"
	"testing"

	"github.com/medgate/medgate/host/internal/console"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestRefusedReplyFields: a refused reply shows, besides its errors, the
// result fields the command declares that its payload has, as the
// console's notice shows them for a refusal (e.g. the card an ID number
// is already registered to), masked as every other output is: a field
// declared personal masked whole, ID and mobile numbers in any field
// masked; with -reveal granted as they came. -json prints the payload
// only, as before; a refusal without a payload or without declared fields
// prints no field line.
func TestRefusedReplyFields(t *testing.T) {
	t.Parallel()
	d := sdk.Display{Fields: []sdk.Column{
		{Field: "cardNo", Title: "卡号"},
		{Field: "holder", Title: "持卡人", Personal: true},
		{Field: "note", Title: "说明"},
		{Field: "state", Title: "状态", Codes: map[string]string{"1": "已登记"}},
	}}
	payload := []byte(`{"cardNo":"E0001","holder":"` + maskName + `","note":"证件号 ` + maskID + ` 已登记","state":"1"}`)
	refused := message.Reply{Type: "ecard.register", Status: message.StatusRejected, Payload: payload,
		Errors:   []message.ReplyError{{Field: "$.person.document.number", Rule: "state", Message: "already registered"}},
		Warnings: []message.ReplyError{{Field: "$.person.mobile", Rule: "differs", Message: "手机 " + maskMobile + " differs"}}}
	bare := refused
	bare.Payload = nil
	for name, tc := range map[string]struct {
		display sdk.Display
		reply   message.Reply
		asJSON  bool
		reveal  bool
		want    []string
		hidden  []string
	}{
		"declared fields": {display: d, reply: refused,
			want:   []string{"ecard.register: rejected", "  卡号: E0001", "  持卡人: " + console.MaskPersonal(maskName) + "\n", "  说明: 证件号 110***********002X 已登记", "  状态: 已登记 (1)", "$.person.document.number: state: already registered", "warning: $.person.mobile: differs: 手机 138****5678 differs"},
			hidden: []string{maskName, maskID, maskMobile}},
		"revealed": {display: d, reply: refused, reveal: true,
			want: []string{"  持卡人: " + maskName, "  说明: 证件号 " + maskID + " 已登记", "warning: $.person.mobile: differs: 手机 " + maskMobile}},
		"-json": {display: d, reply: refused, asJSON: true,
			want:   []string{`"cardNo": "E0001"`},
			hidden: []string{"卡号", "rejected", maskName, maskID}},
		"no payload": {display: d, reply: bare,
			want:   []string{"ecard.register: rejected", "already registered"},
			hidden: []string{"卡号", "持卡人"}},
		"nothing declared": {display: sdk.Display{}, reply: refused,
			want:   []string{"ecard.register: rejected", "already registered"},
			hidden: []string{"E0001", maskName, maskID}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := showReply(&out, tc.display, &tc.reply, nil, tc.asJSON, tc.reveal); err != nil {
				t.Fatal(err)
			}
			checkShown(t, out.String(), tc.want, tc.hidden)
		})
	}
}
