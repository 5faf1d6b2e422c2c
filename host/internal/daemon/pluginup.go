package daemon

import (
	"context"
	"time"
)

// pluginUpEvery is how often medgate_plugin_up is refreshed from the
// plugins' status, whether or not anything asks /readyz: a Kubernetes
// readiness probe does, nothing does under the systemd unit, and the
// alert MedgatePluginDown reads the series.
const pluginUpEvery = 5 * time.Second

// refreshPluginUp sets medgate_plugin_up of every plugin running now.
func (d *Daemon) refreshPluginUp() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, in := range d.plugins {
		running, _, _ := in.Status()
		d.metrics.PluginUp.WithLabelValues(name).Set(b2f(running))
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
