package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// Plugin returns the hclog.Logger to give go-plugin for the plugin name:
// it logs the plugin's lines, which go-plugin parses from the plugin's
// stderr, through l, so they come out in the host's format (text or
// json) and keys (time, level, msg) with plugin=name added.
//
//   - Levels: trace and debug become DEBUG; info, warn and error keep
//     theirs. Lines below l's level are dropped before any work.
//   - Time: the record's time is the host's time of receipt; the plugin's
//     own @timestamp (go-plugin's "timestamp" argument) is dropped, for
//     every line alike (plain text lines have none).
//   - Attributes: kept under their keys (sorted), nested objects as groups
//     (name.first=… in text, {"name":{"first":…}} in json); hclog's
//     "@module" and other "@" keys lose the "@".
//   - Plain text lines (not JSON: a panic's stack trace, fmt.Fprintln to
//     stderr), which go-plugin hands over at debug, are logged at WARN so
//     that they are not lost at the usual info level; go-plugin's own
//     [TRACE]…[ERROR] prefixes and panic detection keep their levels.
//
// Every attribute is masked as a JSON plugin line is masked (MaskJSON:
// personal keys, secrets, ID and mobile numbers anywhere in a string) and
// the message as any log message (Mask).
func Plugin(l *slog.Logger, name string) hclog.Logger {
	return &pluginLogger{l: l.With("plugin", name), name: name}
}

type pluginLogger struct {
	l    *slog.Logger
	name string
	args []any // implied by With
	// stderr marks the logger go-plugin names after the plugin's binary
	// and logs the plugin's stderr through; go-plugin's own messages go
	// through the unnamed one.
	stderr bool
}

// premasked is a value masked by maskAny; replace keeps it as it is, so
// that it is not masked twice (masking an already masked name again
// would change it). Only this file makes one.
type premasked struct{ v any }

func (p *pluginLogger) Log(level hclog.Level, msg string, args ...any) {
	lv, ok := slogLevel(level)
	if !ok {
		return
	}
	if p.stderr && level == hclog.Debug && len(args) == 0 {
		// go-plugin hands a line of the plugin's stderr that is not JSON
		// (or JSON without a level) over at debug with no arguments; a
		// JSON line always has its timestamp.
		lv = slog.LevelWarn
	}
	ctx := context.Background()
	if !p.l.Enabled(ctx, lv) {
		return
	}
	// go-plugin appends the plugin's timestamp last; the record keeps
	// the host's time instead.
	if n := len(args); p.stderr && n >= 2 && args[n-2] == "timestamp" {
		args = args[:n-2]
	}
	attrs := make([]slog.Attr, 0, len(args)/2+len(p.args)/2)
	extra := declaredLogKeys(p.name)
	attrs = appendAttrs(attrs, p.args, extra)
	n := len(attrs)
	attrs = appendAttrs(attrs, args, extra)
	if p.stderr {
		// go-plugin hands a JSON line's attributes over in map order;
		// sorted, a line reads the same every time.
		slices.SortFunc(attrs[n:], func(a, b slog.Attr) int { return strings.Compare(a.Key, b.Key) })
	}
	if len(extra) > 0 {
		// key=value of a declared field written into the text; the
		// host's logger masks the rest (Mask).
		msg = maskText(msg, extra)
	}
	p.l.LogAttrs(ctx, lv, msg, attrs...)
}

// appendAttrs converts hclog's key-value arguments to masked attributes;
// the values of the keys in extra (what the plugin declares personal,
// Declare) are masked as personal keys' are.
func appendAttrs(attrs []slog.Attr, args []any, extra keySet) []slog.Attr {
	for i := 0; i < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok {
			k = "!BADKEY"
		}
		var v any
		if i+1 < len(args) {
			v = args[i+1]
		}
		k = strings.TrimPrefix(k, "@")
		switch k {
		case "plugin", slog.TimeKey, slog.LevelKey, slog.MessageKey:
			// The host's keys keep their meaning: go-plugin's own
			// plugin=<path>, a plugin's msg=… become arg.plugin, arg.msg.
			k = "arg." + k
		}
		attrs = append(attrs, pluginAttrIn(k, v, false, extra))
	}
	return attrs
}

