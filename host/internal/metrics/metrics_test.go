package metrics

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/logging"
)

func noPending(context.Context) (time.Time, bool, error) { return time.Time{}, false, nil }

// series gathers the registry: metric name → label values → value
// (counter value, or histogram sample count).
func series(t *testing.T, m *Metrics) map[string]map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		byLabels := map[string]float64{}
		for _, s := range mf.GetMetric() {
			key := ""
			for _, l := range s.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + ","
			}
			switch {
			case s.GetCounter() != nil:
				byLabels[key] = s.GetCounter().GetValue()
			case s.GetHistogram() != nil:
				byLabels[key] = float64(s.GetHistogram().GetSampleCount())
			default:
				byLabels[key] = 0
			}
		}
		out[mf.GetName()] = byLabels
	}
	return out
}

// TestMadeUpTypesDoNotGrowMetrics: thousands of invented types and
// statuses add no series; declared types keep their own.
func TestMadeUpTypesDoNotGrowMetrics(t *testing.T) {
	t.Parallel()
	m := New(noPending, time.Now)
	m.SetTypes([]string{"ecard.register", "workinjury.GYU101"})
	m.Finished("ecard.register", "ok", time.Millisecond)
	m.Finished("workinjury.GYU101", "rejected", time.Millisecond)
	for i := range 3000 {
		m.Finished(fmt.Sprintf("ecard.made-up-%d", i), "ok", time.Millisecond)
		m.DeadLettered(fmt.Sprintf("x.%d", i), fmt.Sprintf("status-%d", i))
	}
	m.SetTypes([]string{"ecard.register"}) // a reload drops a type
	m.Finished("workinjury.GYU101", "ok", time.Millisecond)

	got := series(t, m)
	want := map[string]map[string]float64{
		"medgate_messages_total": {
			"status=ok,type=ecard.register,":          1,
			"status=rejected,type=workinjury.GYU101,": 1,
			"status=ok,type=undeclared,":              3001,
		},
		"medgate_message_duration_seconds": {
			"type=ecard.register,":    1,
			"type=workinjury.GYU101,": 1,
			"type=undeclared,":        3001,
		},
		"medgate_dlq_total": {"status=other,type=undeclared,": 3000},
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Errorf("%s has %d series, want %d: %v", name, len(g), len(w), g)
			continue
		}
		for k, v := range w {
			if g[k] != v {
				t.Errorf("%s{%s} = %v, want %v", name, k, g[k], v)
			}
		}
	}
}

func TestNothingDeclaredCollapsesEverything(t *testing.T) {
	t.Parallel()
	m := New(noPending, time.Now)
	m.Finished("ledger.record", "ok", time.Millisecond)
	if got := series(t, m)["medgate_messages_total"]; got["status=ok,type=undeclared,"] != 1 || len(got) != 1 {
		t.Errorf("before SetTypes: %v, want one undeclared series", got)
	}
}

