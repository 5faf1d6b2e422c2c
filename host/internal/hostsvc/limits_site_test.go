package hostsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// siteStep is a step of a per-site limits case: site makes ok writes,
// each taken, then (refused set) one more, refused by that limit.
type siteStep struct {
	site    string
	ok      int
	refused string // the limit's key; "" : no write past ok
	wait    time.Duration
}

// TestLimitsPerSite: with per-site limits, one site's flood is refused by
// its own bucket and leaves the plugin's tokens to its other sites, while
// the plugin's bucket still bounds all its sites together; a write the
// plugin's bucket refuses takes no token of its site's; without per-site
// limits (the default) the sites share the plugin's bucket, as before.
func TestLimitsPerSite(t *testing.T) {
	t.Parallel()
	plugin := Limits{PublishPerSecond: 10, PublishBurst: 10, JournalPerSecond: 10, JournalBurst: 10, StateValueBytes: 10,
		PerSitePublishPerSecond: NoLimit, PerSitePublishBurst: 1, PerSiteJournalPerSecond: NoLimit, PerSiteJournalBurst: 1,
		StateWritesPerSecond: 10, StateWritesBurst: 10, PerSiteStateWritesPerSecond: NoLimit, PerSiteStateWritesBurst: 1}
	perSite := plugin
	perSite.PerSitePublishPerSecond, perSite.PerSitePublishBurst = 4, 4
	perSite.PerSiteJournalPerSecond, perSite.PerSiteJournalBurst = 4, 4
	perSite.PerSiteStateWritesPerSecond, perSite.PerSiteStateWritesBurst = 4, 4
	var keys atomic.Int64
	put := func(ctx context.Context, h sdkhost.HostServer, site string) error {
		_, err := h.Put(ctx, site, fmt.Sprintf("k%d", keys.Add(1)), []byte("v"))
		return err
	}
	publish := func(ctx context.Context, h sdkhost.HostServer, site string) error {
		return h.Publish(ctx, site, sdk.Event{Type: "p.tick"})
	}
	journal := func(ctx context.Context, h sdkhost.HostServer, site string) error {
		_, err := h.Journal(ctx, site, sdk.Exchange{System: "sys", Code: "C1", Status: "ok"})
		return err
	}
	cases := map[string]struct {
		limits Limits
		write  func(ctx context.Context, h sdkhost.HostServer, site string) error
		steps  []siteStep
	}{
		"events: a site's flood leaves the other sites theirs, the plugin's cap holds": {
			limits: perSite, write: publish,
			steps: []siteStep{
				{site: "s1", ok: 4, refused: "perSitePublishPerSecond"},
				{site: "s2", ok: 4},
				{site: "s3", ok: 2, refused: "publishPerSecond"},
				{site: "s1", refused: "perSitePublishPerSecond"},
			},
		},
		"journal: a site's flood leaves the other sites theirs, the plugin's cap holds": {
			limits: perSite, write: journal,
			steps: []siteStep{
				{site: "s1", ok: 4, refused: "perSiteJournalPerSecond"},
				{site: "s2", ok: 4},
				{site: "s3", ok: 2, refused: "journalPerSecond"},
			},
		},
		"state writes: a site's flood leaves the other sites theirs, the plugin's cap holds": {
			limits: perSite, write: put,
			steps: []siteStep{
				{site: "s1", ok: 4, refused: "perSiteStateWritesPerSecond"},
				{site: "s2", ok: 4},
				{site: "s3", ok: 2, refused: "stateWritesPerSecond"},
			},
		},
		"no per-site limits: the sites share the plugin's state writes": {
			limits: plugin, write: put,
			steps: []siteStep{
				{site: "s1", ok: 10, refused: "stateWritesPerSecond"},
				{site: "s2", refused: "stateWritesPerSecond"},
			},
		},
		"a write the plugin's bucket refuses costs its site no token": {
			limits: perSite, write: publish,
			steps: []siteStep{
				{site: "s1", ok: 4},
				{site: "s2", ok: 4},
				{site: "s3", ok: 2, refused: "publishPerSecond"},
				{site: "s3", refused: "publishPerSecond"},
				// 100ms: 1 token back to the plugin, 0.4 to each site; s3
				// had 2 of its 4 left (2.4 now, 0.4 had the refusals
				// taken its tokens), so the plugin's bucket refuses next.
				{wait: 100 * time.Millisecond, site: "s3", ok: 1, refused: "publishPerSecond"},
				// One second more: the plugin is full (10), s3 too (4).
				{wait: time.Second, site: "s3", ok: 4, refused: "perSitePublishPerSecond"},
			},
		},
		"events over many sites: the plugin's cap holds": {
			limits: perSite, write: publish,
			steps: []siteStep{
				{site: "s1", ok: 1}, {site: "s2", ok: 1}, {site: "s3", ok: 1}, {site: "s4", ok: 1}, {site: "s5", ok: 1},
				{site: "s6", ok: 1}, {site: "s7", ok: 1}, {site: "s8", ok: 1}, {site: "s9", ok: 1}, {site: "s10", ok: 1},
				{site: "s11", refused: "publishPerSecond"},
			},
		},
		"no per-site limits: the sites share the plugin's bucket": {
			limits: plugin, write: publish,
			steps: []siteStep{
				{site: "s1", ok: 10, refused: "publishPerSecond"},
				{site: "s2", refused: "publishPerSecond"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _, clk, _ := limited(t, tc.limits)
			h := s.For("p")
			for i, st := range tc.steps {
				clk.add(st.wait)
				for j := range st.ok {
					if err := tc.write(t.Context(), h, st.site); err != nil {
						t.Fatalf("step %d: write %d of site %s: %v, want it taken", i+1, j+1, st.site, err)
					}
				}
				if st.refused == "" {
					continue
				}
				err := tc.write(t.Context(), h, st.site)
				var le *LimitError
				if !errors.As(err, &le) || le.Key != st.refused || le.Site != st.site {
					t.Fatalf("step %d: write %d of site %s: %v, want refused by %s", i+1, st.ok+1, st.site, err, st.refused)
				}
				if !strings.Contains(err.Error(), "limits."+st.refused) || !strings.Contains(err.Error(), "pluginLimits."+st.refused) {
					t.Errorf("step %d: refusal %q does not name the keys that raise it", i+1, err)
				}
			}
		})
	}
}

// TestLimitsPerSiteReload: a reload (SetLimits) that sets per-site limits
// applies them to a running plugin at once; one that keeps them keeps
// each site's bucket as it was; one that removes them lets the sites
// share the plugin's bucket again.
func TestLimitsPerSiteReload(t *testing.T) {
	t.Parallel()
	l := Limits{PublishPerSecond: 10, PublishBurst: 10, JournalPerSecond: 10, JournalBurst: 10, StateValueBytes: 10,
		PerSitePublishPerSecond: NoLimit, PerSitePublishBurst: 1, PerSiteJournalPerSecond: NoLimit, PerSiteJournalBurst: 1}
	s, _, _, _ := limited(t, l)
	h := s.For("p")
	publish := func(site string, n int) (taken int, err error) {
		for taken = 0; taken < n; taken++ {
			if err = h.Publish(t.Context(), site, sdk.Event{Type: "p.tick"}); err != nil {
				return taken, err
			}
		}
		return taken, nil
	}
	if n, err := publish("s1", 3); err != nil {
		t.Fatalf("without per-site limits, event %d of s1: %v", n+1, err)
	}
	l.PerSitePublishPerSecond, l.PerSitePublishBurst = 2, 2
	s.SetLimits(map[string]Limits{"p": l})
	if n, err := publish("s1", 3); n != 2 || !errors.Is(err, ErrLimit) {
		t.Errorf("after a reload set perSitePublishBurst 2: s1 published %d (%v), want 2 then refused", n, err)
	}
	s.SetLimits(map[string]Limits{"p": l})
	if n, err := publish("s1", 1); n != 0 || !errors.Is(err, ErrLimit) {
		t.Errorf("after a reload with the same limits: s1 published %d (%v), want its emptied bucket kept", n, err)
	}
	if n, err := publish("s2", 2); err != nil {
		t.Errorf("after a reload with the same limits: event %d of s2: %v, want its own bucket", n+1, err)
	}
	l.PerSitePublishPerSecond = NoLimit
	s.SetLimits(map[string]Limits{"p": l})
	if n, err := publish("s1", 10); err != nil {
		t.Errorf("after a reload removed the per-site limits: event %d of s1: %v, want the plugin's 10", n+1, err)
	}
}

// TestLimitsLogPerSite: a site's refusals are logged apart from another
// site's (the log names the site, the metric does not), so one site's
// flood, logged once a minute, does not hide another site's refusals.
func TestLimitsLogPerSite(t *testing.T) {
	t.Parallel()
	l := Limits{PublishPerSecond: 100, PublishBurst: 100, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 1,
		PerSitePublishPerSecond: 1, PerSitePublishBurst: 1, PerSiteJournalPerSecond: NoLimit, PerSiteJournalBurst: 1}
	s, _, _, _ := limited(t, l)
	var logs bytes.Buffer
	s.SetRefusals(slog.New(slog.NewTextHandler(&logs, nil)), nil)
	h := s.For("p")
	for _, site := range []string{"s1", "s1", "s1", "s2", "s2"} {
		_ = h.Publish(t.Context(), site, sdk.Event{Type: "p.tick"})
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "site=s1") || !strings.Contains(lines[1], "site=s2") || !strings.Contains(lines[1], "limit=perSitePublishPerSecond") {
		t.Errorf("log of two refusals of s1 and one of s2 within a minute:\n%s\nwant one line for each site", logs.String())
	}
}
