package access

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}
	h, err := Hash("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q does not record its parameters", h)
	}
	h2, _ := Hash("correct horse battery", p)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		pw, hash string
		ok       bool
		err      bool
	}{
		{"correct horse battery", h, true, false},
		{"correct horse batterY", h, false, false},
		{"", h, false, false},
		{"x", "plain", false, true},
		{"x", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", false, true},
		{"x", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", false, true},
		{"x", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA", false, true},
	} {
		ok, err := Verify(tc.pw, tc.hash)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("Verify(%q, %q) = %v, %v; want %v, error %v", tc.pw, tc.hash, ok, err, tc.ok, tc.err)
		}
	}
	// The default parameters verify too.
	hd, err := Hash("pw-0123456789", DefaultParams)
	if ok, err2 := Verify("pw-0123456789", hd); err != nil || err2 != nil || !ok {
		t.Fatalf("default parameters: %v %v %v", ok, err, err2)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("pw", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("", "$argon2id$v=19$m=8,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, pw, hash string) {
		_, _ = verify(pw, hash, 1024, 2) // never panics (costs bounded low so fuzzing stays fast)
	})
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		has, need Role
		ok        bool
	}{
		{Viewer, Viewer, true}, {Viewer, Operator, false}, {Viewer, Admin, false},
		{Operator, Viewer, true}, {Operator, Operator, true}, {Operator, Admin, false},
		{Admin, Admin, true}, {Public, Viewer, false}, {Public, Public, false},
	} {
		if got := tc.has.Allows(tc.need); got != tc.ok {
			t.Errorf("%s.Allows(%s) = %v", tc.has, tc.need, got)
		}
	}
	for _, s := range []string{"viewer", "Operator", " ADMIN "} {
		if _, err := ParseRole(s); err != nil {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
	if _, err := ParseRole("root"); err == nil || !strings.Contains(err.Error(), "viewer, operator or admin") {
		t.Errorf("ParseRole(root) = %v", err)
	}
}

func TestCheckNameAndPassword(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{"pharm01": true, "王药师": true, "a.b-c_d@x": true, "": false, "a b": false, "x/y": false, strings.Repeat("a", 65): false} {
		if err := CheckName(name); (err == nil) != ok {
			t.Errorf("CheckName(%q) = %v", name, err)
		}
	}
	if err := CheckPassword("short"); err == nil || !strings.Contains(err.Error(), "at least 10") {
		t.Errorf("short password: %v", err)
	}
	if err := CheckPassword("长一点的中文密码十个字"); err != nil {
		t.Errorf("ten Chinese characters: %v", err)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLockout(3, 10*time.Minute, func() time.Time { return now })
	for i := range 3 {
		if l.Locked("amy", "10.0.0.1") != 0 {
			t.Fatalf("locked after %d failures", i)
		}
		locked := l.Fail("amy", "10.0.0.1")
		if locked != (i == 2) {
			t.Fatalf("failure %d: locked = %v", i+1, locked)
		}
		now = now.Add(time.Minute)
	}
	if w := l.Locked("amy", "10.0.0.1"); w != 9*time.Minute {
		t.Fatalf("wait = %v, want 9m (10m after the last failure)", w)
	}
	if l.Locked("amy", "10.0.0.2") != 0 || l.Locked("bob", "10.0.0.1") != 0 {
		t.Fatal("the lockout spread to another address or user")
	}
	now = now.Add(9 * time.Minute)
	if l.Locked("amy", "10.0.0.1") != 0 {
		t.Fatal("still locked after the window")
	}
	l.Fail("amy", "10.0.0.1")
	l.Succeed("amy", "10.0.0.1")
	l.Fail("amy", "10.0.0.1")
	l.Fail("amy", "10.0.0.1")
	if l.Locked("amy", "10.0.0.1") != 0 {
		t.Fatal("a success did not reset the failures")
	}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	p, err := NewProxy("x-remote-user", "X-Remote-Role", []string{"10.0.0.0/24", "192.168.1.9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewProxy("", "", []string{"10.0.0.0/33", "proxy.local", "10.1.0.0/16"}); err == nil ||
		!strings.Contains(err.Error(), `"10.0.0.0/33"`) || !strings.Contains(err.Error(), `"proxy.local"`) {
		t.Fatalf("bad CIDRs: %v", err)
	}
	for _, tc := range []struct {
		name, remote, xff, user string
		addr, gotUser, gotRole  string
	}{
		{"direct client", "172.16.0.9:5000", "1.2.3.4", "mallory", "172.16.0.9", "", ""},
		{"through the proxy", "10.0.0.5:5000", "172.16.0.9", "amy", "172.16.0.9", "amy", "operator"},
		{"spoofed chain through the proxy", "10.0.0.5:5000", "6.6.6.6, 172.16.0.9", "amy", "172.16.0.9", "amy", "operator"},
		{"two trusted proxies", "192.168.1.9:5000", "172.16.0.9, 10.0.0.7", "", "172.16.0.9", "", ""},
		{"malformed chain", "10.0.0.5:5000", "not-an-ip", "", "10.0.0.5", "", ""},
		{"no chain", "10.0.0.5:5000", "", "", "10.0.0.5", "", ""},
	} {
		r := httptest.NewRequest("GET", "/console/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.user != "" {
			r.Header.Set("X-Remote-User", tc.user)
			r.Header.Set("X-Remote-Role", "operator")
		}
		if got := p.ClientAddr(r); got != tc.addr {
			t.Errorf("%s: ClientAddr = %q, want %q", tc.name, got, tc.addr)
		}
		u, role, _ := p.Identity(r)
		if u != tc.gotUser || role != tc.gotRole {
			t.Errorf("%s: Identity = %q %q, want %q %q", tc.name, u, role, tc.gotUser, tc.gotRole)
		}
	}
	var none *Proxy
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.5:1"
	if none.ClientAddr(r) != "10.0.0.5" {
		t.Fatal("nil proxy")
	}
}

// TestLockoutPerUser: failures for one user from many addresses, each
// under the per-address lockout, bound the user's checked sign-ins from
// new addresses to one a turn, turns doubling; an address the user signed
// in from is not slowed down; a whole window without a failure ends the
// count; names sprayed once each do not push the count out.
func TestLockoutPerUser(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLockout(3, 10*time.Minute, func() time.Time { return now }).PerUser(4, time.Minute)
	l.Succeed("amy", "10.0.0.1")
	for i := range 4 {
		addr := fmt.Sprintf("10.9.0.%d", i)
		if r := l.Begin("amy", addr); r.Wait != 0 {
			t.Fatalf("guess %d refused before the bound: %+v", i+1, r)
		}
		l.Fail("amy", addr)
	}
	steps := []struct {
		name, user, addr string
		advance          time.Duration
		fail             bool
		want             Refusal
	}{
		{"past the bound a new address waits", "amy", "10.9.1.1", 0, false, Refusal{Wait: time.Second, AllAddresses: true}},
		{"the address amy signed in from does not", "amy", "10.0.0.1", 0, false, Refusal{}},
		{"another user does not", "bob", "10.9.1.1", 0, false, Refusal{}},
		{"after the turn one is checked", "amy", "10.9.1.2", time.Second, true, Refusal{}},
		{"the turn doubled", "amy", "10.9.1.3", 0, false, Refusal{Wait: 2 * time.Second, AllAddresses: true}},
		{"one checked takes the turn at once", "amy", "10.9.1.4", 2 * time.Second, false, Refusal{}},
		{"so the next, sent at the same time, waits", "amy", "10.9.1.5", 0, false, Refusal{Wait: 2 * time.Second, AllAddresses: true}},
		{"after the turn another is checked", "amy", "10.9.1.6", 2 * time.Second, true, Refusal{}},
		{"and the turn doubled again", "amy", "10.9.1.7", 0, false, Refusal{Wait: 4 * time.Second, AllAddresses: true}},
		{"a window without failures after the turn ends the count", "amy", "10.9.1.8", 11 * time.Minute, false, Refusal{}},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got := l.Begin(s.user, s.addr)
		if got != s.want {
			t.Errorf("%s: Begin = %+v, want %+v", s.name, got, s.want)
		}
		if s.fail {
			l.Fail(s.user, s.addr)
		}
	}
	for i := range 20 {
		l.Fail("carl", fmt.Sprintf("10.8.0.%d", i))
	}
	if w := l.userWait(l.users["carl"].failures); w != time.Minute {
		t.Errorf("after 20 failures the turn is %v, want the cap 1m", w)
	}
	// A user under attack keeps the count while sprayed names fill the table.
	for i := range maxUserKeys + 10 {
		l.Fail(fmt.Sprintf("spray-%d", i), "10.7.0.1")
	}
	if r := l.Begin("carl", "10.9.9.9"); !r.AllAddresses {
		t.Errorf("names sprayed once each pushed out the count of a user under attack: %+v", r)
	}
}
