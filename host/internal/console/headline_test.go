package console

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestFormShowsHeadline: sdk.Display.Headline names the payload field
// shown as the first line of a reply, of a command on the command line
// and of a form in the console alike. The console left it out: a form
// declaring a headline showed its other fields without it, or, declaring
// nothing else, the whole payload as JSON.
func TestFormShowsHeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	cases := []struct {
		display sdk.Display
		want    string // the headline
	}{
		{sdk.Display{Headline: "label.validUntil", Fields: []sdk.Column{{Field: "label.expires", Title: "到期 expires"}}}, "有效期至 2026-11-29 20:00"},
		{sdk.Display{Headline: "label.validUntilAscii"}, "VALID UNTIL 2026-11-29 20:00"},
	}
	var forms []sdk.Form
	for i, tc := range cases {
		forms = append(forms, sdk.Form{Name: fmt.Sprintf("headline%d", i), Title: "标题 Headline", Operation: "ecard.qrcode", Key: "cardNo",
			Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}}, Result: tc.display})
	}
	f.b.plugins[0].Views.Forms = forms // before any request
	c := f.client()
	c.login("收费员 01")
	for i, tc := range cases {
		r := c.post(fmt.Sprintf("/console/form/ecard/headline%d", i), url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "csrf": {c.csrf}})
		body := html.UnescapeString(r.body)
		if r.code != http.StatusOK {
			t.Fatalf("%+v: %d %s", tc.display, r.code, body)
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("%+v: the reply lacks its headline %q", tc.display, tc.want)
		}
		if strings.Contains(body, "MGE1SECRETTEXT") {
			t.Errorf("%+v: the whole payload is shown although the form declares what to show", tc.display)
		}
	}
}