// pluginAttrIn masks v, found under key k, and converts it: an object to
// a group, anything else to a premasked value. Within a secret's value
// (secret) its strings are redacted, its numbers, booleans and null kept
// (maskSecret); the values of the keys in extra are masked as personal.
func pluginAttrIn(k string, v any, secret bool, extra keySet) slog.Attr {
	secret = secret || secretKey(k)
	v = plain(v)
	if m, ok := v.(map[string]any); ok {
		g := make([]slog.Attr, 0, len(m))
		for _, mk := range slices.Sorted(maps.Keys(m)) {
			g = append(g, pluginAttrIn(mk, m[mk], secret, extra))
		}
		return slog.Attr{Key: k, Value: slog.GroupValue(g...)}
	}
	if secret {
		return slog.Any(k, premasked{maskSecret(k, v)})
	}
	return slog.Any(k, premasked{maskAny(k, v, extra)})
}

// plain returns v as the values of a JSON document decoded with
// UseNumber, which maskAny masks: go-plugin decodes the plugin's numbers
// to float64 (a phone written as a number must be masked like a string),
// and its own messages carry errors and Go values.
func plain(v any) any {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x
	case float64:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return json.Number(b)
	case []any:
		for i, e := range x {
			x[i] = plain(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = plain(e)
		}
		return x
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return fmt.Sprint(v)
	}
	return plain(out)
}

// slogLevel maps an hclog level to slog's; ok is false for Off/NoLevel.
func slogLevel(l hclog.Level) (slog.Level, bool) {
	switch l {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug, true
	case hclog.Info:
		return slog.LevelInfo, true
	case hclog.Warn:
		return slog.LevelWarn, true
	case hclog.Error:
		return slog.LevelError, true
	}
	return 0, false
}

func (p *pluginLogger) Trace(msg string, args ...any) { p.Log(hclog.Trace, msg, args...) }
func (p *pluginLogger) Debug(msg string, args ...any) { p.Log(hclog.Debug, msg, args...) }
func (p *pluginLogger) Info(msg string, args ...any)  { p.Log(hclog.Info, msg, args...) }
func (p *pluginLogger) Warn(msg string, args ...any)  { p.Log(hclog.Warn, msg, args...) }
func (p *pluginLogger) Error(msg string, args ...any) { p.Log(hclog.Error, msg, args...) }

func (p *pluginLogger) IsTrace() bool { return p.GetLevel() <= hclog.Trace }
func (p *pluginLogger) IsDebug() bool { return p.GetLevel() <= hclog.Debug }
func (p *pluginLogger) IsInfo() bool  { return p.GetLevel() <= hclog.Info }
func (p *pluginLogger) IsWarn() bool  { return p.GetLevel() <= hclog.Warn }
func (p *pluginLogger) IsError() bool { return p.GetLevel() <= hclog.Error }

func (p *pluginLogger) ImpliedArgs() []any { return p.args }

func (p *pluginLogger) With(args ...any) hclog.Logger {
	c := *p
	c.args = append(append([]any(nil), p.args...), args...)
	return &c
}

// Name, Named and ResetNamed keep the plugin's name: go-plugin names its
// logger after the plugin's binary, which the plugin attribute says.
func (p *pluginLogger) Name() string                   { return p.name }
func (p *pluginLogger) Named(string) hclog.Logger      { return p.named() }
func (p *pluginLogger) ResetNamed(string) hclog.Logger { return p.named() }

func (p *pluginLogger) named() hclog.Logger {
	c := *p
	c.stderr = true
	return &c
}
func (p *pluginLogger) SetLevel(hclog.Level)                                  {}
func (p *pluginLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer { return p.writer() }

// GetLevel follows the host logger's level (trace when it logs debug:
// both become DEBUG), so go-plugin skips lines the host would drop.
func (p *pluginLogger) GetLevel() hclog.Level {
	ctx := context.Background()
	switch {
	case p.l.Enabled(ctx, slog.LevelDebug):
		return hclog.Trace
	case p.l.Enabled(ctx, slog.LevelInfo):
		return hclog.Info
	case p.l.Enabled(ctx, slog.LevelWarn):
		return hclog.Warn
	case p.l.Enabled(ctx, slog.LevelError):
		return hclog.Error
	}
	return hclog.Off
}

func (p *pluginLogger) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return log.New(p.writer(), "", 0)
}

func (p *pluginLogger) writer() io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.Log(hclog.Info, strings.TrimRight(string(b), "\n"))
		return len(b), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
