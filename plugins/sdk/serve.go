package sdk

import (
	"log/slog"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/medgate/medgate/plugins/sdk/internal/wire"
)

// Serve runs p as a plugin process. It is the whole of a plugin's main
// function and returns only when the host stops the plugin.
//
// Serve writes go-plugin's handshake line to the standard output the
// process started with. Until then, in a process the host launched,
// os.Stdout is the process's standard error (see handshakeOut): a line the
// plugin prints before it serves (fmt.Println) reaches the host's log
// instead of breaking the handshake. While it serves, what the plugin
// writes to os.Stdout and os.Stderr reaches the host's log too, as
// warnings; log with [Logger] all the same.
func Serve(p Plugin) {
	os.Stdout = handshakeOut
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: pluginSets(p),
		GRPCServer:       wire.NewServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Output:     logOutput,
			Level:      hclog.Info,
			JSONFormat: true,
		}),
	})
}

// Logger returns a structured logger for plugin code. It writes JSON lines
// to stderr in the form the host re-emits with their level and fields. The
// host masks personal data again, but plugins should not log it.
func Logger(name string) *slog.Logger {
	h := slog.NewJSONHandler(logOutput, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				// go-plugin parses @timestamp with exactly six fractional
				// digits (hclog's layout) and demotes any other line to
				// DEBUG, below the host's INFO: slog's own RFC 3339 with
				// up to nine digits lost every line.
				a.Key = "@timestamp"
				if a.Value.Kind() == slog.KindTime {
					a.Value = slog.StringValue(a.Value.Time().Format(hclogTime))
				}
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(levelName(a.Value.Any()))
			case slog.MessageKey:
				a.Key = "@message"
			}
			return a
		},
	})
	return slog.New(h).With("@module", name)
}

// logOutput is the plugin's standard error as the process started with
// it. go-plugin's Serve replaces os.Stderr with a pipe whose lines reach
// the host as plain text (medgate logs each as a warning; before, it
// discarded them), so a Logger made while serving (in Configure or
// Handle) lost its levels and fields; go-plugin parses the lines of this
// one, as the host's own log lines.
var logOutput = os.Stderr

// handshakeOut is the plugin's standard output as the process started
// with it, which go-plugin's handshake line must be the first line of:
// go-plugin's host reads that line only, and kills the process at once if
// it is anything else, so that what the plugin would write to standard
// error next (why it cannot start) was lost. In a process the host
// launched (its handshake cookie is set) os.Stdout is standard error until
// Serve: packages are initialized before the packages that import them,
// so this runs before the plugin's own init functions and main. Only a
// write to the file descriptor itself (a C library) or from a package
// that does not import the SDK and prints in its init function still
// reaches standard output first.
var handshakeOut = os.Stdout

func init() {
	if os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue {
		os.Stdout = os.Stderr
	}
}

// hclogTime is the layout of hclog's JSON @timestamp, the only one
// go-plugin's log pump accepts.
const hclogTime = "2006-01-02T15:04:05.000000Z07:00"

func levelName(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "info"
	}
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	case l >= slog.LevelInfo:
		return "info"
	default:
		return "debug"
	}
}
