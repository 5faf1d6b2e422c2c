package console

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
)

// TestPluginLastErrorMasked: a plugin's last error is its own words (a
// Configure refusal quoting a setting, a crash's panic quoting the
// message it handled) and every role sees it on the overview: it is
// masked as the jobs' errors and log lines are, its tokens redacted and
// its ID and mobile numbers masked.
func TestPluginLastErrorMasked(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		lastErr string
		want    []string
		leaks   []string
	}{
		"a token in a Configure refusal": {lastErr: `configure site s1: token=tk_live_9f8e7d6c5b4a refused by the platform`,
			want: []string{"configure site s1", "[redacted]"}, leaks: []string{"tk_live_9f8e7d6c5b4a"}},
		"a patient in a panic": {lastErr: `plugin exited: panic: bad card for 11010519491231002X phone 13812345678`,
			want: []string{"plugin exited: panic"}, leaks: []string{"11010519491231002X", "13812345678"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.plugins[1].Running, f.b.plugins[1].LastError = false, tc.lastErr
			pw := f.addUser("viewer01", access.Viewer)
			c := f.client()
			c.signIn("viewer01", pw)
			r := c.get("/console/")
			if r.code != http.StatusOK {
				t.Fatalf("overview: HTTP %d\n%s", r.code, r.body)
			}
			body := html.UnescapeString(r.body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the overview lacks %q", w)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(body, l) {
					t.Errorf("the overview shows %q", l)
				}
			}
		})
	}
}
