package access

import (
	"fmt"
	"testing"
	"time"
)

// TestLockoutLastsTheWindowAfterTheLastFailure: once a user's failures
// from one address reach the limit within the window, the address is
// refused until a whole window has passed since the last failure, as the
// wait it reports (the 429's Retry-After) says: not sooner, when the
// first of the failures leaves the window, and not later.
func TestLockoutLastsTheWindowAfterTheLastFailure(t *testing.T) {
	t.Parallel()
	const window = 15 * time.Minute
	type check struct {
		at   time.Duration // since the first failure
		want time.Duration // Locked, and Begin's Wait
	}
	tests := map[string]struct {
		fails  []time.Duration // since the first failure
		checks []check
	}{
		"failures in a burst": {
			fails:  []time.Duration{0, time.Second, 2 * time.Second},
			checks: []check{{2 * time.Second, window}, {15 * time.Minute, 2 * time.Second}, {window + 2*time.Second, 0}},
		},
		"failures spread over the window": {
			fails: []time.Duration{0, 7 * time.Minute, 14 * time.Minute},
			checks: []check{{14 * time.Minute, window}, {15*time.Minute + 30*time.Second, 13*time.Minute + 30*time.Second},
				{28*time.Minute + 59*time.Second, time.Second}, {29 * time.Minute, 0}},
		},
		"a failure counted while locked out starts the window again": {
			fails:  []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Minute},
			checks: []check{{16 * time.Minute, 9 * time.Minute}, {25 * time.Minute, 0}},
		},
		"failures further apart than the window never lock": {
			fails:  []time.Duration{0, 8 * time.Minute, 16 * time.Minute},
			checks: []check{{16 * time.Minute, 0}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
			now := t0
			l := NewLockout(3, window, func() time.Time { return now })
			for _, f := range tc.fails {
				now = t0.Add(f)
				l.Fail("amy", "10.0.0.1")
			}
			for _, c := range tc.checks {
				now = t0.Add(c.at)
				if got := l.Locked("amy", "10.0.0.1"); got != c.want {
					t.Errorf("at %v: Locked = %v, want %v", c.at, got, c.want)
				}
				if got := l.Begin("amy", "10.0.0.1"); got != (Refusal{Wait: c.want}) {
					t.Errorf("at %v: Begin = %+v, want a wait of %v", c.at, got, c.want)
				}
			}
		})
	}
}

// TestLockoutKeptWhileNamesAreSprayed: the per-address table is bounded
// (maxLockKeys), and anyone may fill it with failures of made-up names.
// That must not push out a lockout in force: a guesser sharing the real
// user's address (a NAT, a ward PC), where the per-user bound does not
// apply, would otherwise get the limit's guesses again after every
// spray. Entries not locked out go first.
func TestLockoutKeptWhileNamesAreSprayed(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		sprayFrom string
		sprayed   int
	}{
		"the table filled from another address":  {"10.9.9.9", maxLockKeys + 10},
		"the table filled from the same address": {"10.0.0.1", maxLockKeys + 10},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
			now := t0
			l := NewLockout(3, 15*time.Minute, func() time.Time { return now })
			l.Succeed("amy", "10.0.0.1")
			for range 3 {
				l.Fail("amy", "10.0.0.1")
			}
			for i := range tc.sprayed {
				now = t0.Add(time.Duration(i) * time.Millisecond)
				l.Fail(fmt.Sprintf("spray-%d", i), tc.sprayFrom)
			}
			if w := l.Begin("amy", "10.0.0.1").Wait; w <= 0 {
				t.Errorf("after %d made-up names failed, amy's lockout at 10.0.0.1 is gone: her next guess there is checked", tc.sprayed)
			}
			if len(l.m) > maxLockKeys {
				t.Errorf("the table holds %d entries, more than %d", len(l.m), maxLockKeys)
			}
		})
	}
}

// TestKnownAddressesKeptWhileNamesAreSprayed: the per-user table is
// bounded (maxUserKeys) and anyone may fill it with made-up names, each
// failed past the per-user bound. That must not push out the addresses a
// real user signed in from: the guesser would then put the user over the
// bound and keep them out of their own workstation. Only names without
// such addresses make room.
func TestKnownAddressesKeptWhileNamesAreSprayed(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ failsEach int }{
		"names sprayed to the per-user bound":   {2},
		"names sprayed past the per-user bound": {5},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
			now := t0
			l := NewLockout(100, 15*time.Minute, func() time.Time { return now }).PerUser(2, time.Minute)
			l.Succeed("amy", "10.0.0.1")
			for i := range maxUserKeys + 5 {
				now = t0.Add(time.Duration(i) * time.Millisecond)
				for range tc.failsEach {
					l.Fail(fmt.Sprintf("spray-%d", i), "10.9.9.9")
				}
			}
			// The guesser now puts amy over the bound.
			for i := range 2 {
				l.Fail("amy", fmt.Sprintf("10.8.0.%d", i))
			}
			if r := l.Begin("amy", "10.0.0.1"); r.Wait != 0 {
				t.Errorf("after %d made-up names failed %d times each, amy is refused at her own workstation: %+v", maxUserKeys+5, tc.failsEach, r)
			}
			if len(l.users) > maxUserKeys {
				t.Errorf("the table holds %d users, more than %d", len(l.users), maxUserKeys)
			}
		})
	}
}
