package access

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// gateStore holds every GetUser until the test opens the gate, counting
// how many are in at once.
type gateStore struct {
	UserStore
	in, most atomic.Int32
	gate     chan struct{}
}

func (g *gateStore) GetUser(ctx context.Context, _ string) (*store.User, error) {
	n := g.in.Add(1)
	defer g.in.Add(-1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return nil, store.ErrNotFound
}

// TestSignInChecksBounded: every sign-in check costs an argon2id hash of
// Params.Memory (19 MiB), the unknown names' too, and anyone may ask for
// one (the sign-in form, HTTP Basic on the admin API). So many at once
// must not take the memory of as many hashes: at most maxSignIns (never
// more than 8) run at once, the others wait their turn, and every one is
// answered.
func TestSignInChecksBounded(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ callers int }{
		"a burst":           {callers: 64},
		"just over the cap": {callers: maxSignIns + 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := &gateStore{gate: make(chan struct{})}
			u := NewUsers(g, Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			var wg sync.WaitGroup
			errs := make(chan error, tc.callers)
			for range tc.callers {
				wg.Go(func() {
					_, err := u.Authenticate(t.Context(), "nobody", "some-password-0123")
					errs <- err
				})
			}
			// Poll until more checks than the cap are in at once, or
			// the deadline passes with the others still waiting.
			for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline) && g.most.Load() <= 8; {
				time.Sleep(time.Millisecond)
			}
			close(g.gate)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != ErrBadCredentials {
					t.Errorf("a sign-in check answered %v, want ErrBadCredentials", err)
				}
			}
			if got := g.most.Load(); got > 8 || got > int32(maxSignIns) {
				t.Fatalf("%d sign-in checks ran at once, each with an argon2id hash; want at most %d", got, maxSignIns)
			}
		})
	}
}
