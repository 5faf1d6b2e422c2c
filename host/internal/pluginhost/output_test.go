package pluginhost

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestPluginLinesGoToTheLogger: a plugin's own log lines go, masked and
// named plugin=<name>, to Options.PluginLogs, or to Options.Logger when
// PluginLogs is not set (check-config, tests), never unmasked to the
// process's stderr.
func TestPluginLinesGoToTheLogger(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/logging/testdata/chatty")
	cases := map[string]struct {
		opts func(logger *slog.Logger) Options
	}{
		"PluginLogs": {opts: func(l *slog.Logger) Options { return Options{Logger: quiet, PluginLogs: l} }},
		"Logger":     {opts: func(l *slog.Logger) Options { return Options{Logger: l} }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out lockedBuffer
			logger, err := logging.New(&out, "text", "info") // as the daemon's
			if err != nil {
				t.Fatal(err)
			}
			in, err := Start(t.Context(), Spec{Name: "chatty", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), tc.opts(logger))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			payload := []byte(`{"name":"欧阳娜娜","idNumber":"11010519491231002X","phone":"13812345678"}`)
			if _, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "chatty.register", MessageID: "m-out-1", Format: "json", Payload: payload, Attempt: 1}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(out.String(), "m-out-1") {
				if time.Now().After(deadline) {
					t.Fatalf("the plugin's log line \"chatty done\" did not reach the logger within 20s; it got:\n%s", out.String())
				}
				time.Sleep(10 * time.Millisecond) // polling the plugin's log pump
			}
			got := out.String()
			for _, leak := range []string{"欧阳娜娜", "11010519491231002X", "13812345678"} {
				if strings.Contains(got, leak) {
					t.Errorf("a plugin line leaks %q:\n%s", leak, got)
				}
			}
			if !strings.Contains(got, "plugin=chatty") || !strings.Contains(got, "110***********002X") {
				t.Errorf("the plugin's lines are not the host's, masked, with plugin=chatty:\n%s", got)
			}
		})
	}
}
