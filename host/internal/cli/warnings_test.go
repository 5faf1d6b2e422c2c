package cli

import (
	"bytes"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestReplyWarningsShown: an ok reply's warnings (what the plugin noticed
// without refusing, e.g. a wrongId revocation of a card already replaced,
// naming the replacement) are printed, masked as its errors are, not
// dropped: the operator who ran the command has no other place to see
// them.
func TestReplyWarningsShown(t *testing.T) {
	t.Parallel()
	warn := []message.ReplyError{{Field: "$.wrongId", Rule: "replaced",
		Message: "card E1 was already replaced by E2 (registered with 证件号 " + maskID + "); it is not marked wrongId"}}
	for name, tc := range map[string]struct {
		reply  message.Reply
		want   []string
		hidden []string
	}{
		"with a payload": {reply: message.Reply{Type: "ecard.revoke", Status: message.StatusOK, Warnings: warn, Payload: []byte(`{"cardNo":"E1"}`)},
			want: []string{"卡号: E1", "warning: $.wrongId: replaced: card E1 was already replaced by E2", "110***********002X"}, hidden: []string{maskID}},
		"without a payload": {reply: message.Reply{Type: "ecard.revoke", Status: message.StatusOK, Warnings: warn},
			want: []string{"ecard.revoke: ok", "warning: $.wrongId: replaced"}, hidden: []string{maskID}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			d := sdk.Display{Fields: []sdk.Column{{Field: "cardNo", Title: "卡号"}}}
			if err := showReply(&out, d, &tc.reply, nil, false, false); err != nil {
				t.Fatal(err)
			}
			checkShown(t, out.String(), tc.want, tc.hidden)
		})
	}
}
