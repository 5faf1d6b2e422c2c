package console

import (
	"strings"
	"testing"
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
