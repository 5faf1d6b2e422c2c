package e2e

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestWorkInjuryLateUploadKeepsGoing: an admission uploaded 40 minutes
// after the business event (past the 30-minute deadline) while the
// national system answers HTTP 503 three times is retried with backoff
// until accepted, not dropped to the DLQ, flagged late with an event
// (workinjury.upload.late), and booked once. (A longer outage of a late
// upload still ends in the DLQ after the host's one-call window, its
// attempt cap and its circuit breaker; see the pipeline.)
func TestWorkInjuryLateUploadKeepsGoing(t *testing.T) {
	t.Parallel()
	e := startHIS(t)
	const akb020 = "H35020300123"
	p := e.newPatient(hisSite, "LATE", 13, akb020, "1", "1")
	admitted := time.Now().Add(-40 * time.Minute).Truncate(time.Second)
	e.sim.Inject(wisim.Fault{Code: "GYU101", Kind: wisim.Fault5xx, Times: 3})
	req := e.hl7(e.id("late-admit"), "GYU101", admitHL7(p, admitted))
	req.OccurredAt = admitted.Format(time.RFC3339)
	r := e.one(p.inpatientNo, req)
	ykc700, _ := expect(t, r, "ok")["ykc700"].(string)
	if r.Attempts < 4 {
		t.Errorf("attempts %d, want at least 4 (three 503s, then the upload)", r.Attempts)
	}
	if adm := e.sim.Admissions(akb020, p.inpatientNo); len(adm) != 1 || adm[0].VisitNo != ykc700 {
		t.Fatalf("national admissions %+v, want exactly one, %s", adm, ykc700)
	}
	late := false
	evs, _ := harness.ReadTopic(e.cfg.Brokers, e.cfg.Topics().Events, 0, 10*time.Second)
	for _, m := range evs {
		var ev struct {
			Type string `json:"type"`
		}
		late = late || (json.Unmarshal(m.Value, &ev) == nil && ev.Type == "workinjury.upload.late" && bytes.Contains(m.Value, []byte(req.ID)))
	}
	if !late {
		t.Error("no workinjury.upload.late event for the late upload")
	}
	dlq, _ := harness.ReadTopic(e.cfg.Brokers, e.cfg.Topics().DLQ, 0, 10*time.Second)
	for _, m := range dlq {
		if bytes.Contains(m.Value, []byte(req.ID)) {
			t.Fatalf("the late upload went to the DLQ: %.400s", m.Value)
		}
	}
}
