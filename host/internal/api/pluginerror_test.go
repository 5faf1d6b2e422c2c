package api

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/sites"
)

// failedPluginBackend has one plugin down with lastErr.
type failedPluginBackend struct {
	fakeBackend
	lastErr string
}

func (b *failedPluginBackend) Plugins() any {
	return []sites.Info{{Name: "tracecode", Version: "0.9.0", Restarts: 2, LastError: b.lastErr, Sites: []string{"s1"}}}
}

// TestPluginLastErrorMasked: GET /admin/plugins (a viewer's read) shows a
// plugin's last error, the plugin's own words, masked as the jobs' errors
// are: tokens redacted, ID and mobile numbers masked.
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
			srv := serve(&failedPluginBackend{lastErr: tc.lastErr}, "tok")
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/admin/plugins", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the answer lacks %q: %s", w, body)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(body, l) {
					t.Errorf("the answer shows %q: %s", l, body)
				}
			}
		})
	}
}
