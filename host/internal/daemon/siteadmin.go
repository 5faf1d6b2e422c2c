package daemon

import (
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/plugins/sdk"
)

// siteHost is the daemon as the site and plugin admin pages see it.
type siteHost struct{ *Daemon }

// Plugins implements siteadmin.Host: the running plugins with their
// declared settings and status.
func (h siteHost) Plugins() []siteadmin.Plugin {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]siteadmin.Plugin, 0, len(h.plugins))
	for name, in := range h.plugins {
		running, restarts, lastErr := in.Status()
		desc := in.Description()
		p := siteadmin.Plugin{Name: name, Version: desc.Version, Running: running, Restarts: restarts,
			Settings: append([]sdk.Setting{}, desc.Settings...)}
		if lastErr != nil {
			p.LastError = lastErr.Error()
		}
		out = append(out, p)
	}
	return out
}
