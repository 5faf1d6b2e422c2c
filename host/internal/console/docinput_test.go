package console

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentChangeKeepsInputOnError: a change of a document refused,
// by the console's own check or by the plugin, comes back on the
// document page with everything typed in its form (the line's form for a
// change of a line, and the shared reason), so the user corrects it
// instead of typing it again; the other forms are as the document has
// them. Before, the redirect to the document page showed every form
// empty (or prefilled from the document), the values typed lost.
func TestDocumentChangeKeepsInputOnError(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) url.Values {
		v := url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := map[string]struct {
		form url.Values
		// form is the form's selector part; want its inputs' values.
		sel  string
		want []string
	}{
		"a quantity that is no number": {form: base("edit", "setQty", "line", "1", "qty", "4x", "reason", "清点 recount"),
			sel: `<input type="hidden" name="edit" value="setQty">`, want: []string{`name="qty" value="4x"`, `name="reason" value="清点 recount"`}},
		"a new line without its quantity": {form: base("edit", "addLine", "itemCode", "YP0009", "itemName", "布洛芬", "batchNo", "B7", "expiryDate", "2029-01-31",
			"codes", "81000020000000773456\n81000020000000773457", "reason", "到货 arrived"),
			sel: `<input type="hidden" name="edit" value="addLine">`, want: []string{`name="itemCode" value="YP0009"`, `name="itemName" value="布洛芬"`,
				`name="batchNo" value="B7"`, "81000020000000773456\n81000020000000773457</textarea>", `name="reason" value="到货 arrived"`}},
		"codes the plugin refuses": {form: base("edit", "removeCodes", "line", "1", "codes", "81000099999999999999", "reason", "补码"),
			sel: `<input type="hidden" name="edit" value="removeCodes">`, want: []string{"81000099999999999999</textarea>", `name="reason" value="补码"`}},
	}
	formRE := regexp.MustCompile(`(?s)<form method="post" action="/console/document/tracecode/draft/adjust".*?</form>`)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			c := f.client()
			c.login("op01")
			r := c.action("/console/document/tracecode/draft/adjust", tc.form)
			body := html.UnescapeString(r.body)
			if !strings.Contains(body, "notice bad") {
				t.Fatalf("the change was not refused:\n%.3000s", body)
			}
			var form string
			for _, fm := range formRE.FindAllString(body, -1) {
				if strings.Contains(fm, tc.sel) {
					form = fm
				}
			}
			if form == "" {
				t.Fatalf("no form %s on the page", tc.sel)
			}
			for _, w := range tc.want {
				if !strings.Contains(form, w) {
					t.Errorf("the form lacks %q:\n%s", w, form)
				}
			}
			// Once shown, the next visit shows the document's own values.
			again := html.UnescapeString(c.get("/console/document/tracecode/draft?site=s1&id=SUP-001").body)
			for _, w := range tc.want {
				if strings.Contains(again, w) {
					t.Errorf("the next visit still shows %q", w)
				}
			}
		})
	}
}
