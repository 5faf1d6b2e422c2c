package hsa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// signInPlatform answers 9001 with SN1, SN2, … and counts them; hold, when
// set, is called with the number of a 9001 before it is answered.
func signInPlatform(t *testing.T, hold func(n int32), other func(w http.ResponseWriter, env map[string]any)) (*platform, *atomic.Int32, string) {
	t.Helper()
	signIns := new(atomic.Int32)
	p := &platform{}
	p.fn = func(w http.ResponseWriter, env map[string]any) {
		if env["infno"] == "9001" {
			n := signIns.Add(1)
			if hold != nil {
				hold(n)
			}
			ok(w, map[string]any{"signinoutb": map[string]any{"sign_time": "2025-04-01 08:00:00", "sign_no": fmt.Sprintf("SN%d", n)}})
			return
		}
		if other != nil {
			other(w, env)
			return
		}
		ok(w, nil)
	}
	srv := serve(t, p)
	return p, signIns, srv.URL
}

// gate is closed once, by whichever event comes first.
type gate struct {
	once sync.Once
	ch   chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// wait waits for the gate, at most 10 seconds (then the test fails).
func (g *gate) wait(t testing.TB, what string) {
	select {
	case <-g.ch:
	case <-time.After(10 * time.Second):
		t.Errorf("%s: gate not opened within 10s", what)
	}
}

// waitFor polls cond every millisecond until it holds, for at most 10
// seconds (then the test fails).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		<-time.After(time.Millisecond)
	}
}

// storedSignIn returns the sign-in record in h.
func storedSignIn(t testing.TB, h *memHost) signInState {
	t.Helper()
	e, err := h.Get(context.Background(), signInKey("OP001"))
	if err != nil {
		t.Fatal(err)
	}
	var st signInState
	if err := json.Unmarshal(e.Value, &st); err != nil {
		t.Fatalf("sign-in state %s: %v", e.Value, err)
	}
	return st
}

// TestSignInOnceAcrossInstances: two instances (two clients sharing host
// state) that find no sign-in at the same moment send one 9001 between
// them and use its sign_no. The first 9001 is held until a second one
// arrives or the state has been read three times (the other instance is
// waiting for the claim), so two 9001s are seen if both go out.
func TestSignInOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	g := newGate()
	_, signIns, url := signInPlatform(t, func(n int32) {
		if n == 1 {
			g.wait(t, "first 9001")
			return
		}
		g.open()
	}, nil)
	cfg := testConfig(url)
	cfg.SignIn, cfg.SignInMAC, cfg.SignInIP = true, "m", "i"
	h := newMemHost()
	h.onGet = func(n int) {
		if n >= 3 {
			g.open()
		}
	}
	var clients [2]*Client
	for i := range clients {
		clients[i] = newClient(t, cfg, WithClock(fixedClock()))
		clients[i].signInPoll = time.Millisecond
	}
	got := make([]string, 2)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			no, err := c.SignNo(context.Background(), h, fmt.Sprintf("m%d", i))
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			got[i] = no
		})
	}
	wg.Wait()
	if n := signIns.Load(); n != 1 {
		t.Errorf("%d 9001 sign-ins by two instances, want 1", n)
	}
	if got[0] != "SN1" || got[1] != "SN1" {
		t.Errorf("instances use sign_no %q and %q, want SN1 both", got[0], got[1])
	}
	if st := storedSignIn(t, h); st.SignNo != "SN1" || st.ClaimedBy != "" {
		t.Errorf("state holds %+v, want SN1 and no claim", st)
	}
}

