package schemas

import "testing"

func TestDocuments(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		systems []string
		has     string
		empty   bool
	}{
		"one system":     {[]string{"selfpay"}, "selfpay/4201A.yaml", false},
		"code tables":    {[]string{"tracecode"}, "tracecode/codes/billType.yaml", false},
		"unknown system": {[]string{"nosuch"}, "", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			docs := Documents(tc.systems...)
			if tc.empty != (len(docs) == 0) || (tc.has != "" && docs[tc.has] == nil) {
				t.Fatalf("Documents(%v) = %d files, want %q among them (empty: %v)", tc.systems, len(docs), tc.has, tc.empty)
			}
		})
	}
	set, err := FromDocuments(Documents("ecard"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.Get("ecard", "register"); !ok {
		t.Fatal("FromDocuments lost ecard/register")
	}
	broken := map[string][]byte{"ecard/register.yaml": []byte("code: register\nnosuchkey: 1\n")}
	if _, err := FromDocuments(Documents("ecard"), broken); err == nil {
		t.Fatal("a later document must replace an earlier one of the same path, and its problems be reported")
	}
}
