package console

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestUndeclaredReplyMasked: a form that declares no display shows the
// reply as JSON, with personal data masked as logs mask it: values of
// personal keys (names, document numbers that are no ID pattern) too,
// not only ID and mobile numbers.
func TestUndeclaredReplyMasked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.plugins[0].Views.Forms = []sdk.Form{{Name: "raw", Title: "原样 Raw", Operation: "ecard.lookup", Key: "cardNo",
		Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}}}}
	f.b.handlers["ecard.lookup"] = func(json.RawMessage) *message.Reply {
		return okReply(map[string]any{"cardNo": "880100000000013", "psn_name": "王小明", "certno": "E12345678",
			"phone": "13812345678", "note": "call 13912345678"})
	}
	c := f.client()
	c.login("收费员 01")
	r := c.post("/console/form/ecard/raw", url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "csrf": {c.csrf}})
	body := html.UnescapeString(r.body)
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, body)
	}
	for _, leak := range []string{"王小明", "小明", "E12345678", "13812345678", "13912345678"} {
		if strings.Contains(body, leak) {
			t.Errorf("the raw reply shows %q unmasked", leak)
		}
	}
	for _, want := range []string{`"psn_name": "王**"`, `"certno": "E*******8"`, "138****5678", "call 139****5678", `"cardNo": "880100000000013"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the raw reply lacks %q", want)
		}
	}
}
