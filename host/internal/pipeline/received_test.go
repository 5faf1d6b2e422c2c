package pipeline

import (
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestReceivedAtIsTheFirstReceipt: the plugin is told when medgate first
// received the message (its stored received_at), on the first delivery and
// on a redelivery after a crash alike, so that a plugin timing a message
// without occurredAt (the work-injury 30-minute rule) measures from one
// fixed point.
func TestReceivedAtIsTheFirstReceipt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	earlier := now.Add(-2 * time.Hour)
	cases := map[string]struct {
		pending bool // a record of the message left by an earlier delivery
		want    time.Time
	}{
		"first delivery": {want: now},
		"redelivery":     {pending: true, want: earlier},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
			p, _, st := newProc(t, h, true)
			p.SetClock(func() time.Time { return now })
			if tc.pending {
				if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "m", Site: "s1", Type: "x.do", Key: "k", ReceivedAt: earlier, Attempts: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := p.Process(t.Context(), Input{Value: msg("m", "x.do"), Key: "k"}); err != nil {
				t.Fatal(err)
			}
			if len(h.calls) != 1 || !h.calls[0].ReceivedAt.Equal(tc.want) {
				t.Fatalf("calls %+v: want one call with ReceivedAt %s", h.calls, tc.want)
			}
		})
	}
}
