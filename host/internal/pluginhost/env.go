package pluginhost

import (
	"slices"
	"strings"
)

// envAllowed are the host's environment variables a plugin process
// inherits: what programs and the Go runtime need to run (search path,
// home, user, time zone, locale, temporary directory), to reach external
// systems (CA certificates, proxies) and to tune the runtime. Everything
// else, in particular secrets the configuration names as env:VARIABLE
// (admin and ingress tokens, store keys, database passwords), stays in
// medgate: a plugin receives the secrets of its own settings through
// Configure and nothing more. go-plugin adds its handshake variables, and
// open() the plugin's socket directory (PLUGIN_UNIX_SOCKET_DIR, sockets.go).
var envAllowed = []string{
	"PATH", "HOME", "USER", "LOGNAME", "TZ", "ZONEINFO", "LANG", "LANGUAGE", "TMPDIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"GODEBUG", "GOMAXPROCS", "GOMEMLIMIT", "GOTRACEBACK", "GOCOVERDIR",
}

// pluginEnv returns the allowed part of environ ("KEY=value" entries):
// the variables in envAllowed and the locale's LC_*.
func pluginEnv(environ []string) []string {
	out := []string{}
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if ok && (slices.Contains(envAllowed, k) || strings.HasPrefix(k, "LC_")) {
			out = append(out, kv)
		}
	}
	return out
}