// TestSignInClaimOfADeadInstance: a claim to sign in that no sign_no
// followed (its instance died) blocks the others until it lapses (its
// ClaimUntil, or claimTTL after first seen should the claimant's clock be
// ahead), and no longer; a claim of another day or one lapsed already
// does not block at all.
func TestSignInClaimOfADeadInstance(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 4, 1, 9, 30, 0, 0, cst)
	ttl := (&Client{cfg: testConfig("")}).claimTTL()
	cases := map[string]struct {
		claim   signInState
		own     bool          // claimed by this client (an earlier call whose release failed)
		advance time.Duration // 0: signs in at once
	}{
		"holds until ClaimUntil":          {claim: signInState{Day: "2025-04-01", ClaimUntil: start.Add(time.Minute)}, advance: time.Minute},
		"holds claimTTL, clock ahead":     {claim: signInState{Day: "2025-04-01", ClaimUntil: start.Add(time.Hour)}, advance: ttl},
		"lapsed already":                  {claim: signInState{Day: "2025-04-01", ClaimUntil: start.Add(-time.Second)}},
		"of the day before":               {claim: signInState{Day: "2025-03-31", ClaimUntil: start.Add(time.Hour)}},
		"left by this client's last call": {claim: signInState{Day: "2025-04-01", ClaimUntil: start.Add(time.Minute)}, own: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, signIns, url := signInPlatform(t, nil, nil)
			cfg := testConfig(url)
			cfg.SignIn, cfg.SignInMAC, cfg.SignInIP = true, "m", "i"
			var mu sync.Mutex
			now := start
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			h := newMemHost()
			c := newClient(t, cfg, WithClock(clock))
			c.signInPoll = time.Millisecond
			tc.claim.ClaimedBy = "dead-host/4242/00000000"
			if tc.own {
				tc.claim.ClaimedBy = c.id
			}
			b, _ := json.Marshal(tc.claim)
			if _, err := h.CompareAndSet(context.Background(), signInKey("OP001"), 0, b); err != nil {
				t.Fatal(err)
			}
			type result struct {
				no  string
				err error
			}
			done := make(chan result, 1)
			go func() {
				no, err := c.SignNo(context.Background(), h, "m1")
				done <- result{no, err}
			}()
			if tc.advance > 0 {
				// Waiting: it reads the state again and again, sends nothing.
				waitFor(t, "reading the state while the claim holds", func() bool {
					select {
					case r := <-done:
						t.Fatalf("returned %q, %v while the claim held; %d 9001 sent", r.no, r.err, signIns.Load())
					default:
					}
					return h.getCount() >= 5
				})
				if n := signIns.Load(); n != 0 {
					t.Fatalf("%d 9001 sent while another instance's claim held", n)
				}
				mu.Lock()
				now = now.Add(tc.advance)
				mu.Unlock()
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("still waiting 10s after the claim lapsed")
			}
			if r.err != nil || r.no != "SN1" || signIns.Load() != 1 {
				t.Fatalf("got %q, %v after %d 9001; want SN1 from one 9001", r.no, r.err, signIns.Load())
			}
			if st := storedSignIn(t, h); st.SignNo != "SN1" || st.ClaimedBy != "" {
				t.Errorf("state holds %+v, want SN1 and no claim", st)
			}
		})
	}
}