// TestJobNeverSucceededLooksStalled: a job that has not succeeded since
// start reports the start time, so the stalled alert sees its age; a
// success moves it; a later WatchJobs (a reload) keeps the success.
func TestJobNeverSucceededLooksStalled(t *testing.T) {
	t.Parallel()
	m := New(noPending, time.Now)
	start := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	gauge := func(id string) float64 {
		t.Helper()
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "medgate_job_last_success_timestamp_seconds" {
				continue
			}
			for _, s := range mf.GetMetric() {
				if s.GetLabel()[0].GetValue() == id {
					return s.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no last-success series for job %s: the stalled alert could never fire for it", id)
		return 0
	}
	m.WatchJobs(map[string]time.Duration{"s1/workinjury/GYD101": 30 * time.Minute, "s1/workinjury/GYD102": 30 * time.Minute}, start)
	if got, want := gauge("s1/workinjury/GYD101"), float64(start.Unix()); got != want {
		t.Fatalf("never-succeeded job reports %v, want the start time %v", got, want)
	}
	ok := start.Add(45 * time.Minute)
	m.JobSucceeded("s1/workinjury/GYD102", ok)
	m.WatchJobs(map[string]time.Duration{"s1/workinjury/GYD101": 30 * time.Minute, "s1/workinjury/GYD102": 30 * time.Minute, "s1/workinjury/GYD103": 30 * time.Minute}, start.Add(time.Hour))
	for id, want := range map[string]time.Time{
		"s1/workinjury/GYD101": start,
		"s1/workinjury/GYD102": ok,
		"s1/workinjury/GYD103": start.Add(time.Hour),
	} {
		if got := gauge(id); got != float64(want.Unix()) {
			t.Errorf("job %s reports %v, want %v", id, got, float64(want.Unix()))
		}
	}
}

// TestWriteRefused: each refused plugin write is counted by plugin and
// limit.
func TestWriteRefused(t *testing.T) {
	t.Parallel()
	m := New(noPending, time.Now)
	for range 3 {
		m.WriteRefused("ledger", "publishPerSecond")
	}
	m.WriteRefused("ledger", "stateValueBytes")
	got := series(t, m)["medgate_plugin_writes_refused_total"]
	want := map[string]float64{"limit=publishPerSecond,plugin=ledger,": 3, "limit=stateValueBytes,plugin=ledger,": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("medgate_plugin_writes_refused_total = %v, want %v", got, want)
	}
}

// TestOffsetReset: each request partition read again from its oldest
// record is counted by topic, partition and reason: its committed offset
// outside the log (out_of_range) or lost (offsets_lost, a group without
// offsets for a partition consumed before).
func TestOffsetReset(t *testing.T) {
	t.Parallel()
	m := New(noPending, time.Now)
	m.OffsetReset("medgate.requests", 3, "out_of_range")
	m.OffsetReset("medgate.requests", 3, "out_of_range")
	m.OffsetReset("medgate.requests", 0, "out_of_range")
	m.OffsetReset("medgate.requests", 3, "offsets_lost")
	got := series(t, m)["medgate_kafka_offset_resets_total"]
	want := map[string]float64{
		"partition=0,reason=out_of_range,topic=medgate.requests,": 1,
		"partition=3,reason=offsets_lost,topic=medgate.requests,": 1,
		"partition=3,reason=out_of_range,topic=medgate.requests,": 2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("medgate_kafka_offset_resets_total = %v, want %v", got, want)
	}
}

// TestReleaseCut: the messages a partition's release grace cut off
// (bus.Config.OnReleaseCut) are counted by topic, each report adding its
// count, so MedgateReleaseGraceCut sees calls cut off mid-flight.
func TestReleaseCut(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		reports []int
		want    float64
	}{
		"one call cut":              {[]int{1}, 1},
		"two releases, three calls": {[]int{1, 2}, 3},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := New(noPending, time.Now)
			for i, n := range tc.reports {
				m.ReleaseCut("medgate.requests", int32(i), n)
			}
			got := series(t, m)["medgate_kafka_release_cut_total"]
			want := map[string]float64{"topic=medgate.requests,": tc.want}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("medgate_kafka_release_cut_total = %v, want %v", got, want)
			}
		})
	}
}

// TestJobIntervalExported: each scheduled job's interval is a series of
// medgate_job_interval_seconds (the stalled-job alert compares with it); a
// reload changes it, and a job a reload dropped loses its series, so the
// alert does not fire for it.
func TestJobIntervalExported(t *testing.T) {
	t.Parallel()
	m := New(noPending, time.Now)
	intervals := func() map[string]float64 {
		t.Helper()
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "medgate_job_interval_seconds" {
				continue
			}
			for _, s := range mf.GetMetric() {
				got[s.GetLabel()[0].GetValue()] = s.GetGauge().GetValue()
			}
		}
		return got
	}
	start := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	steps := []struct {
		jobs map[string]time.Duration
		want map[string]float64
	}{
		{
			jobs: map[string]time.Duration{"workinjury/s1/download": 30 * time.Minute, "medgate/all/prune": time.Hour, "medgate/all/requeue": time.Minute},
			want: map[string]float64{"workinjury/s1/download": 1800, "medgate/all/prune": 3600, "medgate/all/requeue": 60},
		},
		{ // a reload: the download every 10 minutes, prune dropped
			jobs: map[string]time.Duration{"workinjury/s1/download": 10 * time.Minute, "medgate/all/requeue": time.Minute},
			want: map[string]float64{"workinjury/s1/download": 600, "medgate/all/requeue": 60},
		},
		{jobs: nil, want: map[string]float64{}},
	}
	for i, step := range steps {
		m.WatchJobs(step.jobs, start)
		if got := intervals(); !maps.Equal(got, step.want) {
			t.Errorf("after WatchJobs %d, medgate_job_interval_seconds = %v, want %v", i+1, got, step.want)
		}
	}
}

