package access

import (
	"testing"
	"time"
)

// TestLockoutAddressIsAnIPv6Network: the address a lockout counts is an
// IPv6 client's /64 (a guesser holds all of it), an IPv4 client's own
// address, written either way (an IPv4-mapped IPv6 address is its IPv4
// one: a /64 of those would be every IPv4 client at once), and anything
// that is no address as it is; a link-local /64 is one per link (zone).
// Addresses a user signed in from are remembered the same way, so an
// IPv6 workstation whose temporary address changes stays known.
func TestLockoutAddressIsAnIPv6Network(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fails  []string // 3 failures, the lockout's limit
		then   string
		locked bool
	}{
		"IPv6 /64":                  {[]string{"2001:db8::1", "2001:db8::2", "2001:db8:0:0:ffff:ffff:ffff:ffff"}, "2001:db8::3", true},
		"IPv6 link-local, one link": {[]string{"fe80::1%eth0", "fe80::2%eth0", "fe80::3%eth0"}, "fe80::4%eth0", true},
		"IPv6 link-local, another":  {[]string{"fe80::1%eth0", "fe80::2%eth0", "fe80::3%eth0"}, "fe80::4%eth1", false},
		"IPv6 another /64":          {[]string{"2001:db8::1", "2001:db8::2", "2001:db8::3"}, "2001:db8:0:1::1", false},
		"IPv4":                      {[]string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, "10.0.0.4", false},
		"IPv4-mapped":               {[]string{"::ffff:10.0.0.1", "::ffff:10.0.0.2", "::ffff:10.0.0.3"}, "::ffff:10.0.0.4", false},
		"IPv4-mapped is its IPv4":   {[]string{"::ffff:10.0.0.1", "10.0.0.1", "::ffff:10.0.0.1"}, "10.0.0.1", true},
		"not an address, as it is":  {[]string{"@", "@", "@"}, "@", true},
		"not an address, apart":     {[]string{"pipe-1", "pipe-1", "pipe-1"}, "pipe-2", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
			l := NewLockout(3, 15*time.Minute, func() time.Time { return t0 })
			for _, a := range tc.fails {
				l.Fail("zhang", a)
			}
			if got := l.Locked("zhang", tc.then) > 0; got != tc.locked {
				t.Errorf("after 3 failures from %q, locked at %q: %v, want %v", tc.fails, tc.then, got, tc.locked)
			}
			if got := l.Begin("zhang", tc.then).Wait > 0; got != tc.locked {
				t.Errorf("after 3 failures from %q, Begin at %q refused: %v, want %v", tc.fails, tc.then, got, tc.locked)
			}
		})
	}

	// Known addresses: a user who signed in from one address of a /64 is
	// not slowed down by the per-user bound at another address of it.
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	l := NewLockout(3, 15*time.Minute, func() time.Time { return t0 }).PerUser(2, time.Minute)
	l.Succeed("zhang", "2001:db8:5::1")
	l.Fail("zhang", "198.51.100.1")
	l.Fail("zhang", "198.51.100.2")
	if w := l.Begin("zhang", "2001:db8:5::2").Wait; w != 0 {
		t.Errorf("the user's own /64 (signed in from 2001:db8:5::1) waits %v at 2001:db8:5::2 for guesses elsewhere, want 0", w)
	}
	if w := l.Begin("zhang", "2001:db8:6::1").Wait; w == 0 {
		t.Errorf("a /64 the user never signed in from is not slowed down by the per-user bound")
	}
}
