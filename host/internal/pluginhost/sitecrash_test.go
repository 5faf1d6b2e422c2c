package pluginhost

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// msg is one message of a site in a crash step.
type msg struct{ site, id string }

// crashStep is one crash of the plugin process: the messages in with are
// in the plugin (blocked) when crasher's call kills it, so the crash
// takes them with it, as it takes the messages of every site the
// pipeline has in the plugin at that moment.
type crashStep struct {
	crasher msg
	with    []msg
	// answered: crasher's message is one the plugin answers (payload
	// "ok"), with nothing in company.
	answered bool
}

// TestMessageCrashesIsolateSite: a site whose every message kills the
// plugin process (a setting of the site the adapter trips on) must not
// keep the plugin down for its other sites. The pipeline stops one
// message that keeps crashing the plugin (processing.pluginCrashLimit:
// after a crash in company it is retried alone), but the site's next
// message crashes it again, and with it every message of every site in
// the plugin then. Crashes are attributed to the sites whose messages
// were in flight; a site is isolated once Options.SiteCrashLimit of its
// messages each died with the process again, in a run of crashes that all
// had a message of the site in flight, within Options.SiteCrashWindow.
// A site that shared crashes, one message that crashes the plugin, and
// two sites whose crashes alternate are never isolated.
func TestMessageCrashesIsolateSite(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/picky")
	// poisonSite is the pipeline's traffic of a site whose messages all
	// crash the plugin: each message crashes it in company, then twice
	// alone (retried alone by the pipeline).
	poisonSite := func(site string, ids ...string) []crashStep {
		var steps []crashStep
		for i, id := range ids {
			company := []msg{{"good1", "g" + id}, {"good2", "h" + id}}[i%2]
			steps = append(steps, crashStep{crasher: msg{site, id}, with: []msg{company}}, crashStep{crasher: msg{site, id}}, crashStep{crasher: msg{site, id}})
		}
		return steps
	}
	cases := map[string]struct {
		limit     int           // Options.SiteCrashLimit (0: the default)
		stepEvery time.Duration // how far the clock moves after each crash
		steps     []crashStep
		isolated  []string
	}{
		"a site whose every message crashes the plugin": {
			steps:    poisonSite("bad", "m1", "m2", "m3"),
			isolated: []string{"bad"},
		},
		"one message that crashes the plugin, in company of its own site's": {
			steps: []crashStep{
				{crasher: msg{"bad", "m1"}, with: []msg{{"good1", "g1"}, {"bad", "m7"}}},
				{crasher: msg{"bad", "m1"}}, {crasher: msg{"bad", "m1"}}, {crasher: msg{"bad", "m1"}},
			},
		},
		"three of the site's messages crash it again, one in company of theirs is still to be tried alone": {
			steps: slices.Concat([]crashStep{{crasher: msg{"bad", "m0"}, with: []msg{{"bad", "m9"}}}, {crasher: msg{"bad", "m0"}}},
				poisonSite("bad", "m1", "m2")),
		},
		"two sites whose crashes alternate": {
			steps: slices.Concat(poisonSite("bad", "m1"), poisonSite("bad2", "n1"), poisonSite("bad", "m2"), poisonSite("bad2", "n2"), poisonSite("bad", "m3")),
		},
		"a site some of whose messages crash the plugin, others answered": {
			steps: slices.Concat(poisonSite("bad", "m1"), []crashStep{{crasher: msg{"bad", "ok1"}, answered: true}},
				poisonSite("bad", "m2"), []crashStep{{crasher: msg{"bad", "ok2"}, answered: true}}, poisonSite("bad", "m3"), poisonSite("bad", "m4")),
		},
		"crashes further apart than the window": {
			stepEvery: 4 * time.Minute, // 10m: the crashes of one message and a half
			steps:     poisonSite("bad", "m1", "m2", "m3", "m4"),
		},
		"never, by the option": {
			limit: -1,
			steps: poisonSite("bad", "m1", "m2", "m3"),
		},
		"after two messages, by the option": {
			limit:    2,
			steps:    poisonSite("bad", "m1", "m2"),
			isolated: []string{"bad"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			var health healthLog
			var clockMu sync.Mutex
			clock := time.Now()
			in, err := Start(t.Context(), Spec{Name: "picky", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), HealthInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
				CallTimeout: 5 * time.Second, OnHealth: health.note, SiteCrashLimit: tc.limit,
				now: func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			for site, settings := range map[string]map[string]string{"good1": {}, "good2": {}, "bad": {"crashHandle": "1"}, "bad2": {"crashHandle": "1"}} {
				if diags, err := in.Configure(t.Context(), site, settings); err != nil || diags.HasError() {
					t.Fatalf("configure %s: %v %v", site, err, diags)
				}
			}
			crashes := 0
			for i, st := range tc.steps {
				if in.Isolated()[st.crasher.site] != nil {
					continue // the pipeline's calls of an isolated site fail before the plugin
				}
				pid := in.Pid()
				if st.answered {
					r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: st.crasher.site, Type: "picky.echo", MessageID: st.crasher.id, Attempt: 1, Payload: []byte("ok")})
					if err != nil || r.Status != sdk.StatusOK {
						t.Fatalf("step %d (%v): %v %+v, want ok", i, st, err, r)
					}
					continue
				}
				if crashStepRun(t, in, st) {
					crashes++
					waitRelaunched(t, in, pid)
				} else if in.Isolated()[st.crasher.site] == nil {
					t.Fatalf("step %d (%v): the plugin did not crash, and site %s is not isolated", i, st, st.crasher.site)
				}
				clockMu.Lock()
				clock = clock.Add(tc.stepEvery)
				clockMu.Unlock()
			}
			got := slices.Sorted(maps.Keys(in.Isolated()))
			if !slices.Equal(got, tc.isolated) {
				t.Fatalf("after %d crashes, isolated sites %v, want %v\n%s", crashes, got, tc.isolated, logs.String())
			}
			if len(tc.isolated) == 0 {
				return
			}
			// The isolated site's messages fail retryably without reaching
			// the plugin; the other sites are served by the same process.
			pid := in.Pid()
			_, err = in.Handle(t.Context(), &sdk.HandleRequest{Site: "bad", Type: "picky.echo", MessageID: "m9", Attempt: 1})
			if !errors.Is(err, ErrSiteIsolated) || !strings.Contains(err.Error(), `site "bad"`) || !strings.Contains(err.Error(), "messages") || !strings.Contains(err.Error(), "reload") {
				t.Errorf("a message of the isolated site: err = %v, want ErrSiteIsolated naming the site, its messages' crashes and the reload that configures it again", err)
			}
			for _, site := range []string{"good1", "good2"} {
				if r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: "picky.echo", MessageID: "ok-" + site, Attempt: 1}); err != nil || r.Status != sdk.StatusOK {
					t.Errorf("site %s: %v %+v, want ok", site, err, r)
				}
			}
			if in.Pid() != pid {
				t.Errorf("the plugin process changed (%d → %d): a call of the isolated site reached it", pid, in.Pid())
			}
			if running, _, lastErr := in.Status(); !running || lastErr == nil || !strings.Contains(lastErr.Error(), `site "bad"`) {
				t.Errorf("status: running %v, last error %v; want running, naming the isolated site", running, lastErr)
			}
			if h := health.all(); len(h) == 0 || h[len(h)-1] {
				t.Errorf("health reported %v; want down last (running without a site)", h)
			}
			if !strings.Contains(logs.String(), "ALERT") || !strings.Contains(logs.String(), "site=bad") {
				t.Errorf("no ALERT naming the isolated site in the log:\n%s", logs.String())
			}
			// A reload configures the site again: isolation ends, and it
			// takes as many messages again to isolate it anew.
			if diags, err := in.Configure(t.Context(), "bad", map[string]string{"crashHandle": "1"}); err != nil || diags.HasError() {
				t.Fatalf("reload: %v %v", err, diags)
			}
			if len(in.Isolated()) != 0 {
				t.Fatalf("after a reload configured the site, isolated %v, want none", in.Isolated())
			}
			pid = in.Pid()
			if !crashStepRun(t, in, crashStep{crasher: msg{"bad", "m1"}}) {
				t.Fatal("the reloaded site's message did not reach the plugin")
			}
			waitRelaunched(t, in, pid)
			if len(in.Isolated()) != 0 {
				t.Errorf("one crash after the reload isolated %v: the crashes before the isolation still counted", in.Isolated())
			}
		})
	}
}

