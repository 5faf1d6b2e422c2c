package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// keptLines returns the keys of the fee lines kept for visit mdtrt.
func keptLines(t *testing.T, h *sdktest.MemoryHost, mdtrt string) []string {
	t.Helper()
	es, err := h.Scan(context.Background(), testSite, "partlines/"+mdtrt+"/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	return keys
}

// runJob runs a scheduled job of the plugin for the test site.
func (e *env) runJob(name string) (*sdk.RunJobResponse, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return e.plugin.RunJob(ctx, &sdk.RunJobRequest{Site: testSite, Job: name, Now: time.Now(), TraceID: "job-trace"})
}

// noChunkDeleteHost fails every delete of kept fee lines, like a process
// dying after the set's outcome was stored and before its lines were
// deleted.
type noChunkDeleteHost struct {
	*sdktest.MemoryHost
}

func (h *noChunkDeleteHost) Delete(ctx context.Context, site, key string) error {
	if strings.HasPrefix(key, "partlines/") {
		return errCrash
	}
	return h.MemoryHost.Delete(ctx, site, key)
}

// TestPartsExpireJob: the parts-expire job removes the kept lines of a
// set left unfinished past partsKeep (no later message of the visit
// needed) and of a set whose outcome was stored but whose lines a crash
// left behind; a set still within partsKeep is kept; a dropped set is
// told in the job's reply and by import-pending; a second run, as by
// another instance, finds nothing to do.
func TestPartsExpireJob(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	e := newEnv(t, func(s map[string]string) { s["partsKeep"] = "2h" })
	clock := New(WithPauseMargin(0), WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	e.restartWith(clock, e.host)

	// ZYPX: abandoned after part 2 of 3. ZYPY: whole and uploaded, its
	// lines left by a crash. ZYPZ: part 1 of 2 kept an hour later, still
	// within partsKeep when the job runs.
	abandoned, _ := stayInParts("ZYPX", "SX", 30, 3)
	for i, p := range abandoned[:2] {
		wantStatus(t, e.must(OpUpload, fmt.Sprintf("px-%d", i+1), p, 1), sdk.StatusOK)
	}
	e.restartWith(clock, &noChunkDeleteHost{e.host})
	whole, total := stayInParts("ZYPY", "SY", 20, 2)
	for i, p := range whole {
		wantStatus(t, e.must(OpUpload, fmt.Sprintf("py-%d", i+1), p, 1), sdk.StatusOK)
	}
	wantLedger(t, e.sim, "ZYPY", 20, total)
	if len(keptLines(t, e.host, "ZYPY")) == 0 {
		t.Fatal("the test's crash left no lines behind")
	}
	e.restartWith(clock, e.host)
	skew.Store(int64(time.Hour))
	recent, _ := stayInParts("ZYPZ", "SZ", 10, 2)
	wantStatus(t, e.must(OpUpload, "pz-1", recent[0], 1), sdk.StatusOK)

	skew.Store(int64(2*time.Hour + time.Minute))
	r, err := e.runJob("parts-expire")
	if err != nil {
		t.Fatalf("parts-expire: %v", err)
	}
	for _, tc := range []struct {
		visit string
		kept  bool
	}{{"ZYPX", false}, {"ZYPY", false}, {"ZYPZ", true}} {
		if got := len(keptLines(t, e.host, tc.visit)) > 0; got != tc.kept {
			t.Errorf("visit %s: lines kept %v after the job, want %v", tc.visit, got, tc.kept)
		}
	}
	if !strings.Contains(r.Summary, "ZYPX") || !strings.Contains(r.Summary, "SX") || strings.Contains(r.Summary, "ZYPZ") {
		t.Errorf("the job's summary does not name what it dropped: %q", r.Summary)
	}
	if !strings.Contains(r.Diagnostics.String(), "ZYPX") {
		t.Errorf("the job's diagnostics do not tell the office of set SX of ZYPX: %v", r.Diagnostics)
	}
	csv := "医药机构就诊ID,姓名,身份证号,入院时间\nZYPX,张三," + testCert + ",2025-03-25\n"
	rep := e.must(OpImportPending, "px-pending", map[string]any{"filename": "p.csv", "content": b64(csv)}, 1)
	if s := string(rep.Payload); !strings.Contains(s, "set SX") || !strings.Contains(s, "dropped") {
		t.Errorf("import-pending does not tell of the dropped set: %s", s)
	}
	// A part of the dropped set is refused, saying why.
	late := e.must(OpUpload, "px-3", abandoned[2], 1)
	wantStatus(t, late, sdk.StatusInvalid)
	if !strings.Contains(late.Diagnostics.String(), "dropped") {
		t.Errorf("a part of the dropped set: %v", late.Diagnostics)
	}
	again, err := e.runJob("parts-expire")
	if err != nil {
		t.Fatalf("parts-expire again: %v", err)
	}
	if again.Processed != 0 || strings.Contains(again.Summary, "ZYPX") {
		t.Errorf("a second run did work again: %d, %q", again.Processed, again.Summary)
	}
	// The recent set lapses in turn and goes at the next run.
	skew.Store(int64(3*time.Hour + 2*time.Minute))
	if _, err := e.runJob("parts-expire"); err != nil {
		t.Fatal(err)
	}
	if keys := keptLines(t, e.host, "ZYPZ"); len(keys) > 0 {
		t.Errorf("lines of the lapsed set SZ left: %v", keys)
	}
}

// TestPartsExpireJobTwoInstances: two instances run the job at once over
// the same state: every lapsed set is dropped once (one record of it),
// its lines gone, and neither run fails.
func TestPartsExpireJobTwoInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["partsKeep"] = "1h" })
	visits := []string{"ZYQA", "ZYQB", "ZYQC", "ZYQD"}
	for _, v := range visits {
		parts, _ := stayInParts(v, "S", 12, 2)
		wantStatus(t, e.must(OpUpload, v+"-1", parts[0], 1), sdk.StatusOK)
	}
	later := func() time.Time { return time.Now().Add(time.Hour + time.Minute) }
	var plugins []sdk.Plugin
	for range 2 {
		p := sdktest.Connect(t, New(WithPauseMargin(0), WithClock(later)), e.host)
		if r, err := p.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings}); err != nil || r.Diagnostics.HasError() {
			t.Fatalf("configure: %v %v", err, r)
		}
		plugins = append(plugins, p)
	}
	errs := make(chan error, len(plugins))
	for _, p := range plugins {
		go func() {
			_, err := p.RunJob(context.Background(), &sdk.RunJobRequest{Site: testSite, Job: JobPartsExpire, Now: later()})
			errs <- err
		}()
	}
	for range plugins {
		if err := <-errs; err != nil {
			t.Errorf("a run failed: %v", err)
		}
	}
	for _, v := range visits {
		if keys := keptLines(t, e.host, v); len(keys) > 0 {
			t.Errorf("visit %s: lines left %v", v, keys)
		}
		en, err := e.host.Get(context.Background(), testSite, partsKey(v))
		if err != nil {
			t.Fatal(err)
		}
		var st partsState
		if err := json.Unmarshal(en.Value, &st); err != nil {
			t.Fatal(err)
		}
		if st.Set != "" || len(st.Dropped) != 1 {
			t.Errorf("visit %s: set %q, dropped %v; want it dropped once", v, st.Set, st.Dropped)
		}
	}
	if es, _ := e.host.Scan(context.Background(), testSite, partsIndexPrefix, 0); len(es) > 0 {
		t.Errorf("entries left under %s: %d", partsIndexPrefix, len(es))
	}
}

