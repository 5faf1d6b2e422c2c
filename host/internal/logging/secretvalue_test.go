package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretKeysMaskStringsOnly: the value of a secret key (token,
// password, …) is redacted when it is a string, wherever it sits (a JSON
// body, a log attribute, a group or object under the key, a plugin's
// line, a JSON body quoted in text); a number, a boolean or null under it
// is kept, as it cannot hold a secret (a count, a flag, an expiry). A
// string that looks like a number is still redacted, and a number that
// is a mobile is still masked as personal data.
func TestSecretKeysMaskStringsOnly(t *testing.T) {
	t.Parallel()
	type tc struct {
		json  string   // a body masked by MaskJSON; want: its result
		text  string   // a text masked by Mask; want: its result
		want  string   //
		log   []any    // arguments of a host log call (json format)
		plug  []any    // arguments of a plugin's log call (json format)
		has   []string // for log, plug: the line has these
		leaks []string // and none of these
	}
	cases := map[string]tc{
		"json number":             {json: `{"token":3}`, want: `{"token":3}`},
		"json boolean":            {json: `{"token":true,"password":false}`, want: `{"password":false,"token":true}`},
		"json null":               {json: `{"accessToken":null}`, want: `{"accessToken":null}`},
		"json count key":          {json: `{"tokenCount":3,"tokenExpired":true}`, want: `{"tokenCount":3,"tokenExpired":true}`},
		"json string":             {json: `{"token":"tk_9f8e7d6c"}`, want: `{"token":"[redacted]"}`},
		"json numeric string":     {json: `{"token":"123456"}`, want: `{"token":"[redacted]"}`},
		"json empty string":       {json: `{"token":""}`, want: `{"token":"[redacted]"}`},
		"json nested object":      {json: `{"token":{"value":"tk_9f8e7d6c","expiresIn":7200,"type":"bearer"}}`, want: `{"token":{"expiresIn":7200,"type":"[redacted]","value":"[redacted]"}}`},
		"json nested array":       {json: `{"app_secret":["s3cr3t",{"k":"v2"},7,null]}`, want: `{"app_secret":["[redacted]",{"k":"[redacted]"},7,null]}`},
		"json deep object":        {json: `{"auth":{"token":{"a":[{"b":"deep"}]}}}`, want: `{"auth":{"token":{"a":[{"b":"[redacted]"}]}}}`},
		"json mobile as a number": {json: `{"token":13812345678}`, want: `{"token":"138****5678"}`},
		"text quoted number":      {text: `reply {"token":3,"ok":true} from the platform`, want: `reply {"token":3,"ok":true} from the platform`},
		"text quoted boolean":     {text: `reply {"token": false} from the platform`, want: `reply {"token": false} from the platform`},
		"text quoted string":      {text: `reply {"token":"123456"} from the platform`, want: `reply {"token":"[redacted]"} from the platform`},
		"text query number":       {text: `GET /api?token=123456&x=1`, want: `GET /api?token=[redacted]&x=1`},
		"text escaped string":     {text: `body "{\"token\":\"tk_9f8e7d6c\"}" refused`, want: `body "{\"token\":\"[redacted]\"}" refused`},
		"text number glued":       {text: `reply {"token":3abc} from`, want: `reply {"token":[redacted] from`},
		"log int":                 {log: []any{slog.Int("token", 3)}, has: []string{`"token":3`}},
		"log bool":                {log: []any{slog.Bool("password", false)}, has: []string{`"password":false`}},
		"log nil":                 {log: []any{slog.Any("token", nil)}, has: []string{`"token":null`}},
		"log numeric string":      {log: []any{slog.String("token", "123456")}, has: []string{`"token":"[redacted]"`}, leaks: []string{"123456"}},
		"log error":               {log: []any{slog.Any("token", errors.New("tk_9f8e7d6c"))}, has: []string{`"token":"[redacted]"`}, leaks: []string{"tk_9f8e7d6c"}},
		"log bytes":               {log: []any{slog.Any("secret", []byte("tk_9f8e7d6c"))}, has: []string{`"secret":"[redacted]"`}, leaks: []string{"tk_9f8e7d6c", "dGtf"}},
		"log group":               {log: []any{slog.Group("token", slog.String("value", "tk_9f8e7d6c"), slog.Int("expiresIn", 7200))}, has: []string{`"value":"[redacted]"`, `"expiresIn":7200`}, leaks: []string{"tk_9f8e7d6c"}},
		"log map":                 {log: []any{slog.Any("token", map[string]any{"value": "tk_9f8e7d6c", "n": 2})}, has: []string{`"value":"[redacted]"`, `"n":2`}, leaks: []string{"tk_9f8e7d6c"}},
		"plugin number":           {plug: []any{"token", float64(3), "password", true}, has: []string{`"token":3`, `"password":true`}},
		"plugin string":           {plug: []any{"token", "123456"}, has: []string{`"token":"[redacted]"`}, leaks: []string{"123456"}},
		"plugin object":           {plug: []any{"token", map[string]any{"value": "tk_9f8e7d6c", "expiresIn": float64(7200)}}, has: []string{`"value":"[redacted]"`, `"expiresIn":7200`}, leaks: []string{"tk_9f8e7d6c"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			switch {
			case c.json != "":
				if got := string(MaskJSON([]byte(c.json))); got != c.want {
					t.Errorf("MaskJSON(%s) = %s, want %s", c.json, got, c.want)
				}
			case c.text != "":
				if got := Mask(c.text); got != c.want {
					t.Errorf("Mask(%q) = %q, want %q", c.text, got, c.want)
				}
			default:
				var buf bytes.Buffer
				l, err := New(&buf, "json", "info")
				if err != nil {
					t.Fatal(err)
				}
				if c.log != nil {
					l.Info("got", c.log...)
				} else {
					Plugin(l, "tracecode").Info("got", c.plug...)
				}
				out := buf.String()
				for _, h := range c.has {
					if !strings.Contains(out, h) {
						t.Errorf("log line lacks %s: %s", h, out)
					}
				}
				for _, leak := range c.leaks {
					if strings.Contains(out, leak) {
						t.Errorf("log line leaks %q: %s", leak, out)
					}
				}
			}
		})
	}
}
