package access

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestLockoutLocks: Locks lists the lockouts in force, by user (what the
// console's users page shows): an address as the lockout counts it (an
// IPv6 one by its /64) and when it ends, the per-user turn first; not
// failures below the limit, nor lockouts that ended.
func TestLockoutLocks(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	now := t0
	l := NewLockout(3, 10*time.Minute, func() time.Time { return now }).PerUser(4, time.Minute)
	for range 3 {
		l.Fail("amy", "10.4.0.1")
		l.Fail("old", "10.4.0.3")
	}
	now = t0.Add(time.Minute)
	for range 3 {
		l.Fail("amy", "2001:db8:1:2::10")
	}
	l.Fail("ben", "10.4.0.2") // below the limit
	// By now amy's per-user turn (6 failures, 4 allowed: 4 s) has ended:
	// it is not listed.
	now = t0.Add(2 * time.Minute)
	got := l.Locks()
	want := map[string][]Lock{
		"amy": {
			{Addr: "10.4.0.1", Until: t0.Add(10 * time.Minute)},
			{Addr: "2001:db8:1:2::/64", Until: t0.Add(11 * time.Minute)},
		},
		"old": {{Addr: "10.4.0.3", Until: t0.Add(10 * time.Minute)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Locks() = %+v, want %+v", got, want)
	}
	now = t0.Add(10*time.Minute + time.Second)
	if got := l.Locks(); len(got) != 1 || len(got["amy"]) != 1 || got["amy"][0].Addr != "2001:db8:1:2::/64" {
		t.Errorf("after 10 min: %+v, want amy's IPv6 lockout only", got)
	}
	// A turn in force is listed first.
	l2 := NewLockout(3, 10*time.Minute, func() time.Time { return now }).PerUser(2, time.Minute)
	for i := range 3 {
		l2.Fail("cy", "10.5.0."+strconv.Itoa(i))
	}
	if got := l2.Locks()["cy"]; len(got) != 1 || !got[0].AllAddresses || !got[0].Until.Equal(now.Add(2*time.Second)) {
		t.Errorf("cy's turn: %+v, want one per-user lock until now+2s", got)
	}
	l2.Fail("cy", "10.5.0.0")
	l2.Fail("cy", "10.5.0.0")
	if got := l2.Locks()["cy"]; len(got) != 2 || !got[0].AllAddresses || got[1].Addr != "10.5.0.0" {
		t.Errorf("cy: %+v, want the per-user turn first, then 10.5.0.0", got)
	}
}

// TestUnlockDetail: the unlock's audit detail, the same in the console
// and the admin API, says where (an IPv6 address by its /64) and how many.
func TestUnlockDetail(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string][2]string{
		"":                 {"every address", "解除登录锁定：所有地址，解除 2 项（仅本实例）。sign-in lockout lifted at every address: 2 lifted (this instance only)"},
		"2001:db8:1:2::10": {"2001:db8:1:2::/64", "解除登录锁定：2001:db8:1:2::/64，解除 2 项（仅本实例）。sign-in lockout lifted at 2001:db8:1:2::/64: 2 lifted (this instance only)"},
	} {
		if where, detail := UnlockDetail(addr, 2); where != want[0] || detail != want[1] {
			t.Errorf("UnlockDetail(%q, 2) = %q, %q; want %q, %q", addr, where, detail, want[0], want[1])
		}
	}
}
