package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestRefusedReplyMasked: a reply that is not ok shows its errors, its
// warnings and the external system's message with ID and mobile numbers
// and a name written after 姓名 masked, as the console masks the same
// texts (logging.Mask), in text and as JSON alike; with -reveal granted
// they are shown as they came, a token written into them still redacted.
func TestRefusedReplyMasked(t *testing.T) {
	t.Parallel()
	const (
		id     = "11010519491231002X"
		mobile = "13812345678"
		name   = "张三丰"
		token  = "tok-0123456789abcdef"
	)
	r := &message.Reply{Type: "ecard.register", Status: message.StatusRejected,
		Errors: []message.ReplyError{{Field: "$.person.document.number", Rule: "state",
			Message: "证件号 " + id + " 已登记在另一姓名下 (registered under another name); 姓名：" + name}},
		Warnings: []message.ReplyError{{Rule: "name", Message: "手机 " + mobile + " differs from the one on record"}},
		External: &message.External{System: "hsa", Code: "E01", Message: "参保人身份证 " + id + " 不存在 token=" + token},
		Payload:  []byte(`{"cardNo":"E0001","name":"` + name + `","message":"证件号 ` + id + ` 已登记"}`)}
	plain := sdk.Display{Fields: []sdk.Column{{Field: "cardNo", Title: "卡号"}}}
	for name, tc := range map[string]struct {
		display sdk.Display
		asJSON  bool
		reveal  bool
		want    []string
		hidden  []string
	}{
		"text":              {display: plain, want: []string{"rejected", "hsa answered E01", "110***********002X"}, hidden: []string{id, name}},
		"-json":             {display: plain, asJSON: true, hidden: []string{id, mobile, name}},
		"the whole reply":   {display: sdk.Display{JSON: true}, want: []string{`"status": "rejected"`, "110***********002X", "138****5678"}, hidden: []string{id, mobile, name}},
		"revealed, text":    {display: plain, reveal: true, want: []string{id, name}},
		"revealed, whole":   {display: sdk.Display{JSON: true}, reveal: true, want: []string{id, mobile, name}},
		"a token, revealed": {display: plain, reveal: true, want: []string{"[redacted]"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := showReply(&out, tc.display, r, nil, tc.asJSON, tc.reveal); err != nil {
				t.Fatal(err)
			}
			for _, v := range append(tc.hidden, token) {
				if strings.Contains(out.String(), v) {
					t.Errorf("printed %q unmasked:\n%s", v, out.String())
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if !strings.Contains(r.Errors[0].Message, id) || !strings.Contains(r.External.Message, id) {
		t.Errorf("showReply changed the reply it was given: %+v", r)
	}
}
