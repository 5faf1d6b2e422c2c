package access

import (
	"slices"
	"testing"
	"time"
)

// TestLockoutReportsLocks: OnLock is told each lockout as it begins, once:
// a user's failures from one address reaching the limit ("address"),
// and a user's failures from every address reaching the per-user limit
// ("user"); failures below the limits, and further failures while locked,
// report nothing, so medgate_signin_lockouts_total counts lockouts, not
// attempts.
func TestLockoutReportsLocks(t *testing.T) {
	t.Parallel()
	type fail struct{ user, addr string }
	repeat := func(n int, f fail) []fail {
		out := make([]fail, n)
		for i := range out {
			out[i] = f
		}
		return out
	}
	many := func(n int) []fail {
		out := make([]fail, n)
		for i := range out {
			out[i] = fail{"zhang", "10.0.0." + string(rune('0'+i%10)) + string(rune('0'+i/10))}
		}
		return out
	}
	cases := map[string]struct {
		fails []fail
		want  []string
	}{
		"below the limit":                    {repeat(2, fail{"zhang", "10.0.0.1"}), nil},
		"the limit from one address":         {repeat(3, fail{"zhang", "10.0.0.1"}), []string{"address"}},
		"more failures while locked":         {repeat(4, fail{"zhang", "10.0.0.1"}), []string{"address"}},
		"then the per-user limit too":        {repeat(6, fail{"zhang", "10.0.0.1"}), []string{"address", "user"}},
		"two users":                          {append(repeat(3, fail{"zhang", "10.0.0.1"}), repeat(3, fail{"li", "10.0.0.1"})...), []string{"address", "address"}},
		"the per-user limit, many addresses": {many(5), []string{"user"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
			var got []string
			l := NewLockout(3, 15*time.Minute, func() time.Time { return t0 }).PerUser(5, time.Minute).OnLock(func(kind string) { got = append(got, kind) })
			for _, f := range tc.fails {
				l.Fail(f.user, f.addr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("OnLock was told %q, want %q", got, tc.want)
			}
		})
	}
}
