package adapter

import (
	"encoding/json"
	"testing"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestEventIDNamesTheContent: a record changed without a new update_time
// (two changes within the same second: update_time has second resolution)
// is a different record; it must not be published under the event id of
// its earlier version, or deduplication by id downstream drops the change.
// The same content keeps its id (TestDownloadResumesAfterCrash).
func TestEventIDNamesTheContent(t *testing.T) {
	t.Parallel()
	first := wisim.SampleFiling("EID", 1, "350200")
	e := newEnv(t, withSeed(func(s *wisim.Server) { s.AddFiling(first) }))
	if r := e.runJob(JobFilings); r.Diagnostics.HasError() {
		t.Fatalf("first run: %s", r.Diagnostics)
	}
	changed := wisim.SampleFiling("EID", 1, "350200")
	changed["aae031"] = "2027-06-30" // extended, in the same second
	e.sim.AddFiling(changed)
	if r := e.runJob(JobFilings); r.Diagnostics.HasError() {
		t.Fatalf("second run: %s", r.Diagnostics)
	}
	byID := map[string]string{}
	n := 0
	for _, ev := range e.events("workinjury.filing.downloaded") {
		var p struct {
			Record map[string]any `json:"record"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatal(err)
		}
		n++
		end := str(p.Record, "aae031")
		if prev, ok := byID[ev.ID]; ok && prev != end {
			t.Fatalf("event id %s was published with aae031 %s and then %s: a changed record under the id of its earlier version", ev.ID, prev, end)
		}
		byID[ev.ID] = end
	}
	if n != 2 || len(byID) != 2 {
		t.Fatalf("%d events under %d ids, want 2 versions under 2 ids", n, len(byID))
	}
}
