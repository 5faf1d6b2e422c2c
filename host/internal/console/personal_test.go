package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
)

// TestPersonalMasksWhatIsNotMasked: a value a plugin declares personal is
// left as it is only when it is wholly masked already (the plugins'
// maskers: 张*丰, 138****5678); a star anywhere else no longer spares the
// rest of the value.
func TestPersonalMasksWhatIsNotMasked(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, want string
		leaks    []string
	}{
		"name and masked phone": {in: "王小明 138****5678", want: "王** 138****5678", leaks: []string{"小明"}},
		"literal star after":    {in: "王小明*", leaks: []string{"小明"}},
		"literal star before":   {in: "*王小明", leaks: []string{"小明"}},
		"star inside a word":    {in: "王*小明明", leaks: []string{"小明"}},
		"plain name":            {in: "王小明", want: "王**"},
		"masked by the plugin":  {in: "张*丰", want: "张*丰"},
		"masked two characters": {in: "张*", want: "张*"},
		"masked phone":          {in: "138****5678", want: "138****5678"},
		"masked ID number":      {in: "110***********002X", want: "110***********002X"},
		"masked as the host":    {in: "王**", want: "王**"},
		"long head is no mask":  {in: "13812****5678", leaks: []string{"13812"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := personal(tc.in)
			if tc.want != "" && got != tc.want {
				t.Errorf("personal(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, l := range tc.leaks {
				if strings.Contains(got, l) {
					t.Errorf("personal(%q) = %q: shows %q", tc.in, got, l)
				}
			}
		})
	}
}

// TestRefusalsShownMasked: a plugin's or external system's words about a
// refused form or row action (its errors and the external message) are
// shown with ID and mobile numbers masked, as the message page shows the
// same reply, not as the plugin wrote them.
func TestRefusalsShownMasked(t *testing.T) {
	t.Parallel()
	const id, phone = "11010519491231002X", "13812345678"
	refused := func(json.RawMessage) *message.Reply {
		return &message.Reply{Status: message.StatusRejected,
			Errors:   []message.ReplyError{{Field: "$.cardNo", Rule: "state", Message: "card holder " + id + " has moved"}},
			External: &message.External{System: "ecard", Code: "E17", Message: "持卡人手机 " + phone + " 与登记不符"}}
	}
	for name, send := range map[string]func(c *client) resp{
		"form": func(c *client) resp {
			return c.post("/console/form/ecard/print", url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "csrf": {c.csrf}})
		},
		"row action": func(c *client) resp {
			return c.action("/console/action", url.Values{"plugin": {"ecard"}, "list": {"recent-cards"}, "action": {"revoke"}, "site": {"s1"},
				"row.cardNo": {`"880100000000013"`}})
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.handlers["ecard.qrcode"] = refused
			f.b.handlers["ecard.revoke"] = refused
			c := f.client()
			c.login("收费员 01")
			r := send(c)
			if r.code != http.StatusOK || !strings.Contains(r.body, "has moved") || !strings.Contains(r.body, "与登记不符") {
				t.Fatalf("refusal page: %d, want 200 with the refusal:\n%s", r.code, r.body)
			}
			for _, leak := range []string{id, phone} {
				if strings.Contains(r.body, leak) {
					t.Errorf("the refusal shows %s unmasked", leak)
				}
			}
		})
	}
}