// TestJobDroppedLosesLastSuccess: a job a reload dropped loses its
// last-success series with its interval (a dashboard does not show a job
// that no longer runs, and a run of it that ends after the reload does
// not bring the series back); a reload scheduling it again gives it the
// time of that reload, like any new job, so the stalled alert does not
// fire at once on the success of long ago. The series used to stay at its
// last value, and a job added again kept it.
func TestJobDroppedLosesLastSuccess(t *testing.T) {
	t.Parallel()
	m := New(noPending, time.Now)
	lastSuccess := func() map[string]float64 {
		t.Helper()
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "medgate_job_last_success_timestamp_seconds" {
				continue
			}
			for _, s := range mf.GetMetric() {
				got[s.GetLabel()[0].GetValue()] = s.GetGauge().GetValue()
			}
		}
		return got
	}
	start := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) float64 { return float64(start.Add(d).Unix()) }
	both := map[string]time.Duration{"workinjury/s1/download": 30 * time.Minute, "medgate/all/prune": time.Hour}
	onlyPrune := map[string]time.Duration{"medgate/all/prune": time.Hour}
	steps := []struct {
		name    string
		jobs    map[string]time.Duration // WatchJobs at start+since, when set
		since   time.Duration
		success map[string]time.Duration // then JobSucceeded at start+d
		want    map[string]float64
	}{
		{name: "start", jobs: both, success: map[string]time.Duration{"workinjury/s1/download": 10 * time.Minute},
			want: map[string]float64{"workinjury/s1/download": at(10 * time.Minute), "medgate/all/prune": at(0)}},
		{name: "download dropped", jobs: onlyPrune, since: time.Hour,
			want: map[string]float64{"medgate/all/prune": at(0)}},
		{name: "a run of the dropped job ends", success: map[string]time.Duration{"workinjury/s1/download": 61 * time.Minute},
			want: map[string]float64{"medgate/all/prune": at(0)}},
		{name: "download scheduled again", jobs: both, since: 48 * time.Hour,
			want: map[string]float64{"workinjury/s1/download": at(48 * time.Hour), "medgate/all/prune": at(0)}},
	}
	for _, step := range steps {
		if step.jobs != nil {
			m.WatchJobs(step.jobs, start.Add(step.since))
		}
		for id, d := range step.success {
			m.JobSucceeded(id, start.Add(d))
		}
		if got := lastSuccess(); !maps.Equal(got, step.want) {
			t.Errorf("%s: medgate_job_last_success_timestamp_seconds = %v, want %v", step.name, got, step.want)
		}
	}
}

// gauges gathers the registry's gauges without labels: name → value.
func gauges(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			if g := s.GetGauge(); g != nil && len(s.GetLabel()) == 0 {
				out[mf.GetName()] = g.GetValue()
			}
		}
	}
	return out
}

