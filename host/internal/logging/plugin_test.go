package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/medgate/medgate/host/internal/logging"
)

// TestPluginLinesInHostFormat feeds logging.Plugin the calls go-plugin
// makes for each shape of plugin stderr line (a JSON hclog line: level,
// message, attributes, nested objects, numbers, the plugin's timestamp
// last; a plain text line; a panic's line; go-plugin's own message) and
// checks that each comes out as one host line, in text and in json: the
// host's keys, the level mapped, plugin=<name>, the plugin's timestamp
// dropped, attributes kept, personal data and secrets masked.
func TestPluginLinesInHostFormat(t *testing.T) {
	t.Parallel()
	ts := "2026-12-05T08:00:00.123456Z"
	cases := []struct {
		name   string
		stderr bool // through go-plugin's stderr logger (Named)
		level  hclog.Level
		msg    string
		args   []any
		// want: the line's level and, per format, substrings it must have;
		// leaks: substrings it must not have.
		want     string
		wantText []string
		wantJSON []string
		leaks    []string
	}{
		{name: "json info line", stderr: true, level: hclog.Info, msg: "patient registered",
			args:     []any{"name", "欧阳娜娜", "idNumber", "11010519491231002X", "@module", "workinjury.visit", "count", float64(3), "timestamp", ts},
			want:     "INFO",
			wantText: []string{`msg="patient registered"`, "plugin=workinjury", "name=欧***", "idNumber=110***********002X", "module=workinjury.visit", "count=3"},
			wantJSON: []string{`"msg":"patient registered"`, `"plugin":"workinjury"`, `"name":"欧***"`, `"idNumber":"110***********002X"`, `"module":"workinjury.visit"`, `"count":3`},
			leaks:    []string{"欧阳娜娜", "11010519491231002X", "@module", ts, "timestamp"}},
		{name: "trace becomes debug", stderr: true, level: hclog.Trace, msg: "polling", args: []any{"timestamp", ts},
			want: "DEBUG", wantText: []string{"msg=polling"}, wantJSON: []string{`"msg":"polling"`}},
		{name: "nested objects and secrets", stderr: true, level: hclog.Warn, msg: "call failed token=tk_9f8e7d6c5b4a39281706",
			args: []any{"req", map[string]any{"psn_name": "欧阳娜娜", "privateKey": "3945208f7b2144b1", "inner": map[string]any{"phone": float64(13812345678)}},
				"credentials", map[string]any{"user": "u", "pass": "Hunter2-Pass"}, "list", []any{"13812345678", map[string]any{"aac003": "欧阳娜娜"}}, "timestamp", ts},
			want:     "WARN",
			wantText: []string{"req.psn_name=欧***", "req.privateKey=[redacted]", "req.inner.phone=138****5678", "credentials.pass=[redacted]", "credentials.user=[redacted]", "token=[redacted]"},
			wantJSON: []string{`"req":{"inner":{"phone":"138****5678"},"privateKey":"[redacted]","psn_name":"欧***"}`, `"credentials":{"pass":"[redacted]","user":"[redacted]"}`, `"list":["138****5678",{"aac003":"欧***"}]`},
			leaks:    []string{"欧阳娜娜", "13812345678", "3945208f7b2144b1", "Hunter2-Pass", "tk_9f8e7d6c5b4a39281706"}},
		{name: "plugin keys named like the host's", stderr: true, level: hclog.Error, msg: "failed",
			args: []any{"msg", "inner", "plugin", "other", "timestamp", ts}, want: "ERROR",
			wantText: []string{"msg=failed", "plugin=workinjury", "arg.msg=inner", "arg.plugin=other"},
			wantJSON: []string{`"msg":"failed"`, `"plugin":"workinjury"`, `"arg.msg":"inner"`, `"arg.plugin":"other"`}},
		{name: "plain text line", stderr: true, level: hclog.Debug, msg: "connecting to 13812345678 as 11010519491231002X",
			want:     "WARN",
			wantText: []string{`msg="connecting to 138****5678 as 110***********002X"`, "plugin=workinjury"},
			wantJSON: []string{`"msg":"connecting to 138****5678 as 110***********002X"`},
			leaks:    []string{"13812345678", "11010519491231002X"}},
		{name: "panic line", stderr: true, level: hclog.Error, msg: "panic: runtime error: idNo=11010519491231002X",
			want: "ERROR", wantText: []string{"panic: runtime error"}, wantJSON: []string{`"msg":"panic: runtime error: idNo=110***********002X"`},
			leaks: []string{"11010519491231002X"}},
		{name: "go-plugin's own message", level: hclog.Info, msg: "plugin process exited", args: []any{"plugin", "/opt/medgate/workinjury", "id", 42, "error", errors.New("exit status 2")},
			want:     "INFO",
			wantText: []string{"plugin=workinjury", "arg.plugin=/opt/medgate/workinjury", "id=42", `error="exit status 2"`},
			wantJSON: []string{`"arg.plugin":"/opt/medgate/workinjury"`, `"id":42`, `"error":"exit status 2"`}},
	}
	for _, format := range []string{"text", "json"} {
		for _, c := range cases {
			t.Run(format+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				var out bytes.Buffer
				host, err := logging.New(&out, format, "debug")
				if err != nil {
					t.Fatal(err)
				}
				l := logging.Plugin(host, "workinjury")
				if c.stderr {
					l = l.Named("workinjury")
				}
				l.Log(c.level, c.msg, c.args...)
				line := out.String()
				if strings.Count(line, "\n") != 1 {
					t.Fatalf("want one line, got %q", line)
				}
				want := c.wantText
				if format == "json" {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("not a JSON line: %v: %s", err, line)
					}
					if m["level"] != c.want || m["plugin"] != "workinjury" || m["time"] == nil {
						t.Errorf("level %v, plugin %v, time %v; want %s, workinjury and the host's time:\n%s", m["level"], m["plugin"], m["time"], c.want, line)
					}
					want = c.wantJSON
				} else if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level="+c.want+" ") || !strings.Contains(line, " plugin=workinjury") {
					t.Errorf("not a host text line at %s with plugin=workinjury:\n%s", c.want, line)
				}
				for _, w := range want {
					if !strings.Contains(line, w) {
						t.Errorf("the line lacks %s:\n%s", w, line)
					}
				}
				for _, leak := range c.leaks {
					if strings.Contains(line, leak) {
						t.Errorf("the line has %q:\n%s", leak, line)
					}
				}
			})
		}
	}
}

// TestPluginLinesFollowTheHostLevel checks that lines below the host's
// level are dropped and go-plugin is told the level (it then skips
// parsing them), while a plain text line still appears at info.
func TestPluginLinesFollowTheHostLevel(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	host, err := logging.New(&out, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	l := logging.Plugin(host, "workinjury").Named("workinjury")
	if l.GetLevel() != hclog.Info || l.IsDebug() {
		t.Errorf("level %v; want info, as the host's", l.GetLevel())
	}
	l.Debug("json debug line", "timestamp", "2026-12-05T08:00:00.123456Z")
	l.Trace("json trace line", "timestamp", "2026-12-05T08:00:00.123456Z")
	l.Debug("plain stderr text")
	if got := out.String(); strings.Contains(got, "json") || !strings.Contains(got, `"level":"WARN","msg":"plain stderr text"`) {
		t.Errorf("want only the plain line, at WARN; got:\n%s", got)
	}
}
