package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// logBuffer collects log lines for tests that check what staff are told.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// connectLogged is connect with a logger writing to logs.
func (e *env) connectLogged(logs *logBuffer) {
	e.t.Helper()
	e.impl = New(WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	e.p = connectPlugin(e.t, e.impl, e.host)
	r, err := e.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings})
	if err != nil || r.Diagnostics.HasError() {
		e.t.Fatalf("configure: %v %v", err, r)
	}
}

// TestLostBatchRedownloadRefused: the reply of a download is lost and the
// national system keeps refusing the GYR005 that asks for the batch again
// (a verified business error). The code is held (no new batch while this
// one is unacknowledged) and must not be so silently:
// from the recoverAlertAt-th refusal on, every run logs an ALERT, and one
// workinjury.redownload.refused event names the batch. The request is
// not given up: once the national system hands the batch out, it is
// delivered and acknowledged.
func TestLostBatchRedownloadRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for i := 1; i <= 2; i++ {
			s.AddApplication(wisim.SampleApplication("RF", i, "350200"))
		}
	}))
	crashed := false
	e.impl.hook = func(p string) error {
		if p == "fetch:answered" && !crashed {
			crashed = true
			return errCrash
		}
		return nil
	}
	if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
		t.Fatalf("the crashed run reported no error: %s", r.Summary)
	}
	logs := &logBuffer{}
	e.connectLogged(logs)
	e.sim.Inject(wisim.Fault{Code: "GYR005", Kind: wisim.FaultBusiness, Times: -1, ErrCode: "E2099", ErrMessage: "批次已归档"})
	for run := 1; run <= recoverAlertAt+1; run++ {
		if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
			t.Fatalf("run %d: no error while GYR005 is refused: %s", run, r.Summary)
		}
		alerts, events := logs.count("ALERT"), e.events("workinjury.redownload.refused")
		wantAlerts := max(0, run-recoverAlertAt+1)
		if alerts != wantAlerts || len(events) != min(wantAlerts, 1) {
			t.Fatalf("run %d: %d ALERT lines and %d refused events, want %d and %d", run, alerts, len(events), wantAlerts, min(wantAlerts, 1))
		}
	}
	ev := e.events("workinjury.redownload.refused")[0]
	var p map[string]any
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		t.Fatal(err)
	}
	b := nonEmpty(e.sim.Batches("GYD001"))
	if len(b) != 1 || p["batchNo"] != b[0].No || p["downloadCode"] != "GYD001" || p["refusals"] != float64(recoverAlertAt) {
		t.Fatalf("refused event %v, want batch %v, GYD001, %d refusals", p, b, recoverAlertAt)
	}
	e.sim.ClearFaults()
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("run after the refusals ended: %s", r.Diagnostics)
	}
	if n := len(e.events("workinjury.filing_application.downloaded")); n != 2 {
		t.Fatalf("%d records delivered, want 2", n)
	}
	if b := nonEmpty(e.sim.Batches("GYD001")); b[0].Feedbacks != 1 {
		t.Fatalf("batch %+v not acknowledged", b[0])
	}
}