// TestSignInRefusedReplacedOnceAcrossInstances: two instances using the
// same sign_no, both refused for it as expired, replace it with one 9001
// between them and send their calls again with the new sign_no. The
// replacing 9001 is held until a third 9001 arrives or the state has been
// read five more times (the other instance waits for the claim).
func TestSignInRefusedReplacedOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	g := newGate()
	p, signIns, url := signInPlatform(t, func(n int32) {
		switch {
		case n == 2:
			g.wait(t, "replacing 9001")
		case n > 2:
			g.open()
		}
	}, func(w http.ResponseWriter, env map[string]any) {
		if env["sign_no"] == "SN1" {
			_ = json.NewEncoder(w).Encode(map[string]any{"infcode": -2, "inf_refmsgid": "350200202504010930000000000001", "err_msg": "签到已失效"})
			return
		}
		ok(w, nil)
	})
	cfg := testConfig(url)
	cfg.SignIn, cfg.SignInMAC, cfg.SignInIP, cfg.SignInExpiredCodes = true, "m", "i", []int{-2}
	h := newMemHost()
	var clients [2]*Client
	for i := range clients {
		clients[i] = newClient(t, cfg, WithClock(fixedClock()))
		clients[i].signInPoll = time.Millisecond
		if no, err := clients[i].SignNo(context.Background(), h, "m0"); err != nil || no != "SN1" {
			t.Fatalf("instance %d signs in: %q, %v", i, no, err)
		}
	}
	base := h.getCount()
	h.mu.Lock()
	h.onGet = func(n int) {
		// Each instance reads the state once before its call (a newer
		// sign_no?), then the first to be refused once more and claims,
		// and the other reads the claim twice while waiting.
		if n >= base+5 {
			g.open()
		}
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			if _, err := c.Do(context.Background(), h, Call{Infno: "4207"}); err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := signIns.Load(); n != 2 {
		t.Errorf("%d 9001 sign-ins, want 2: the first and one replacing it for both instances", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var resent []any
	for _, env := range p.envs {
		if env["infno"] == "4207" && env["sign_no"] != "SN1" {
			resent = append(resent, env["sign_no"])
		}
	}
	if len(resent) != 2 || resent[0] != "SN2" || resent[1] != "SN2" {
		t.Errorf("calls sent again with sign_no %v, want SN2 twice", resent)
	}
}

// TestForgetSignInAcrossInstances: two instances that forget the same
// sign_no sign in again once between them: the second keeps the sign_no
// the first got in its place.
func TestForgetSignInAcrossInstances(t *testing.T) {
	t.Parallel()
	_, signIns, url := signInPlatform(t, nil, nil)
	cfg := testConfig(url)
	cfg.SignIn, cfg.SignInMAC, cfg.SignInIP = true, "m", "i"
	h := newMemHost()
	ctx := context.Background()
	a, b := newClient(t, cfg, WithClock(fixedClock())), newClient(t, cfg, WithClock(fixedClock()))
	for _, c := range []*Client{a, b} {
		if no, err := c.SignNo(ctx, h, "m0"); err != nil || no != "SN1" {
			t.Fatalf("sign in: %q, %v", no, err)
		}
	}
	steps := []struct {
		c    *Client
		name string
		want string
	}{{a, "first instance", "SN2"}, {b, "second instance", "SN2"}}
	for _, s := range steps {
		if err := s.c.ForgetSignIn(ctx, h); err != nil {
			t.Fatalf("%s forgets: %v", s.name, err)
		}
		if no, err := s.c.SignNo(ctx, h, "m1"); err != nil || no != s.want {
			t.Fatalf("%s after forgetting SN1: %q, %v; want %s", s.name, no, err, s.want)
		}
	}
	if n := signIns.Load(); n != 2 {
		t.Errorf("%d 9001 sign-ins, want 2", n)
	}
}

// TestSignInFailedReleasesClaim: an instance whose 9001 fails releases
// its claim, so another signs in at once rather than when it lapses (the
// clocks here never move).
func TestSignInFailedReleasesClaim(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	p := &platform{}
	p.fn = func(w http.ResponseWriter, env map[string]any) {
		if calls.Add(1) == 1 {
			_ = json.NewEncoder(w).Encode(map[string]any{"infcode": -1, "inf_refmsgid": "350200202504010930000000000001", "err_msg": "操作员未登记"})
			return
		}
		ok(w, map[string]any{"signinoutb": map[string]any{"sign_no": "SN2"}})
	}
	srv := serve(t, p)
	cfg := testConfig(srv.URL)
	cfg.SignIn, cfg.SignInMAC, cfg.SignInIP = true, "m", "i"
	h := newMemHost()
	a, b := newClient(t, cfg, WithClock(fixedClock())), newClient(t, cfg, WithClock(fixedClock()))
	b.signInPoll = time.Millisecond
	var be *BusinessError
	if _, err := a.SignNo(context.Background(), h, "m0"); !errors.As(err, &be) || be.Infcode != -1 {
		t.Fatalf("first instance: %v, want the 9001 refusal", err)
	}
	if st := storedSignIn(t, h); st.ClaimedBy != "" || st.SignNo != "" {
		t.Fatalf("state after a failed 9001: %+v, want no claim and no sign_no", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if no, err := b.SignNo(ctx, h, "m1"); err != nil || no != "SN2" {
		t.Fatalf("second instance: %q, %v; want SN2 at once", no, err)
	}
}

// TestSignInOutlastingItsClaim: an instance whose 9001 answer comes after
// its claim lapsed and another instance signed in does not write its
// sign_no over the other's: both use the one the state holds.
func TestSignInOutlastingItsClaim(t *testing.T) {
	t.Parallel()
	g := newGate()
	_, signIns, url := signInPlatform(t, func(n int32) {
		if n == 1 {
			g.wait(t, "first 9001")
		}
	}, nil)
	cfg := testConfig(url)
	cfg.SignIn, cfg.SignInMAC, cfg.SignInIP = true, "m", "i"
	var mu sync.Mutex
	now := time.Date(2025, 4, 1, 9, 30, 0, 0, cst)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newMemHost()
	a, b := newClient(t, cfg, WithClock(clock)), newClient(t, cfg, WithClock(clock))
	slow := make(chan string, 1)
	go func() {
		no, err := a.SignNo(context.Background(), h, "m1")
		if err != nil {
			t.Errorf("slow instance: %v", err)
		}
		slow <- no
	}()
	waitFor(t, "the first 9001", func() bool { return signIns.Load() == 1 })
	mu.Lock()
	now = now.Add(a.claimTTL())
	mu.Unlock()
	no, err := b.SignNo(context.Background(), h, "m2")
	g.open()
	if err != nil || no != "SN2" {
		t.Fatalf("instance taking over the lapsed claim: %q, %v; want SN2", no, err)
	}
	if no := <-slow; no != "SN2" {
		t.Errorf("slow instance uses %q, want SN2, the sign_no the state holds", no)
	}
	if st := storedSignIn(t, h); st.SignNo != "SN2" {
		t.Errorf("state holds %+v, want SN2", st)
	}
}

// TestSignInReplacedByAnotherInstance: an instance uses the sign_no the
// host state holds for today, not the one it keeps in memory, once another
// instance has replaced it there (after the platform refused it as
// expired, for instance): it does not wait to be refused for the old one
// itself. Without a newer sign_no in the state (the same one, one of
// another day, an unreadable record, none) it keeps its own, and it never
// signs in for that.
func TestSignInReplacedByAnotherInstance(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		state func(t *testing.T, h *memHost, other *Client) // changes the shared state after both signed in with SN1
		want  string
		signs int32
	}{
		"replaced by the other instance": {state: func(t *testing.T, h *memHost, other *Client) {
			if err := other.ForgetSignIn(context.Background(), h); err != nil {
				t.Fatal(err)
			}
			if no, err := other.SignNo(context.Background(), h, "m1"); err != nil || no != "SN2" {
				t.Fatalf("the other instance signs in again: %q, %v", no, err)
			}
		}, want: "SN2", signs: 2},
		"unchanged":   {state: func(*testing.T, *memHost, *Client) {}, want: "SN1", signs: 1},
		"another day": {state: func(t *testing.T, h *memHost, _ *Client) { putSignIn(t, h, `{"day":"2025-03-31","signNo":"SN9"}`) }, want: "SN1", signs: 1},
		"unreadable":  {state: func(t *testing.T, h *memHost, _ *Client) { putSignIn(t, h, `{`) }, want: "SN1", signs: 1},
		"forgotten":   {state: func(t *testing.T, h *memHost, _ *Client) { putSignIn(t, h, `{}`) }, want: "SN1", signs: 1},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, signIns, url := signInPlatform(t, nil, nil)
			cfg := testConfig(url)
			cfg.SignIn, cfg.SignInMAC, cfg.SignInIP = true, "m", "i"
			h := newMemHost()
			a, b := newClient(t, cfg, WithClock(fixedClock())), newClient(t, cfg, WithClock(fixedClock()))
			for _, c := range []*Client{a, b} {
				if no, err := c.SignNo(context.Background(), h, "m0"); err != nil || no != "SN1" {
					t.Fatalf("sign in: %q, %v", no, err)
				}
			}
			tc.state(t, h, b)
			if _, err := a.Do(context.Background(), h, Call{Infno: "4207"}); err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			var sent []any
			for _, env := range p.envs {
				if env["infno"] == "4207" {
					sent = append(sent, env["sign_no"])
				}
			}
			p.mu.Unlock()
			if len(sent) != 1 || sent[0] != tc.want {
				t.Errorf("the first instance sent 4207 with sign_no %v, want %s once", sent, tc.want)
			}
			if n := signIns.Load(); n != tc.signs {
				t.Errorf("%d 9001 sign-ins, want %d", n, tc.signs)
			}
		})
	}
}

// putSignIn overwrites the shared sign-in record with v.
func putSignIn(t *testing.T, h *memHost, v string) {
	t.Helper()
	if _, err := h.Put(context.Background(), signInKey("OP001"), []byte(v)); err != nil {
		t.Fatal(err)
	}
}
