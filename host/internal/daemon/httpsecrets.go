package daemon

import (
	"crypto/sha256"
	"fmt"

	"github.com/medgate/medgate/host/internal/config"
)

// httpSecret is one HTTP token of the configuration: the key that names
// it and its secret reference.
type httpSecret struct{ key, ref string }

// httpSecrets lists the HTTP tokens of cfg by key, in the file's order:
// http.adminToken, http.ingressToken, http.clients[i].token.
func httpSecrets(cfg *config.Config) []httpSecret {
	out := []httpSecret{{"http.adminToken", cfg.HTTP.AdminToken}, {"http.ingressToken", cfg.HTTP.IngressToken}}
	for i, c := range cfg.HTTP.Clients {
		out = append(out, httpSecret{fmt.Sprintf("http.clients[%d].token", i), c.Token})
	}
	return out
}

// httpFingerprint returns a SHA-256 digest of each HTTP token of cfg that
// can be read, by key. The HTTP server reads its tokens once, at start;
// the digests let a reload tell a token rotated behind an unchanged
// reference (new contents of its file), which the server does not take
// until a restart, without keeping a copy of a token.
func httpFingerprint(cfg *config.Config) map[string][sha256.Size]byte {
	out := map[string][sha256.Size]byte{}
	for _, s := range httpSecrets(cfg) {
		if s.ref == "" {
			continue
		}
		if v, err := cfg.Secret(s.ref); err == nil {
			out[s.key] = sha256.Sum256([]byte(v))
		}
	}
	return out
}

// httpRotated returns the keys of the HTTP tokens that cfg resolves to
// other contents than the running server uses, and a warning when one of
// them cannot be read (medgate would not start with it; the running
// tokens stay). Neither ever holds a token. The caller holds d.mu.
func (d *Daemon) httpRotated(cfg *config.Config) (keys []string, warning string) {
	now := httpFingerprint(cfg)
	for _, s := range httpSecrets(cfg) {
		was, ok1 := d.httpRead[s.key]
		is, ok2 := now[s.key]
		if ok1 && ok2 && was != is {
			keys = append(keys, s.key)
		}
	}
	if _, err := cfg.HTTPCredentials(); err != nil {
		warning = fmt.Sprintf("the HTTP server keeps the tokens it started with, and medgate would not start with this configuration: %v", err)
		d.log.Warn(warning)
	}
	return keys, warning
}
