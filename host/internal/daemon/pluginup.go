package daemon

import (
	"context"
	"maps"
	"slices"
	"time"
)

// pluginUpEvery is how often medgate_plugin_up is refreshed from the
// plugins' status, whether or not anything asks /readyz: a Kubernetes
// readiness probe does, nothing does under the systemd unit, and the
// alert MedgatePluginDown reads the series.
const pluginUpEvery = 5 * time.Second

// refreshPluginUp sets medgate_plugin_up of every plugin from its status
// now, as /readyz and Options.OnHealth do (pluginReadiness: a plugin
// running without an isolated site is not up), and deletes it for a
// plugin no longer running (metrics.Metrics.PluginsRunning).
func (d *Daemon) refreshPluginUp() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setPluginUp()
}

// setPluginUp is refreshPluginUp with d.mu held (Reload, once d.plugins
// holds the plugins of the new configuration).
func (d *Daemon) setPluginUp() {
	d.metrics.PluginsRunning(slices.Collect(maps.Keys(d.plugins)))
	for name, in := range d.plugins {
		running, restarts, lastErr := in.Status()
		_, up := pluginReadiness(running, restarts, lastErr, len(in.Isolated()))
		d.metrics.SetPluginUp(name, up)
	}
}

// watchPluginUp refreshes medgate_plugin_up at once, then every
// pluginUpEvery until ctx ends.
func (d *Daemon) watchPluginUp(ctx context.Context) {
	d.refreshPluginUp()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		tick := time.NewTicker(pluginUpEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				d.refreshPluginUp()
			}
		}
	}()
}
