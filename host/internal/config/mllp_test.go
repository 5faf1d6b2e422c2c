package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMLLPDefaultCharset: defaultCharset is UTF-8 unless set, and the
// names senders and HL7 table 0211 use for GB 18030 become its canonical
// name, the one the listener passes to the HL7 reader.
func TestMLLPDefaultCharset(t *testing.T) {
	t.Parallel()
	for set, want := range map[string]string{
		"":              "UTF-8",
		"UTF-8":         "UTF-8",
		"GB18030":       "GB18030",
		"GBK":           "GB18030",
		"gb 18030-2000": "GB18030",
		"GB2312":        "GB18030",
	} {
		t.Run(set, func(t *testing.T) {
			t.Parallel()
			yaml := "kafka:\n  embedded: {}\nsites:\n  - code: demo\nmllp:\n  listeners:\n    - {address: \"127.0.0.1:2575\", site: demo}\n"
			if set != "" {
				yaml = fmt.Sprintf("kafka:\n  embedded: {}\nsites:\n  - code: demo\nmllp:\n  listeners:\n    - {address: \"127.0.0.1:2575\", site: demo, defaultCharset: %q}\n", set)
			}
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.MLLP.Listeners[0].DefaultCharset; got != want {
				t.Errorf("defaultCharset %q reads as %q, want %q", set, got, want)
			}
		})
	}
}

// TestMLLPShutdownGrace: mllp.shutdownGrace is 5s unless set; a value
// outside 100ms..1m is a problem at its line, listed with the file's other
// problems.
func TestMLLPShutdownGrace(t *testing.T) {
	t.Parallel()
	const head = "kafka:\n  embedded: {}\nsites:\n  - code: demo\nmllp:\n  listeners:\n    - address: \"127.0.0.1:2575\"\n      site: demo\n      maxConnections: 0\n"
	for name, tc := range map[string]struct {
		line string // the key's line, appended under mllp:
		want time.Duration
		msg  string // the problem at mllp.shutdownGrace, if any
	}{
		"left out":   {"", 5 * time.Second, ""},
		"set":        {"  shutdownGrace: 250ms\n", 250 * time.Millisecond, ""},
		"at most 1m": {"  shutdownGrace: 1m\n", time.Minute, ""},
		"too short":  {"  shutdownGrace: 50ms\n", 0, "must be between 100ms and 1m, is 50ms"},
		"too long":   {"  shutdownGrace: 2m\n", 0, "must be between 100ms and 1m, is 2m0s"},
		"negative":   {"  shutdownGrace: -1s\n", 0, "must be between 100ms and 1m, is -1s"},
		"zero":       {"  shutdownGrace: 0s\n", 0, "remove the line for the default 5s"},
		"no unit":    {"  shutdownGrace: 5\n", 0, "is not a duration"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := head + tc.line
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse: %v, want the problems of the file (maxConnections: 0 at least)", err)
			}
			byPath := map[string]Problem{}
			for _, p := range ps {
				byPath[p.Path] = p
			}
			if _, ok := byPath["mllp.listeners[0].maxConnections"]; !ok {
				t.Errorf("problems %v: the listener's maxConnections: 0 is not listed with them", ps)
			}
			p, found := byPath["mllp.shutdownGrace"]
			if tc.msg == "" {
				if found {
					t.Fatalf("unexpected problem %v", p)
				}
				if got := c.MLLP.ShutdownGrace.D(); got != tc.want {
					t.Errorf("mllp.shutdownGrace reads as %s, want %s", got, tc.want)
				}
				return
			}
			if !found {
				// The decoder reports a value that is not a duration at its line, without a path.
				for _, q := range ps {
					if q.Line == strings.Count(head, "\n")+1 && strings.Contains(q.Message, tc.msg) {
						return
					}
				}
				t.Fatalf("no problem at mllp.shutdownGrace: %v", ps)
			}
			if !strings.Contains(p.Message, tc.msg) || p.Line != strings.Count(head, "\n")+1 {
				t.Errorf("problem %v, want %q at line %d", p, tc.msg, strings.Count(head, "\n")+1)
			}
		})
	}
}