// TestOldestPendingDuringStoreOutage: while the store does not answer,
// medgate_oldest_pending_seconds goes on growing from the oldest pending
// message last seen (none can finish without the store), rather than
// reading 0 and silencing the 30-minute alerts when they matter most,
// and medgate_store_up is 0 (MedgateStoreUnavailable); once the store
// answers again both are current.
func TestOldestPendingDuringStoreOutage(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	type scrape struct {
		at      time.Duration // since t0
		oldest  time.Duration // the store's answer: its oldest pending, since t0; -1 none
		down    bool          // the store fails
		wantAge float64
		wantUp  float64
	}
	cases := map[string][]scrape{
		"outage with a message pending": {
			{at: 5 * time.Minute, oldest: 0, wantAge: 300, wantUp: 1},
			{at: 10 * time.Minute, down: true, wantAge: 600, wantUp: 0},
			{at: 25 * time.Minute, down: true, wantAge: 1500, wantUp: 0},
			{at: 26 * time.Minute, oldest: -1, wantAge: 0, wantUp: 1},
		},
		"outage with nothing pending": {
			{at: time.Minute, oldest: -1, wantAge: 0, wantUp: 1},
			{at: 2 * time.Minute, down: true, wantAge: 0, wantUp: 0},
		},
		"outage since the start": {
			{at: time.Minute, down: true, wantAge: 0, wantUp: 0},
		},
	}
	for name, scrapes := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var cur scrape
			oldest := func(context.Context) (time.Time, bool, error) {
				switch {
				case cur.down:
					return time.Time{}, false, fmt.Errorf("the store (PostgreSQL): connection refused")
				case cur.oldest < 0:
					return time.Time{}, false, nil
				}
				return t0.Add(cur.oldest), true, nil
			}
			m := New(oldest, func() time.Time { return t0.Add(cur.at) })
			for _, s := range scrapes {
				cur = s
				g := gauges(t, m)
				if g["medgate_oldest_pending_seconds"] != s.wantAge || g["medgate_store_up"] != s.wantUp {
					t.Errorf("at %v (store down %v): medgate_oldest_pending_seconds %v, medgate_store_up %v; want %v, %v",
						s.at, s.down, g["medgate_oldest_pending_seconds"], g["medgate_store_up"], s.wantAge, s.wantUp)
				}
			}
		})
	}
}

// TestPluginAlertsCounted: the plugin's log lines the host re-logs
// (pluginhost.Options.PluginLogs) pass through PluginAlerts, which counts
// each ERROR whose message starts "ALERT" in
// medgate_plugin_alerts_total{plugin}, so a condition a plugin raises as
// an ALERT (an upload past its deadline, a QR key removed while its codes
// are valid) reaches Prometheus without the plugin knowing of metrics;
// every line still reaches the log.
func TestPluginAlertsCounted(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		log  func(l *slog.Logger)
		want float64
	}{
		"no line": {func(*slog.Logger) {}, 0},
		"an ALERT": {func(l *slog.Logger) {
			l.Error("ALERT: upload past its 30-minute deadline; still retrying", "site", "xm01")
		}, 1},
		"two, with attributes first": {func(l *slog.Logger) {
			l = l.With("site", "xm01").WithGroup("g")
			l.Error("ALERT: a")
			l.Error("ALERT: b")
		}, 2},
		"through go-plugin's stderr logger": {func(l *slog.Logger) {
			// go-plugin re-emits a JSON line of the plugin's stderr
			// through the logger named after the binary (logging.Plugin).
			logging.Plugin(l, "workinjury").Named("workinjury").Error("ALERT: download feedback (GYU008) past its 30-minute deadline", "site", "xm01")
		}, 1},
		"an ERROR that is no ALERT": {func(l *slog.Logger) { l.Error("plugin call failed") }, 0},
		"a WARN naming ALERT":       {func(l *slog.Logger) { l.Warn("ALERT: not at error level") }, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := New(noPending, time.Now)
			var buf bytes.Buffer
			tc.log(slog.New(m.PluginAlerts(slog.NewTextHandler(&buf, nil), "workinjury")))
			got := series(t, m)["medgate_plugin_alerts_total"]["plugin=workinjury,"]
			if got != tc.want {
				t.Errorf("medgate_plugin_alerts_total{plugin=workinjury} = %v, want %v", got, tc.want)
			}
			if tc.want > 0 && strings.Count(buf.String(), "ALERT") != int(tc.want) {
				t.Errorf("the log has %q; want every ALERT line in it", buf.String())
			}
		})
	}
}