// crashStepRun runs st: it puts st.with in the plugin (each blocks), then
// sends st.crasher. It reports whether the crasher's call died with the
// process (a *CrashError), and checks that st.with's calls did too.
func crashStepRun(t *testing.T, in *Instance, st crashStep) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	errs := make([]error, len(st.with))
	var wg sync.WaitGroup
	for i, m := range st.with {
		wg.Go(func() {
			_, errs[i] = in.Handle(ctx, &sdk.HandleRequest{Site: m.site, Type: "picky.echo", MessageID: m.id, Attempt: 1, Payload: []byte("block")})
		})
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		in.mu.RLock()
		n := in.calls
		in.mu.RUnlock()
		if n == len(st.with) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d blocking calls in the plugin after 10s", n, len(st.with))
		}
		time.Sleep(time.Millisecond) // polling the calls in flight
	}
	_, err := in.Handle(ctx, &sdk.HandleRequest{Site: st.crasher.site, Type: "picky.echo", MessageID: st.crasher.id, Attempt: 1})
	var crash *CrashError
	crashed := errors.As(err, &crash)
	if !crashed {
		cancel()
	}
	wg.Wait()
	for i, err := range errs {
		if crashed && !errors.As(err, &crash) {
			t.Errorf("message %v in the plugin when it died: err %v, want a CrashError", st.with[i], err)
		}
	}
	return crashed
}

// waitRelaunched polls until the plugin runs in a process other than pid.
func waitRelaunched(t *testing.T, in *Instance, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if running, _, _ := in.Status(); running && in.Pid() != pid && in.Pid() != 0 {
			return
		}
		if time.Now().After(deadline) {
			_, _, lastErr := in.Status()
			t.Fatalf("the plugin was not relaunched within 30s (last error: %v)", lastErr)
		}
		time.Sleep(5 * time.Millisecond) // polling the supervisor
	}
}
