package cli

import (
	"bytes"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestReplyErrorLineParts: an error or warning prints the parts it has,
// "field: rule: message", leaving out an empty one with its separator,
// so one without a field (a refusal of the whole message, a warning about
// no one field) does not start with ": ".
func TestReplyErrorLineParts(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		e    message.ReplyError
		want string
	}{
		"all parts":     {e: message.ReplyError{Field: "$.cardNo", Rule: "state", Message: "revoked"}, want: "$.cardNo: state: revoked"},
		"no field":      {e: message.ReplyError{Rule: "duplicate", Message: "already sent"}, want: "duplicate: already sent"},
		"no rule":       {e: message.ReplyError{Field: "$.cardNo", Message: "revoked"}, want: "$.cardNo: revoked"},
		"message alone": {e: message.ReplyError{Message: "the platform is closed"}, want: "the platform is closed"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := message.Reply{Type: "ecard.revoke", Status: message.StatusRejected,
				Errors: []message.ReplyError{tc.e}, Warnings: []message.ReplyError{tc.e}}
			var out bytes.Buffer
			if err := showReply(&out, sdk.Display{}, &r, nil, false, false); err != nil {
				t.Fatal(err)
			}
			want := "ecard.revoke: rejected\n  " + tc.want + "\nwarning: " + tc.want + "\n"
			if out.String() != want {
				t.Errorf("printed\n%q\nwant\n%q", out.String(), want)
			}
		})
	}
}
