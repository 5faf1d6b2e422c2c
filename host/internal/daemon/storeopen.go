package daemon

import (
	"context"
	"fmt"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/store"
)

// openStore opens the configured store engine with the encryption keys of
// store.encryption, refusing values stored plain when
// store.encryption.refusePlain is set, and journal entries not bound to
// their row when store.encryption.refuseUnboundJournal is, and the
// options more. SQLite creates
// its directory (mode 0700) and files (mode 0600) itself.
func openStore(ctx context.Context, cfg *config.Config, more ...store.Option) (store.Store, error) {
	keys, err := cfg.StoreKeys()
	if err != nil {
		return nil, err
	}
	sk := make([]store.Key, len(keys))
	for i, k := range keys {
		sk[i] = store.Key{ID: k.ID, Secret: k.Key}
	}
	opts := append([]store.Option{store.WithKeys(sk...)}, more...)
	if e := cfg.Store.Encryption; e != nil && e.RefusePlain {
		opts = append(opts, store.WithRefusePlain())
	}
	if e := cfg.Store.Encryption; e != nil && e.RefuseUnboundJournal {
		opts = append(opts, store.WithRefuseUnboundJournal())
	}
	if cfg.Store.Driver == store.DriverSQLite {
		return store.Open(ctx, store.DriverSQLite, cfg.Store.Path, opts...)
	}
	dsn, err := cfg.Secret(cfg.Store.DSN)
	if err != nil {
		return nil, fmt.Errorf("store.dsn: %w", err)
	}
	return store.Open(ctx, cfg.Store.Driver, dsn, opts...)
}

// OpenStore opens the configured store (with its encryption keys) for a
// command that works on it directly, such as `medgate user`.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	return openStore(ctx, cfg)
}
