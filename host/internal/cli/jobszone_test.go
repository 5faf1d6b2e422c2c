package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminCommandsShowTimesInTheZone: `medgate jobs` (and every command
// that prints the admin API's answer) shows its times in console.timeZone
// with the offset, as the README says the CLI does and as `medgate job
// run` and `medgate user list` do; it printed the API's UTC ("nextRun":
// "2026-12-06T02:54:49Z"), eight hours off the clock of a Xiamen operator.
// Strings that are not times are left as they are.
func TestAdminCommandsShowTimesInTheZone(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[{"id":"selfpay/xm01/parts-expire","lastRun":"2026-12-06T01:54:49.63784291Z","nextRun":"2026-12-06T02:54:49Z","summary":"2026-12-06 not a time","took":"1ms","runs":3}]`))
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "medgate.yaml")
	conf := "http: {listen: " + strings.TrimPrefix(srv.URL, "http://") + "}\nconsole: {timeZone: Asia/Shanghai}\nsites:\n  - code: xm01\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"jobs", []string{"jobs", "-config", cfg}},
		{"plugins", []string{"plugins", "-config", cfg}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Main(tc.args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			for _, want := range []string{`"lastRun": "2026-12-06T09:54:49.63784291+08:00"`, `"nextRun": "2026-12-06T10:54:49+08:00"`, `"summary": "2026-12-06 not a time"`, `"took": "1ms"`, `"runs": 3`} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the output lacks %s:\n%s", want, out.String())
				}
			}
		})
	}
}
