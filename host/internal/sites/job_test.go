package sites

import (
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestJobKeepsDeclaredBound: a job a plugin declares is scheduled with
// its interval and with the bound on a run it declares (sdk.Job.MaxRun),
// or none (the scheduler's default) when it declares none.
func TestJobKeepsDeclaredBound(t *testing.T) {
	t.Parallel()
	for _, maxRun := range []time.Duration{10 * time.Minute, 0} {
		j := job(new(pluginhost.Instance), "h1", sdk.Job{Name: "tick", Interval: time.Hour, MaxRun: maxRun}, quiet)
		if j.Site != "h1" || j.Name != "tick" || j.Interval != time.Hour || j.MaxRun != maxRun {
			t.Errorf("job declared with MaxRun %v scheduled as site %q, name %q, interval %v, MaxRun %v; want h1, tick, 1h0m0s, %v", maxRun, j.Site, j.Name, j.Interval, j.MaxRun, maxRun)
		}
	}
}
