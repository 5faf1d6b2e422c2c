package console

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestFormFieldErrors: the problems shown beside a form's fields are the
// form's own checks and the reply's errors whose path starts at a field
// ($.phone, $.items[2].qty, $.patient.name), joined per field; errors of
// no field of the form ($, $.other, a rule without a path) stay in the
// notice only; the first field in the form's order gets the cursor.
func TestFormFieldErrors(t *testing.T) {
	t.Parallel()
	form := sdk.Form{Fields: []sdk.Argument{{Name: "cardNo"}, {Name: "items"}, {Name: "patient"}, {Name: "phone"}}}
	tests := map[string]struct {
		own       map[string][]string
		errs      []message.ReplyError
		want      map[string]string
		wantFirst string
	}{
		"none": {},
		"a reply's errors by path": {
			errs: []message.ReplyError{
				{Field: "$.phone", Message: "手机号格式不对"},
				{Field: "$.items[2].qty", Message: "数量必须大于 0"},
				{Field: "$.patient.name", Message: "姓名必填"},
				{Field: "$.items[3]", Message: "重复"},
			},
			want:      map[string]string{"phone": "手机号格式不对", "items": "数量必须大于 0；重复", "patient": "姓名必填"},
			wantFirst: "items",
		},
		"errors of no field stay in the notice": {
			errs:      []message.ReplyError{{Field: "$", Message: "整体"}, {Field: "$.other", Message: "别的"}, {Field: "", Message: "无路径"}, {Field: "phone", Message: "no $"}},
			want:      nil,
			wantFirst: "",
		},
		"the form's own checks and the reply's together": {
			own:       map[string][]string{"phone": {"phone：必填 (required)"}},
			errs:      []message.ReplyError{{Field: "$.cardNo", Message: "本院无此卡"}},
			want:      map[string]string{"phone": "phone：必填 (required)", "cardNo": "本院无此卡"},
			wantFirst: "cardNo",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := formData{Form: form}
			d.fieldErrors(tc.own, tc.errs)
			if diff := cmp.Diff(tc.want, d.FieldErrors); diff != "" {
				t.Errorf("FieldErrors (-want +got):\n%s", diff)
			}
			if d.FirstError != tc.wantFirst {
				t.Errorf("FirstError %q, want %q", d.FirstError, tc.wantFirst)
			}
		})
	}
}
