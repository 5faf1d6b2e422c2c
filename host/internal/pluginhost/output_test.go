package pluginhost

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

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

// TestPluginStdioIsLogged: what a plugin prints to os.Stdout and
// os.Stderr rather than through its logger reaches the host's log, masked
// and named plugin=<name>, as a warning: a line printed before it serves
// (which the SDK keeps off the handshake, so the plugin starts), and lines
// printed while it serves. go-plugin forwards the latter to the host,
// which used to discard them (ClientConfig.SyncStdout and SyncStderr
// unset), and the former stopped the plugin from starting.
func TestPluginStdioIsLogged(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/stdio")
	var out lockedBuffer
	logger, err := logging.New(&out, "text", "info") // as the daemon's
	if err != nil {
		t.Fatal(err)
	}
	in, err := Start(t.Context(), Spec{Name: "stdio", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{Logger: quiet, PluginLogs: logger})
	if err != nil {
		t.Fatalf("the plugin that printed a line before it served did not start: %v", err)
	}
	defer in.Close()
	if _, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "stdio.print", MessageID: "m-stdio-1", Format: "json", Payload: []byte(`{}`), Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	want := []string{"stdio plugin starting", "stdout line of m-stdio-1 for 110***********002X", "stderr line of m-stdio-1 for 110***********002X"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := out.String()
		missing := ""
		for _, w := range want {
			if !strings.Contains(got, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin's line %q did not reach the log within 20s; it got:\n%s", missing, got)
		}
		time.Sleep(10 * time.Millisecond) // polling the plugin's output pumps
	}
	got := out.String()
	if strings.Contains(got, "11010519491231002X") {
		t.Errorf("a printed line leaks the ID number:\n%s", got)
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if strings.Contains(line, "m-stdio-1") && (!strings.Contains(line, "plugin=stdio") || !strings.Contains(line, "level=WARN")) {
			t.Errorf("a printed line is not logged as a warning with plugin=stdio: %s", line)
		}
	}
}

// TestLineLogSplitsLines: what a plugin prints while it serves arrives in
// chunks that need not end at a line; each whole line is logged once, a
// line longer than maxPrintedLine in pieces, blank lines not at all.
func TestLineLogSplitsLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxPrintedLine+5)
	cases := map[string]struct {
		writes []string
		want   []string
	}{
		"one line":            {writes: []string{"a\n"}, want: []string{"a"}},
		"split across writes": {writes: []string{"ab", "c\nd", "e\n"}, want: []string{"abc", "de"}},
		"crlf and blank":      {writes: []string{"a\r\n\n  \nb\n"}, want: []string{"a", "b"}},
		"unfinished line":     {writes: []string{"a\nb"}, want: []string{"a"}},
		"longer than a line":  {writes: []string{long, "\n"}, want: []string{long[:maxPrintedLine], "xxxxx"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			w := &lineLog{log: hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true}), stream: "stdout"}
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			var got []string
			dec := json.NewDecoder(&out)
			for dec.More() {
				var line struct{ Level, Message, Stream string }
				var raw map[string]any
				if err := dec.Decode(&raw); err != nil {
					t.Fatal(err)
				}
				line.Level, _ = raw["@level"].(string)
				line.Message, _ = raw["@message"].(string)
				line.Stream, _ = raw["stream"].(string)
				if line.Level != "warn" || line.Stream != "stdout" {
					t.Errorf("logged %v; want a warning with stream stdout", raw)
				}
				got = append(got, line.Message)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines logged (-want +got):\n%s", diff)
			}
		})
	}
}
