package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/medgate/medgate/plugins/sdk"
)

// recoveryProgress keeps the stored progress of a one-time, resumable
// recovery (receipt_recovery.go, the held stock-outs' in
// stockout_held.go) under one state key: read once per run, written
// after every page by compare-and-set, so two instances running the
// same job never both advance it.
type recoveryProgress struct {
	host sdk.Host
	key  string
	// what names the recovery in errors ("the receipt recovery");
	// again says why running it again from the start is safe; item is
	// what a page holds ("draft").
	what, again, item string
	ver               int64
}

// load reads the progress into v; absent, v stays as it is (a recovery
// not started).
func (p *recoveryProgress) load(ctx context.Context, v any) error {
	e, err := p.host.Get(ctx, p.key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read the progress of %s (%s): %w", p.what, p.key, err)
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return fmt.Errorf("decode the progress of %s (%s): %w; delete the entry to run the recovery again from the start (%s)", p.what, p.key, err, p.again)
	}
	p.ver = e.Version
	return nil
}

// save stores v if the progress is still the version load (or the last
// save) read. Another run's write meanwhile is an error that wraps
// sdk.ErrConflict; after names the last key handled, for the message.
func (p *recoveryProgress) save(ctx context.Context, v any, after string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	nv, err := p.host.CompareAndSet(ctx, p.key, p.ver, b)
	if errors.Is(err, sdk.ErrConflict) {
		return fmt.Errorf("the progress of %s (%s) was changed by another run; this run stops, the other continues: %w", p.what, p.key, err)
	}
	if err != nil {
		return fmt.Errorf("store the progress of %s (%s) after %s: %w; the next run reads again from the last stored %s", p.what, p.key, after, err, p.item)
	}
	p.ver = nv
	return nil
}
