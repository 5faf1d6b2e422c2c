package stall

import (
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
)

func TestPartitionsCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	hold := func(p int32, age time.Duration) bus.Hold {
		return bus.Hold{Topic: "medgate.requests", Partition: p, Offset: 41, Key: "visit-7", Since: now.Add(-age), Waiting: 3}
	}
	cases := map[string]struct {
		holds []bus.Hold
		want  []string // substrings; "ok" alone means exactly ok
	}{
		"nothing held":       {want: []string{"ok"}},
		"held briefly":       {holds: []bus.Hold{hold(0, After-time.Second)}, want: []string{"ok"}},
		"held past the mark": {holds: []bus.Hold{hold(2, After+5*time.Second)}, want: []string{"degraded:", "1 partition(s) stalled", "partition 2", "offset 41", `key "visit-7"`, "2m5s"}},
		"two stalled, oldest named": {holds: []bus.Hold{hold(1, 10*time.Minute), hold(0, 3*time.Minute), hold(2, time.Second)},
			want: []string{"2 partition(s) stalled", "partition 1 has waited 10m0s"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := Check(tc.holds, now)
			if len(tc.want) == 1 && tc.want[0] == "ok" {
				if got != "ok" {
					t.Fatalf("got %q, want ok", got)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

// TestCheckMasksTheKey: a platform keying its messages by resident ID or
// mobile number must not see them in clear on /readyz.
func TestCheckMasksTheKey(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, key := range []string{"350203199001011234", "13812345678"} {
		got := Check([]bus.Hold{{Topic: "medgate.requests", Key: key, Since: now.Add(-time.Hour)}}, now)
		if strings.Contains(got, key) {
			t.Errorf("key %s shown in clear: %q", key, got)
		}
		if !strings.Contains(got, key[:3]) || !strings.Contains(got, "****") {
			t.Errorf("key %s not shown masked: %q", key, got)
		}
	}
}
