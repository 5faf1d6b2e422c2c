package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/mllp"
)

// startMLLP opens the configured MLLP listeners (mllp.listeners); their
// messages go through the ingress like HTTP ones. Listeners (and their
// shutdown grace, mllp.shutdownGrace) are fixed at start: a reload does
// not open, close or change them.
func (d *Daemon) startMLLP(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if len(cfg.MLLP.Listeners) == 0 {
		return nil
	}
	met, err := mllp.NewMetrics(d.metrics.Registry)
	if err != nil {
		return err
	}
	for i, l := range cfg.MLLP.Listeners {
		s, err := mllp.New(l, d, &d.maps, log, met)
		if err == nil {
			s.ShutdownGrace = cfg.MLLP.ShutdownGrace.D()
			err = s.Listen()
		}
		if err != nil {
			d.stopMLLP()
			return fmt.Errorf("mllp.listeners[%d]: %w", i, err)
		}
		d.mllp = append(d.mllp, s)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := s.Serve(context.WithoutCancel(ctx)); err != nil {
				log.Error("MLLP listener stopped", "address", l.Address, "err", err)
			}
		}()
		log.Info("MLLP listening", "address", s.Addr().String(), "site", l.Site, "tls", l.TLS != nil)
	}
	return nil
}

// stopMLLP shuts the listeners down together, each gracefully (see
// mllp.Server.Shutdown): none takes a connection any more, and the
// messages being processed get their ACK within one grace
// (mllp.shutdownGrace, set at start) for all of them.
func (d *Daemon) stopMLLP() {
	var wg sync.WaitGroup
	for _, s := range d.mllp {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	d.mllp = nil
}
