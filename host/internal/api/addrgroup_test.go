package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
)

// TestTokenLimiterGroupsIPv6By64: the Bearer-token failure limiter
// counts an IPv6 client by its /64, as the sign-in lockout does
// (access.LockAddr): a guesser holding a /64 does not start afresh at
// each of its addresses. Before, it counted each full address, so 5
// failures each from any number of addresses of one /64 were never
// slowed down. Another /64, and an IPv4 address, count apart.
func TestTokenLimiterGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		guesses []string // a failure from each
		then    string   // the right token from here
		want    int
	}{
		"the same /64":               {guesses: addrs("2001:db8:1:2::%d", freeFailures), then: "2001:db8:1:2:ffff::1", want: http.StatusTooManyRequests},
		"the same address":           {guesses: repeat("2001:db8:1:2::1", freeFailures), then: "2001:db8:1:2::1", want: http.StatusTooManyRequests},
		"another /64":                {guesses: addrs("2001:db8:1:2::%d", freeFailures), then: "2001:db8:1:3::1", want: http.StatusOK},
		"IPv4 addresses count apart": {guesses: addrs("10.1.0.%d", freeFailures), then: "10.1.0.99", want: http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
			srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, AdminToken: signInToken,
				Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Proxy: proxy, Now: clock.now, Audit: testAudit(nil)}))
			t.Cleanup(srv.Close)
			call := func(from, token string) int {
				req, _ := http.NewRequest("GET", srv.URL+"/admin/plugins", nil)
				req.Header.Set("X-Forwarded-For", from)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for _, from := range tc.guesses {
				if code := call(from, "a-wrong-token-0123456789"); code != http.StatusUnauthorized {
					t.Fatalf("a wrong token from %s: %d, want 401", from, code)
				}
			}
			if code := call(tc.then, signInToken); code != tc.want {
				t.Errorf("the right token from %s after %d failures from %v: %d, want %d", tc.then, len(tc.guesses), tc.guesses, code, tc.want)
			}
		})
	}
}

// addrs is n addresses of format (with %d: 1 … n).
func addrs(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i+1)
	}
	return out
}

// repeat is n times addr.
func repeat(addr string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = addr
	}
	return out
}

// fakeListener hands out the connections sent on conns, each from the
// address it names.
type fakeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *fakeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// fromConn is one end of a pipe that says it comes from remote.
type fromConn struct {
	net.Conn
	remote net.Addr
}

func (c fromConn) RemoteAddr() net.Addr { return c.remote }

// TestConnectionCapGroupsIPv6By64: the connections-per-address cap
// counts an IPv6 client by its /64, as the sign-in lockout does: one host
// or LAN holding a /64 cannot take every connection by opening each from
// another of its addresses. Before, each full address had its own cap.
// Another /64 and IPv4 addresses count apart.
func TestConnectionCapGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		first, second string
		refused       bool
	}{
		"the same /64":       {first: "[2001:db8:1:2::1]:40000", second: "[2001:db8:1:2::2]:40001", refused: true},
		"the same address":   {first: "[2001:db8:1:2::1]:40000", second: "[2001:db8:1:2::1]:40001", refused: true},
		"another /64":        {first: "[2001:db8:1:2::1]:40000", second: "[2001:db8:1:3::1]:40001"},
		"two IPv4 addresses": {first: "10.1.0.1:40000", second: "10.1.0.2:40001"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fl := &fakeListener{conns: make(chan net.Conn, 3), done: make(chan struct{})}
			refused := make(chan netip.Addr, 3)
			ln := &perAddrListener{Listener: fl, limits: ConnLimits{PerAddress: 1, Refused: func(a netip.Addr) { refused <- a }},
				open: map[string]int{}, refusing: make(chan struct{}, maxRefusing)}
			t.Cleanup(func() { ln.Close() })
			conn := func(addr string) net.Conn {
				a, b := net.Pipe()
				t.Cleanup(func() { a.Close(); b.Close() })
				return fromConn{Conn: a, remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
			}
			// The third, from elsewhere, is always taken: once Accept
			// returns it, the second was either taken or refused.
			for _, addr := range []string{tc.first, tc.second, "192.0.2.1:1"} {
				fl.conns <- conn(addr)
			}
			var got []string
			for range 3 {
				if len(got) > 0 && got[len(got)-1] == "192.0.2.1:1" {
					break
				}
				c, err := ln.Accept()
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						break
					}
					t.Fatal(err)
				}
				got = append(got, c.RemoteAddr().String())
			}
			wasRefused := len(refused) > 0
			if wasRefused != tc.refused {
				t.Errorf("connections from %s then %s with a cap of 1: taken %v, refused %v, want refused %v", tc.first, tc.second, got, wasRefused, tc.refused)
			}
		})
	}
}