// TestPartsExpireJobLeftovers: what a crash or a failed delete leaves of a
// set of parts is removed by the job once partsKeep is past, and a set
// lapsed is dropped once, with its record telling so.
func TestPartsExpireJobLeftovers(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		// make leaves visit's state as the case has it, within partsKeep.
		make func(t *testing.T, e *env, visit string)
		// dropped are the sets the visit's record must list as dropped.
		dropped []string
	}{
		"record written without its entry": {
			// The set's entry is written, its record's write with the
			// entry's key lost (a set begun before the entries existed).
			make: func(t *testing.T, e *env, visit string) {
				parts, _ := stayInParts(visit, "S1", 12, 2)
				wantStatus(t, e.must(OpUpload, visit+"-1", parts[0], 1), sdk.StatusOK)
				en, err := e.host.Get(context.Background(), testSite, partsKey(visit))
				if err != nil {
					t.Fatal(err)
				}
				var st partsState
				if err := json.Unmarshal(en.Value, &st); err != nil {
					t.Fatal(err)
				}
				st.Index = ""
				b, _ := json.Marshal(st)
				if _, err := e.host.Put(context.Background(), testSite, partsKey(visit), b); err != nil {
					t.Fatal(err)
				}
			},
			dropped: []string{"S1"},
		},
		"set replaced, its lines left": {
			make: func(t *testing.T, e *env, visit string) {
				first, _ := stayInParts(visit, "S1", 12, 2)
				wantStatus(t, e.must(OpUpload, visit+"-1", first[0], 1), sdk.StatusOK)
				e.restart(&noChunkDeleteHost{e.host})
				second, _ := stayInParts(visit, "S2", 12, 2)
				wantStatus(t, e.must(OpUpload, visit+"-2", second[0], 1), sdk.StatusOK)
				e.restart(e.host)
			},
			dropped: []string{"S1", "S2"},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const visit = "ZYPL"
			e := newEnv(t, func(s map[string]string) { s["partsKeep"] = "1h" })
			tc.make(t, e, visit)
			if len(keptLines(t, e.host, visit)) == 0 {
				t.Fatal("the case keeps no lines")
			}
			e.restartWith(New(WithPauseMargin(0), WithClock(func() time.Time { return time.Now().Add(time.Hour + time.Minute) })), e.host)
			for run := range 2 {
				if _, err := e.runJob(JobPartsExpire); err != nil {
					t.Fatalf("run %d: %v", run+1, err)
				}
			}
			if keys := keptLines(t, e.host, visit); len(keys) > 0 {
				t.Errorf("lines left: %v", keys)
			}
			if es, _ := e.host.Scan(context.Background(), testSite, partsIndexPrefix, 0); len(es) > 0 {
				t.Errorf("entries left under %s: %d", partsIndexPrefix, len(es))
			}
			en, err := e.host.Get(context.Background(), testSite, partsKey(visit))
			if err != nil {
				t.Fatal(err)
			}
			var st partsState
			if err := json.Unmarshal(en.Value, &st); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range st.Dropped {
				got = append(got, d.Set)
			}
			if st.Set != "" || strings.Join(got, ",") != strings.Join(tc.dropped, ",") {
				t.Errorf("record: set %q, dropped %v; want dropped %v", st.Set, got, tc.dropped)
			}
		})
	}
}
