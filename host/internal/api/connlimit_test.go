package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dialFrom opens a TCP connection to addr from the loopback address
// local (127.0.0.2 is another client than 127.0.0.1 on Linux).
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestOneAddressCannotTakeEveryConnection: one address opening idle
// connections gets at most the per-address cap served; each one past it
// is answered 429 too_many_connections at once and closed, so other
// clients still get in (before, they waited in the kernel's backlog until
// the idle ones timed out); the idle ones it holds are closed after the
// header timeout; and one client sending many requests over one
// keep-alive connection is served on that one connection.
func TestOneAddressCannotTakeEveryConnection(t *testing.T) {
	t.Parallel()
	const global, perAddr = 8, 3
	ln := listenCapped(t, global, perAddr)
	var opened atomic.Int64
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }),
		Timeouts{ReadHeader: 2 * time.Second, Read: 5 * time.Second, Write: 5 * time.Second, Idle: time.Minute})
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew && strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.1:") {
			opened.Add(1)
		}
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	// The attacker: as many idle connections as the whole server takes.
	var idle []net.Conn
	for range global {
		idle = append(idle, dialFrom(t, "127.0.0.2", addr))
	}
	// Another client gets in at once, and its keep-alive connection
	// serves many requests.
	client := &http.Client{Timeout: 1500 * time.Millisecond, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}).DialContext, MaxIdleConnsPerHost: 1}}
	t.Cleanup(client.CloseIdleConnections)
	for i := range 50 {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("request %d of another client while one address holds idle connections: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("50 requests of one client opened %d connections, want 1 (keep-alive)", n)
	}

	for _, tc := range []struct {
		name string
		conn int // index into idle
		want string
	}{
		{"the first past the cap is refused with 429", perAddr, "HTTP/1.1 429 "},
		{"and so is the last", global - 1, "HTTP/1.1 429 "},
	} {
		c := idle[tc.conn]
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if !strings.HasPrefix(line, tc.want) {
			t.Errorf("%s: read %q (%v), want %q", tc.name, line, err, tc.want)
		}
	}

	// A request of that address past the cap reads the refusal (the
	// request it sent does not make the close reset the connection first).
	attacker := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	resp, err := attacker.Post("http://"+addr+"/v1/messages", "application/json", strings.NewReader(`{"id":"m-1"}`))
	if err != nil {
		t.Fatalf("a request past the per-address cap: %v, want the 429 answer", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"code":"too_many_connections"`) ||
		!strings.Contains(string(body), "http.maxConnectionsPerAddress") {
		t.Errorf("a request past the per-address cap: %d %q %s, want 429 too_many_connections naming the setting", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// The idle connections the attacker holds under the cap are closed
	// by the server once the header timeout has passed.
	for i := range perAddr {
		_ = idle[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := idle[i].Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
			t.Errorf("idle connection %d was not closed by the server after its header timeout: %v", i, err)
		}
	}
}

// listenCapped listens on a free loopback port with global and
// per-address caps.
func listenCapped(t *testing.T, global, perAddr int) net.Listener {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", ConnLimits{Max: global, PerAddress: perAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestTrustedProxyNotCappedPerAddress: the per-address cap does not apply
// to the addresses ConnLimits.Exempt names (the daemon passes the trusted
// reverse proxies, whose connections carry many clients), and counts
// other addresses apart.
func TestTrustedProxyNotCappedPerAddress(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParseAddr("127.0.0.3")
	ln, err := Listen("127.0.0.1:0", ConnLimits{Max: 16, PerAddress: 2, Exempt: func(a netip.Addr) bool { return a == proxy }})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }),
		Timeouts{ReadHeader: 5 * time.Second, Read: 5 * time.Second, Write: 5 * time.Second, Idle: time.Minute})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	for _, tc := range []struct {
		from string
		want string
	}{
		{"127.0.0.3", "HTTP/1.1 200 "},
		{"127.0.0.4", "HTTP/1.1 429 "},
	} {
		var conns []net.Conn
		for range 4 {
			conns = append(conns, dialFrom(t, tc.from, ln.Addr().String()))
		}
		c := conns[3]
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if !strings.HasPrefix(line, tc.want) {
			t.Errorf("the 4th connection from %s: %q (%v), want %q", tc.from, line, err, tc.want)
		}
	}
}
