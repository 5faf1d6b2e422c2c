package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// pauseHost holds the first compare-and-set of key whose value contains
// on until release is closed, telling reached when it got there: one
// workflow stopped at a state write while another runs.
type pauseHost struct {
	*sdktest.MemoryHost
	key     string
	on      []byte
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func (p *pauseHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if key == p.key && bytes.Contains(value, p.on) {
		held := false
		p.once.Do(func() { held = true })
		if held {
			close(p.reached)
			<-p.release
		}
	}
	return p.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

// retryUntilDone handles a message as the host retries a waiting one:
// again while it answers a deliberate wait, up to a deadline.
func retryUntilDone(t *testing.T, e *env, typ, id string, payload any) *sdk.HandleResponse {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 1; ; attempt++ {
		r := e.must(typ, id, payload, attempt)
		if !r.Waiting {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s still waits after %d attempts: %v", typ, id, attempt, r.Diagnostics)
		}
	}
}

// TestOneWorkflowPerVisit: an upload of a visit is paused at a state write
// (its first 4201A batch written as in flight) while a second workflow of
// the same visit (a cancel, an upload, or a single 4201A … 4204, which
// would interleave with it just the same) arrives under another Kafka key. The second sends
// nothing and answers a deliberate wait naming the visit and the upload in
// progress; once the upload is done it runs, after it. A workflow of
// another visit does not wait.
func TestOneWorkflowPerVisit(t *testing.T) {
	t.Parallel()
	reupload := upload("ZYW", 3)
	reupload["reupload"] = true
	testCases := map[string]struct {
		typ     string
		payload any
		visit   string // the second workflow's visit
		after   sdk.Status
		check   func(t *testing.T, e *env)
	}{
		"cancel": {typ: OpCancel, payload: map[string]any{"fixmedins_mdtrt_id": "ZYW"}, visit: "ZYW",
			check: func(t *testing.T, e *env) {
				if v := e.sim.Visit(testCode, "ZYW"); v.Complete || len(v.Fees) != 0 {
					t.Errorf("the cancel ran after the upload, so nothing should be left; platform has %+v", v)
				}
			}},
		"second upload": {typ: OpUpload, payload: reupload, visit: "ZYW",
			check: func(t *testing.T, e *env) {
				if v := e.sim.Visit(testCode, "ZYW"); !v.Complete || len(v.Fees) != 3 || v.MedfeeSumamt != "33.00" {
					t.Errorf("the re-upload ran after the upload, so its 3 lines should be there, complete; platform has %+v", v)
				}
			}},
		"single 4203": {typ: "selfpay.4203", payload: map[string]any{"fixmedins_mdtrt_id": "ZYW", "cplt_flag": "0"}, visit: "ZYW",
			check: func(t *testing.T, e *env) {
				if v := e.sim.Visit(testCode, "ZYW"); v.Complete || len(v.Fees) != 5 {
					t.Errorf("the withdrawal ran after the upload, so its 5 lines should be there, not complete; platform has %+v", v)
				}
			}},
		// Run after the completion, the 4201A is refused: a completed
		// visit takes no fee line until it is withdrawn.
		"single 4201A": {typ: "selfpay.4201A", payload: map[string]any{nodeFees: []any{fee("ZYW", 9)}}, visit: "ZYW", after: sdk.StatusRejected,
			check: func(t *testing.T, e *env) {
				if v := e.sim.Visit(testCode, "ZYW"); !v.Complete || len(v.Fees) != 5 {
					t.Errorf("the single 4201A ran after the upload completed; platform has %+v", v)
				}
			}},
		"single 4204":   {typ: "selfpay.4204", payload: map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "ZYW"}}, visit: "ZYW", after: sdk.StatusRejected},
		"another visit": {typ: OpUpload, payload: upload("ZYO", 2), visit: "ZYO"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) { s["batchSize"] = "2" })
			ph := &pauseHost{MemoryHost: e.host, key: wfKey("first"), on: []byte(`"infno":"4201A"`),
				reached: make(chan struct{}), release: make(chan struct{})}
			e.restart(ph)
			first := make(chan *sdk.HandleResponse, 1)
			go func() {
				r, err := e.handle(OpUpload, "first", upload("ZYW", 5), 1)
				if err != nil {
					t.Errorf("first upload: %v", err)
				}
				first <- r
			}()
			select {
			case <-ph.reached:
			case <-time.After(20 * time.Second):
				close(ph.release)
				t.Fatal("the first upload never reached its 4201A")
			}
			calls := len(e.sim.Calls())
			r := e.must(tc.typ, "second", tc.payload, 1)
			if tc.visit != "ZYW" {
				wantStatus(t, r, sdk.StatusOK)
				close(ph.release)
				wantStatus(t, <-first, sdk.StatusOK)
				return
			}
			if !r.Waiting || !r.Retryable || r.Status != sdk.StatusFailed {
				close(ph.release)
				<-first
				t.Fatalf("the second workflow of the visit must wait while the first is in progress; got %+v", r)
			}
			if msg := r.Diagnostics.String(); !strings.Contains(msg, "ZYW") || !strings.Contains(msg, "first") {
				t.Errorf("the wait must name the visit and the message in progress: %s", msg)
			}
			if n := len(e.sim.Calls()); n != calls {
				t.Errorf("the waiting workflow sent %d call(s) to the platform", n-calls)
			}
			close(ph.release)
			wantStatus(t, <-first, sdk.StatusOK)
			if v := e.sim.Visit(testCode, "ZYW"); !v.Complete || len(v.Fees) != 5 {
				t.Fatalf("the first upload should have completed undisturbed; platform has %+v", v)
			}
			after := tc.after
			if after == "" {
				after = sdk.StatusOK
			}
			wantStatus(t, retryUntilDone(t, e, tc.typ, "second", tc.payload), after)
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// TestStaleVisitClaim: a claim left behind by a workflow that will not
// release it (its message's state absent or finished, or no attempt of it
// for longer than the upload deadline) does not hold a new workflow of
// the visit back; a recent claim of a workflow in progress does.
func TestStaleVisitClaim(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	testCases := map[string]struct {
		state   *wfState // of the claiming message "ghost"; nil: none
		renewed time.Time
		wait    bool
	}{
		"record absent":           {renewed: now},
		"record done":             {state: &wfState{Op: "upload", MdtrtID: "ZYS", Step: stepDone, Final: &finalized{Status: sdk.StatusOK}}, renewed: now},
		"older than the deadline": {state: &wfState{Op: "cancel", MdtrtID: "ZYS", Step: stepDelete, Sent: true}, renewed: now.Add(-defaultClaimLapse - time.Minute)},
		"in progress":             {state: &wfState{Op: "cancel", MdtrtID: "ZYS", Step: stepDelete, Sent: true}, renewed: now.Add(-time.Minute), wait: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			ctx := context.Background()
			if tc.state != nil {
				b, _ := json.Marshal(tc.state)
				if _, err := e.host.Put(ctx, testSite, wfKey("ghost"), b); err != nil {
					t.Fatal(err)
				}
			}
			b, _ := json.Marshal(visitClaim{MessageID: "ghost", Op: "cancel", Since: tc.renewed, Renewed: tc.renewed})
			if _, err := e.host.Put(ctx, testSite, claimKey("ZYS"), b); err != nil {
				t.Fatal(err)
			}
			r := e.must(OpUpload, "new", upload("ZYS", 2), 1)
			if tc.wait {
				if !r.Waiting || !strings.Contains(r.Diagnostics.String(), "ghost") {
					t.Fatalf("a claim of a workflow in progress must hold the upload back; got %+v", r)
				}
				if n := len(e.sim.Calls()); n != 0 {
					t.Errorf("%d call(s) sent while waiting", n)
				}
				return
			}
			wantStatus(t, r, sdk.StatusOK)
			if v := e.sim.Visit(testCode, "ZYS"); !v.Complete || len(v.Fees) != 2 {
				t.Errorf("platform has %+v", v)
			}
		})
	}
}

