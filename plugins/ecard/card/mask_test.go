package card

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMask(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		fn   func(string) string
		in   string
		want string
	}{
		"name empty":          {fn: MaskName, in: "", want: ""},
		"name one char":       {fn: MaskName, in: "张", want: "张"},
		"name two chars":      {fn: MaskName, in: "张三", want: "张*"},
		"name three chars":    {fn: MaskName, in: "张三丰", want: "张*丰"},
		"name four chars":     {fn: MaskName, in: "欧阳娜娜", want: "欧**娜"},
		"name trimmed":        {fn: MaskName, in: " 张三 ", want: "张*"},
		"name latin":          {fn: MaskName, in: "John Smith", want: "J********h"},
		"id 18 chars":         {fn: MaskIDNumber, in: "11010519491231002X", want: "110***********002X"},
		"id passport 9 chars": {fn: MaskIDNumber, in: "E12345678", want: "******678"},
		"id 12 chars":         {fn: MaskIDNumber, in: "123456789012", want: "12******9012"},
		"id 4 chars":          {fn: MaskIDNumber, in: "1234", want: "****"},
		"id empty":            {fn: MaskIDNumber, in: "", want: ""},
		"phone 11 digits":     {fn: MaskPhone, in: "13812345678", want: "138****5678"},
		"phone landline 8":    {fn: MaskPhone, in: "12345678", want: "****5678"},
		"phone 6 digits":      {fn: MaskPhone, in: "123456", want: "****56"},
		"phone 3 digits":      {fn: MaskPhone, in: "123", want: "***"},
		"phone +86":           {fn: MaskPhone, in: "+8613812345678", want: "+86*******5678"},
		"phone Hong Kong":     {fn: MaskPhone, in: "+85291234567", want: "+85*****4567"},
		"phone UK":            {fn: MaskPhone, in: "+447911123456", want: "+44******3456"},
		"phone E.164 8 digit": {fn: MaskPhone, in: "+85312345", want: "+****2345"},
		"phone E.164 15 dig":  {fn: MaskPhone, in: "+123456789012345", want: "+12*********2345"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.fn(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
