package card

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testT0 is a fixed issue time used across tests.
var testT0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// testKey returns a key whose secret is seed, seed+1, …, seed+15.
func testKey(id string, seed byte) Key {
	k := Key{ID: id}
	for i := range k.Secret {
		k.Secret[i] = seed + byte(i)
	}
	return k
}

// newTestSealer builds a Sealer or fails the test.
func newTestSealer(tb testing.TB, clock *fakeClock, keys []Key, active string, opts ...Option) *Sealer {
	tb.Helper()
	s, err := NewSealer(keys, active, clock.Now, opts...)
	if err != nil {
		tb.Fatalf("NewSealer: %v", err)
	}
	return s
}

// seqReader yields 0, 1, 2, … forever, for deterministic nonces.
type seqReader struct{ n byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// errReader always fails.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy source broken") }

// rejectionErrors are the only errors Open may return for altered text.
var rejectionErrors = []error{ErrNotECard, ErrTampered, ErrUnknownKey}

func isRejection(err error) bool {
	for _, e := range rejectionErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
