package console

import (
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestFormKeepsInputOfFieldsInError: a plugin form refused for its
// fields shows again every value typed, the wrong ones too, beside what
// is wrong with them, so the user corrects the value instead of typing
// it again. Before, a field whose value was wrong came back empty.
func TestFormKeepsInputOfFieldsInError(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		field sdk.Argument
		typed string
	}{
		"whole number": {sdk.Argument{Name: "qty", Type: sdk.SettingInt, Required: true}, "12x"},
		"number":       {sdk.Argument{Name: "amount", Type: sdk.ArgumentNumber}, "48,5"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.plugins[0].Views.Forms = []sdk.Form{{Name: "count", Title: "盘点 Count", Operation: "ecard.count", Key: "cardNo",
				Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}, tc.field}}}
			c := f.client()
			c.login("op01")
			r := c.post("/console/form/ecard/count", url.Values{"csrf": {c.csrf}, "site": {"s1"}, "cardNo": {"880100000000013"}, tc.field.Name: {tc.typed}})
			body := html.UnescapeString(r.body)
			if !strings.Contains(body, "请检查输入 (check the fields)") || !strings.Contains(body, tc.typed) {
				t.Fatalf("the refused form: %d, want the problem and %q shown\n%.3000s", r.code, tc.typed, body)
			}
			if !strings.Contains(body, `value="880100000000013"`) {
				t.Errorf("the form lost the card number typed")
			}
			if !strings.Contains(body, `name="`+tc.field.Name+`" value="`+tc.typed+`"`) {
				t.Errorf("the field %s in error came back without the value typed, %q", tc.field.Name, tc.typed)
			}
		})
	}
}
