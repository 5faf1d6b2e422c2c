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

// TestUploadDeadlineWithoutOccurredAt: an upload without occurredAt has its
// deadline (the 30-minute rule) counted from when medgate first received it,
// as the plugin is told (ReceivedAt): the same on every delivery, not
// restarted, nor cut to the retry budget, by a redelivery.
func TestUploadDeadlineWithoutOccurredAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	earlier := now.Add(-2 * time.Hour)
	value := []byte(`{"id":"m","site":"s1","type":"x.do","payload":{"a":1}}`)
	cases := map[string]struct {
		pending bool // a record of the message left by an earlier delivery
		want    time.Time
	}{
		"first delivery": {want: now.Add(30 * time.Minute)},
		"redelivery":     {pending: true, want: earlier.Add(30 * time.Minute)},
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
			if _, err := p.Process(t.Context(), Input{Value: value, Key: "k"}); err != nil {
				t.Fatal(err)
			}
			if len(h.calls) != 1 || !h.calls[0].OccurredAt.IsZero() || !h.calls[0].Deadline.Equal(tc.want) {
				t.Fatalf("calls %+v: want one call without OccurredAt and with Deadline %s", h.calls, tc.want)
			}
		})
	}
}
