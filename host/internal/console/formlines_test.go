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

// TestFormLinesWithoutImages: a form's reply declared as label lines
// without images (sdk.Display.Lines alone, a text-only label) is shown
// with its lines; the page used to fail to render (HTTP 500, "could not
// render this page") after the plugin had done the operation, so the
// operator saw an error for something done and would send it again.
func TestFormLinesWithoutImages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	displays := []sdk.Display{
		{Lines: "label.lines", Printable: true, LabelTitle: "电子就诊卡 E-card"},
		{Lines: "label.lines"},
	}
	var forms []sdk.Form
	for i, d := range displays {
		forms = append(forms, sdk.Form{Name: fmt.Sprintf("textlabel%d", i), Title: "文字标签 Text label", Operation: "ecard.qrcode", Key: "cardNo",
			Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}}, Result: d})
	}
	f.b.plugins[0].Views.Forms = forms // before any request
	c := f.client()
	c.login("收费员 01")
	for i, d := range displays {
		r := c.post(fmt.Sprintf("/console/form/ecard/textlabel%d", i), url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "csrf": {c.csrf}})
		body := html.UnescapeString(r.body)
		if r.code != http.StatusOK || strings.Contains(body, "could not render") {
			t.Fatalf("%+v: %d %s", d, r.code, body)
		}
		for _, want := range []string{`class="label-card"`, "880100000000013", "张*丰", "有效期至 2026-11-29 20:00", d.LabelTitle} {
			if !strings.Contains(body, want) {
				t.Errorf("%+v: the reply lacks %q", d, want)
			}
		}
		if strings.Contains(body, "<img") {
			t.Errorf("%+v: an image where none is declared", d)
		}
	}
}