// TestVisitClaimReleased: a workflow's claim on its visit is released
// whatever its outcome, so the next workflow of the visit runs at once.
func TestVisitClaimReleased(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "诊断代码不存在"})
	wantStatus(t, e.must(OpUpload, "rej", upload("ZYF", 2), 1), sdk.StatusRejected)
	wantStatus(t, e.must(OpUpload, "ok", upload("ZYF", 2), 1), sdk.StatusOK)
	wantStatus(t, e.must(OpCancel, "cx", map[string]any{"fixmedins_mdtrt_id": "ZYF"}, 1), sdk.StatusOK)
	wantStatus(t, e.must(OpUpload, "ok2", upload("ZYF", 2), 1), sdk.StatusOK)
}

// TestClaimWaitersAreUploads: every operation that can wait for its
// visit's claim is declared an upload. The host gives a message of any
// other operation up after processing.maxAttempts calls or its retry
// budget, counting deliberate waits as attempts (host/pipeline tryCalls),
// so a cancel waiting behind a long upload of its visit went to the DLQ
// and staff had to replay it; an upload is never given up on, and past its
// deadline is retried late with escalating alerts.
func TestClaimWaitersAreUploads(t *testing.T) {
	t.Parallel()
	d, err := New().Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]sdk.Operation{}
	for _, op := range d.Operations {
		declared[op.Type] = op
	}
	for _, typ := range []string{OpUpload, OpCancel, "selfpay.4201A", "selfpay.4202", "selfpay.4203", "selfpay.4204"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			op, ok := declared[typ]
			if !ok {
				t.Fatalf("operation %s not declared", typ)
			}
			if !op.Upload || op.Query {
				t.Errorf("operation %s is declared Upload %v, Query %v; it may wait for its visit's claim, so it must be an upload (never given up on while it waits)", typ, op.Upload, op.Query)
			}
		})
	}
}

