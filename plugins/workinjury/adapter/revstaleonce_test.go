package adapter

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// Two messages waiting for the same stale revocation (different Kafka keys,
// so handled at once, here or by two instances sharing the store) both
// found no revstale record and both gave the ALERT. The record is now
// claimed with a compare-and-set before the ALERT: one of them gives it
// and publishes the event, the other neither. The hook holds both at the
// point where they have read the record, so they race there on every run.
func TestStaleRevocationAlertedOnceAcrossWaiters(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		waiters int
		// mark is the revstale record before (nil: none); its times are
		// this long before now.
		mark func(now time.Time) any
		// alerts: ALERT lines and events given.
		alerts int
	}{
		"one waiter":    {waiters: 1, alerts: 1},
		"two waiters":   {waiters: 2, alerts: 1},
		"three waiters": {waiters: 3, alerts: 1},
		"event published": {waiters: 2, mark: func(now time.Time) any {
			return staleMark{At: now.Add(-time.Hour), Published: true}
		}},
		"record of the first form (the time of the event)": {waiters: 1, mark: func(now time.Time) any { return now.Add(-time.Hour) }},
		"claimed moments ago by a message still giving it": {waiters: 2, mark: func(now time.Time) any { return staleMark{At: now.Add(-time.Second)} }},
		"claimed by a message that stopped before the event": {waiters: 2, mark: func(now time.Time) any {
			return staleMark{At: now.Add(-staleClaimLease - time.Second)}
		}, alerts: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			logs := &logBuffer{}
			c.connectLogged(logs)
			h := hostFor(c.host, testSite)
			cfg, err := c.impl.site(testSite)
			if err != nil {
				t.Fatal(err)
			}
			sent := time.Now().Add(-cfg.deadline - time.Hour)
			if err := putJSON(t.Context(), h, "msg/m-rev", sentRecord{Code: "GYR003", Serial: "S0001", SentAt: sent, Sends: 1}); err != nil {
				t.Fatal(err)
			}
			if tc.mark != nil {
				if err := putJSON(t.Context(), h, staleKey("m-rev"), tc.mark(time.Now())); err != nil {
					t.Fatal(err)
				}
			}
			reach := tc.waiters
			if tc.alerts == 0 {
				reach = 0 // none claims it
			}
			var arrived sync.WaitGroup
			arrived.Add(reach)
			all := make(chan struct{})
			go func() { arrived.Wait(); close(all) }()
			c.impl.hook = func(p string) error {
				if p != "revstale-read" {
					return nil
				}
				arrived.Done()
				select {
				case <-all:
					return nil
				case <-time.After(10 * time.Second):
					return errors.New("the other waiters never read the revstale record")
				}
			}
			var wg sync.WaitGroup
			resps := make([]*sdk.HandleResponse, tc.waiters)
			for i := range tc.waiters {
				wg.Go(func() {
					e := &revokeWaitError{field: "$.settle_no", what: "the settlement revocation (GYR003) of settlement JS1", open: []string{"m-rev (GYR003, serial S0001)"}}
					resps[i] = c.impl.waitResponse(t.Context(), h, cfg, "m-wait-"+string(rune('a'+i)), "GYR003", e)
				})
			}
			wg.Wait()
			for i, r := range resps {
				if !r.Waiting {
					t.Fatalf("waiter %d: not a wait: %s", i, r.Diagnostics)
				}
			}
			if n := logs.count("ALERT"); n != tc.alerts {
				t.Errorf("%d ALERT lines, want %d:\n%s", n, tc.alerts, logs.buf.String())
			}
			if n := len(c.events("workinjury.revocation.stale")); n != tc.alerts {
				t.Errorf("%d workinjury.revocation.stale events, want %d", n, tc.alerts)
			}
			var mark staleMark
			if ver, err := getJSON(t.Context(), h, staleKey("m-rev"), &mark); err != nil || ver == 0 || tc.alerts > 0 && !mark.Published {
				t.Errorf("revstale record after: %+v (version %d, %v), want one, published when an event was", mark, ver, err)
			}
		})
	}
}
