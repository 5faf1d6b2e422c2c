package message

import (
	"testing"
	"time"
)

// TestOccurred: the time of occurredAt, the zero time without one, and no
// allocation for a message without one (a query: the pipeline asks twice
// per message). Until 2026-12-05 an empty occurredAt went through
// time.Parse, which built and dropped a *time.ParseError each time.
func TestOccurred(t *testing.T) {
	cases := map[string]struct {
		in        string
		want      time.Time
		maxAllocs float64
	}{
		"RFC 3339":     {"2026-12-05T10:00:00+08:00", time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC), 0},
		"nanoseconds":  {"2026-12-05T02:00:00.123456789Z", time.Date(2026, 12, 5, 2, 0, 0, 123456789, time.UTC), 0},
		"empty":        {"", time.Time{}, 0},
		"not RFC 3339": {"2026-12-05 10:00", time.Time{}, 3},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := &Envelope{OccurredAt: tc.in}
			if got := e.Occurred(); !got.Equal(tc.want) {
				t.Errorf("Occurred() of %q = %v, want %v", tc.in, got, tc.want)
			}
			if raceEnabled {
				return // the race detector changes what allocates
			}
			if n := testing.AllocsPerRun(100, func() { e.Occurred() }); n > tc.maxAllocs {
				t.Errorf("Occurred() of %q allocates %.0f times, want at most %.0f", tc.in, n, tc.maxAllocs)
			}
		})
	}
}
