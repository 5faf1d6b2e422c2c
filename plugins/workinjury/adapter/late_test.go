package adapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestLateTimedFrom: the 30-minute rule times an upload from its
// occurredAt, and an upload that has none from when medgate first received
// the message (ReceivedAt); the warning and the event say which time was
// used. An upload without occurredAt is sent all the same.
func TestLateTimedFrom(t *testing.T) {
	t.Parallel()
	// Minutes before the call (-1: unknown). The times are taken just
	// before each call: subtests run in parallel, and one may start more
	// than a minute after the test did (-race, a loaded machine), which
	// would turn 29 minutes into 30.
	cases := map[string]struct {
		occurredAgo, receivedAgo int
		wantLate                 string // "" not late, else the timedFrom of the event
	}{
		"no occurredAt, received 31 minutes ago":       {occurredAgo: -1, receivedAgo: 31, wantLate: "receivedAt"},
		"no occurredAt, received 29 minutes ago":       {occurredAgo: -1, receivedAgo: 29},
		"occurredAt 31 minutes ago, received just now": {occurredAgo: 31, receivedAgo: 0, wantLate: "occurredAt"},
		"occurredAt 29 minutes ago, received long ago": {occurredAgo: 29, receivedAgo: 40},
		"neither time known":                           {occurredAgo: -1, receivedAgo: -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var occurred, received time.Time
			now := time.Now()
			if tc.occurredAgo >= 0 {
				occurred = now.Add(-time.Duration(tc.occurredAgo) * time.Minute)
			}
			if tc.receivedAgo >= 0 {
				received = now.Add(-time.Duration(tc.receivedAgo) * time.Minute)
			}
			b, _ := json.Marshal(institution("H35020306666"))
			r, err := e.p.Handle(t.Context(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYU009", MessageID: "m1", Key: "m1",
				Format: "json", Payload: b, Attempt: 1, OccurredAt: occurred, ReceivedAt: received, Deadline: now.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s, want ok (a late upload is still sent): %s", r.Status, r.Diagnostics)
			}
			var warning string
			for _, d := range r.Diagnostics {
				if d.Rule == "late" && d.Severity == sdk.SeverityWarning {
					warning = d.Summary
				}
			}
			evs := e.events("workinjury.upload.late")
			if tc.wantLate == "" {
				if warning != "" || len(evs) != 0 {
					t.Fatalf("flagged late (%q, %d events), want not late", warning, len(evs))
				}
				return
			}
			if warning == "" || len(evs) != 1 {
				t.Fatalf("warning %q, %d events: want a late warning and one event", warning, len(evs))
			}
			if got := strings.Contains(warning, "no occurredAt"); got != (tc.wantLate == "receivedAt") {
				t.Errorf("warning %q does not say which time it was timed from (%s)", warning, tc.wantLate)
			}
			var ev map[string]any
			if err := json.Unmarshal(evs[0].Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev["timedFrom"] != tc.wantLate || ev[tc.wantLate] == nil {
				t.Errorf("event %s: want timedFrom %s and its time", fmt.Sprint(ev), tc.wantLate)
			}
		})
	}
}