// TestSingleHoldsItsVisit: a single 4204 of a visit paused at its state
// write (its call written as in flight) holds a workflow of the visit
// back, which sends nothing and waits until the 4204 is done.
func TestSingleHoldsItsVisit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "before", upload("ZYH", 2), 1), sdk.StatusOK)
	wantStatus(t, e.must("selfpay.4203", "reopen", map[string]any{"fixmedins_mdtrt_id": "ZYH", "cplt_flag": "0"}, 1), sdk.StatusOK)
	ph := &pauseHost{MemoryHost: e.host, key: wfKey("del"), on: []byte(`"infno":"4204"`),
		reached: make(chan struct{}), release: make(chan struct{})}
	e.restart(ph)
	del := map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "ZYH"}}
	first := make(chan *sdk.HandleResponse, 1)
	go func() {
		r, err := e.handle("selfpay.4204", "del", del, 1)
		if err != nil {
			t.Errorf("single 4204: %v", err)
		}
		first <- r
	}()
	select {
	case <-ph.reached:
	case <-time.After(20 * time.Second):
		close(ph.release)
		t.Fatal("the single 4204 never reached its call")
	}
	calls := len(e.sim.Calls())
	cancel := map[string]any{"fixmedins_mdtrt_id": "ZYH"}
	r := e.must(OpCancel, "cx", cancel, 1)
	if !r.Waiting || !strings.Contains(r.Diagnostics.String(), "selfpay.4204") {
		close(ph.release)
		<-first
		t.Fatalf("a cancel of a visit whose single 4204 is in progress must wait for it; got %+v", r)
	}
	if n := len(e.sim.Calls()); n != calls {
		t.Errorf("the waiting cancel sent %d call(s) to the platform", n-calls)
	}
	close(ph.release)
	wantStatus(t, <-first, sdk.StatusOK)
	// It ran after the 4204: the details were gone already, so its own
	// 4204 was refused for having nothing to delete (tolerated).
	r = retryUntilDone(t, e, OpCancel, "cx", cancel)
	wantStatus(t, r, sdk.StatusOK)
	if !strings.Contains(string(r.Payload), `"infno":"4204","msgid"`) || !strings.Contains(string(r.Payload), `"outcome":"tolerated"`) {
		t.Errorf("the cancel should have found the details deleted by the single 4204: %s", r.Payload)
	}
}

