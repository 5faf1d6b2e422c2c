package cli

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// shownTimeRE is a time as the CLI prints it: in console.timeZone, its
// offset shown.
var shownTimeRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)? UTC[+-]\d\d:\d\d`)

// TestCLITimesInTheConfiguredZone: every time a CLI command prints is in
// console.timeZone of its configuration, with the offset shown, whatever
// the machine's zone: when a job run started (medgate job run), when each
// failed message was received (medgate replay -failed -dry-run), when a
// user was changed (medgate user list).
func TestCLITimesInTheConfiguredZone(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	zones := map[string]*time.Location{"Asia/Shanghai": shanghai, "UTC": time.UTC}
	type run struct {
		args []string // after the command's -config
		want time.Time
	}
	commands := map[string]func(t *testing.T, zone string) run{
		"job run": func(t *testing.T, zone string) run {
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			b := &jobBackend{st: st, stat: map[string]scheduler.Status{}, jobs: map[string]jobOutcome{"tracecode/s1/stockin-sync": {took: time.Second, processed: 1}}}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := httptest.NewServer(api.Handler(b, api.Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
				Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log)}))
			t.Cleanup(srv.Close)
			cfg := writeConfig(t, "http: {listen: 127.0.0.1:1}\nsites:\n  - code: s1\nconsole: {timeZone: "+zone+"}\n")
			return run{args: []string{"job", "run", "-config", cfg, "-addr", strings.TrimPrefix(srv.URL, "http://"), "tracecode/s1/stockin-sync"}, want: time.Now()}
		},
		"replay dry run": func(t *testing.T, zone string) run {
			f := newAdminFixture(t, 0)
			src, err := os.ReadFile(f.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.cfg, append(src, "console: {timeZone: "+zone+"}\n"...), 0o600); err != nil {
				t.Fatal(err)
			}
			return run{args: []string{"replay", "-config", f.cfg, "-addr", f.addr, "-failed", "-site", "s2", "-type", "ecard.", "-dry-run"}, want: time.Now().Add(-time.Hour)}
		},
		"user list": func(t *testing.T, zone string) run {
			cfg := writeConfig(t, "kafka:\n  embedded: {}\nstore:\n  path: data/medgate.db\nconsole: {timeZone: "+zone+"}\n")
			var out, errOut bytes.Buffer
			stdin = strings.NewReader("pw-zhao.view-0123456789\n")
			if code := Main([]string{"user", "add", "-config", cfg, "zhao.view", "viewer"}, &out, &errOut); code != 0 {
				t.Fatalf("medgate user add: exit %d\n%s%s", code, out.String(), errOut.String())
			}
			return run{args: []string{"user", "list", "-config", cfg}, want: time.Now()}
		},
	}
	for cmd, setup := range commands {
		for zone, loc := range zones {
			t.Run(cmd+", "+zone, func(t *testing.T) {
				r := setup(t, zone)
				var out, errOut bytes.Buffer
				code := Main(r.args, &out, &errOut)
				if code != 0 {
					t.Fatalf("medgate %s: exit %d\n%s%s", strings.Join(r.args, " "), code, out.String(), errOut.String())
				}
				shown := shownTimeRE.FindString(out.String())
				if shown == "" {
					t.Fatalf("medgate %s printed no time with its zone's offset:\n%s", strings.Join(r.args, " "), out.String())
				}
				_, off := r.want.In(loc).Zone()
				wantOff := fmt.Sprintf("UTC%+03d:00", off/3600)
				if !strings.HasSuffix(shown, wantOff) {
					t.Errorf("medgate %s printed %q, want it in %s (%s)", strings.Join(r.args, " "), shown, zone, wantOff)
				}
				layout := "2006-01-02 15:04:05 UTC-07:00"
				if strings.Count(shown, ":") == 2 {
					layout = "2006-01-02 15:04 UTC-07:00"
				}
				got, err := time.Parse(layout, shown)
				if err != nil || got.Sub(r.want).Abs() > 2*time.Minute {
					t.Errorf("medgate %s printed %q (%v), want about %s", strings.Join(r.args, " "), shown, err, r.want.In(loc).Format(layout))
				}
			})
		}
	}
}

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "medgate.yaml")
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
