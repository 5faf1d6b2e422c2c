package adapter

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// gateHost is a MemoryHost (its WriteState included) whose first n
// NextSequence calls wait for each other: the registrations that make them
// have all read the state and found no card, and only then draw their
// numbers and write, as registrations at the same moment on two instances
// do. A call waits at most until the deadline, so a registration that does
// not draw a number (it found the other's card) does not hang the others.
type gateHost struct {
	*sdktest.MemoryHost

	mu      sync.Mutex
	waiting int
	n       int
	// ungated is the number of NextSequence calls, before the gated
	// ones, that do not wait (a card registered before the race).
	ungated  int
	open     chan struct{}
	deadline time.Duration
}

func newGateHost(n int) *gateHost {
	return &gateHost{MemoryHost: sdktest.NewMemoryHost(), n: n, open: make(chan struct{}), deadline: 5 * time.Second}
}

func (g *gateHost) NextSequence(ctx context.Context, site, name string) (int64, error) {
	g.mu.Lock()
	if g.ungated > 0 {
		g.ungated--
		g.mu.Unlock()
		return g.MemoryHost.NextSequence(ctx, site, name)
	}
	g.waiting++
	if g.waiting == g.n {
		close(g.open)
	}
	gate := g.waiting <= g.n
	g.mu.Unlock()
	if gate {
		select {
		case <-g.open:
		case <-time.After(g.deadline):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return g.MemoryHost.NextSequence(ctx, site, name)
}

// TestRegisterResidencePermitConcurrentTypes: a 港澳台居民居住证 number
// registered at the same moment as idType 01 at one counter and as 09 at
// another (one person: see TestRegisterResidencePermitUnderEitherType) gets
// one card. Each registration looked for the other type's card before
// either was written, so both used to issue a card. The same holds once
// the number's card is revoked: the two registrations issue one
// replacement.
func TestRegisterResidencePermitConcurrentTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		types   [2]string
		revoked bool // the number has a revoked card, registered as types[0]
	}{{types: [2]string{"01", "09"}}, {types: [2]string{"02", "09"}}, {types: [2]string{"09", "01"}, revoked: true}, {types: [2]string{"01", "09"}, revoked: true}} {
		types := tc.types
		name := types[0] + "+" + types[1]
		if tc.revoked {
			name += ", revoked"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			host := newGateHost(2)
			wantCards, old := 1, ""
			clock, seq := &fakeClock{t: testT0}, new(atomic.Int64)
			inst := func() *env {
				e := &env{tb: t, host: host.MemoryHost, clock: clock, seq: seq}
				e.p = sdktest.Connect(t, New(WithClock(clock.Now)), host)
				e.mustConfigure(testSettings())
				return e
			}
			e1, e2 := inst(), inst()
			if tc.revoked {
				host.ungated = 1
				old = e1.register(map[string]string{"name": "陈大文", "idType": types[0], "idNumber": "810000199408230021", "phone": "13812345679"}).CardNo
				e1.ok(OpRevoke, map[string]string{"cardNo": old, "reason": "lost"}, nil)
				wantCards = 2
			}
			replies := make([]registerReply, 2)
			var wg sync.WaitGroup
			for i, inst := range []*env{e1, e2} {
				wg.Go(func() {
					replies[i] = inst.register(map[string]string{"name": "陈大文", "idType": types[i], "idNumber": "810000199408230021", "phone": "13812345679"})
				})
			}
			wg.Wait()
			if replies[0].CardNo != replies[1].CardNo || replies[0].Created == replies[1].Created {
				t.Errorf("registered at once as %s and %s: cards %s (created %v) and %s (created %v); want one card, created once",
					types[0], types[1], replies[0].CardNo, replies[0].Created, replies[1].CardNo, replies[1].Created)
			}
			if keys := e1.keysWithPrefix(keyCard); len(keys) != wantCards {
				t.Errorf("card records %v, want %d", keys, wantCards)
			}
			if replies[0].PreviousCardNo != old || replies[1].PreviousCardNo != old {
				t.Errorf("previousCardNo %q and %q, want %q", replies[0].PreviousCardNo, replies[1].PreviousCardNo, old)
			}
		})
	}
}