// TestClaimLapseSetting: how long a claim outlives its holder's last
// attempt is the site's claimLapse (the host's uploadDeadline, which the
// 30 minutes stood for, is not visible to the plugin, and a host whose
// attempts of one message are further apart needs a longer lapse): a claim
// renewed longer ago than it no longer holds, a more recent one does, and
// the wait says when it lapses. A value too short to outlast the gap
// between two attempts, or unreadable, is refused at Configure.
func TestClaimLapseSetting(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		lapse   string // "" leaves the setting out
		renewed time.Duration
		wait    bool
	}{
		"default holds 20m":    {renewed: 20 * time.Minute, wait: true},
		"default lapses 31m":   {renewed: 31 * time.Minute},
		"10m lapses after 11m": {lapse: "10m", renewed: 11 * time.Minute},
		"10m holds 9m":         {lapse: "10m", renewed: 9 * time.Minute, wait: true},
		"2h holds 40m":         {lapse: "2h", renewed: 40 * time.Minute, wait: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) {
				delete(s, SetClaimLapse)
				if tc.lapse != "" {
					s[SetClaimLapse] = tc.lapse
				}
			})
			ctx := context.Background()
			b, _ := json.Marshal(&wfState{Op: "cancel", MdtrtID: "ZYL", Step: stepDelete, Sent: true})
			if _, err := e.host.Put(ctx, testSite, wfKey("ghost"), b); err != nil {
				t.Fatal(err)
			}
			// Renewed tc.renewed before the message is handled, not before
			// the parallel subtests were started: on a loaded machine they
			// may wait a minute or more to run.
			at := time.Now().UTC().Add(-tc.renewed)
			b, _ = json.Marshal(visitClaim{MessageID: "ghost", Op: "cancel", Since: at, Renewed: at})
			if _, err := e.host.Put(ctx, testSite, claimKey("ZYL"), b); err != nil {
				t.Fatal(err)
			}
			r := e.must(OpUpload, "new", upload("ZYL", 2), 1)
			if !tc.wait {
				wantStatus(t, r, sdk.StatusOK)
				return
			}
			if !r.Waiting {
				t.Fatalf("a claim renewed %s ago must hold with claimLapse %q; got %+v", tc.renewed, tc.lapse, r)
			}
			lapse := tc.lapse
			if lapse == "" {
				lapse = "30m"
			}
			d, _ := time.ParseDuration(lapse)
			if msg := r.Diagnostics.String(); !strings.Contains(msg, d.String()) {
				t.Errorf("the wait must say the claim lapses %s after its last attempt: %s", d, msg)
			}
			if n := len(e.sim.Calls()); n != 0 {
				t.Errorf("%d call(s) sent while waiting", n)
			}
		})
	}
	e := newEnv(t, nil)
	for _, bad := range []string{"0s", "1m", "-5m", "25h", "soon"} {
		s := baseSettings(e.url)
		s[SetClaimLapse] = bad
		resp, err := e.plugin.Configure(context.Background(), &sdk.ConfigureRequest{Site: "bad", Settings: s})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, dg := range resp.Diagnostics {
			found = found || dg.Field == SetClaimLapse && strings.Contains(dg.Detail, "5m") && strings.Contains(dg.Detail, "24h")
		}
		if !found {
			t.Errorf("claimLapse %q: want a problem at claimLapse naming the range 5m–24h; got %v", bad, resp.Diagnostics)
		}
	}
}
