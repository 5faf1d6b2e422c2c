package api

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/medgate/medgate/host/internal/access"
)

// Timeouts bound every phase of an HTTP connection, so slow or idle
// clients cannot hold connections (and memory) for ever.
type Timeouts struct {
	ReadHeader time.Duration // request line and headers
	Read       time.Duration // the whole request, body included
	Write      time.Duration // from the end of the headers to the end of the response
	Idle       time.Duration // a keep-alive connection waiting for its next request
}

// maxHeaderBytes bounds request headers (the default is 1 MiB).
const maxHeaderBytes = 64 << 10

// NewServer returns an HTTP server for h with every timeout set. Routes
// that wait longer than t.Write (the console's exports) extend their own
// write deadline.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// ConnLimits bound the connections the HTTP server serves.
type ConnLimits struct {
	// Max is how many connections are served at once (0: no cap); more
	// wait in the kernel's backlog (http.maxConnections).
	Max int
	// PerAddress is how many connections one client address may hold
	// open at once (0: no cap; http.maxConnectionsPerAddress). A
	// connection past it is answered at once with 429
	// too_many_connections and closed, and never takes one of Max, so
	// one address holding idle or slow connections cannot keep the other
	// clients out. Keep-alive connections count while they are open: a
	// client reusing its connections is not limited in its requests.
	PerAddress int
	// Exempt reports the addresses PerAddress does not apply to: a
	// trusted reverse proxy, whose connections carry many clients.
	Exempt func(netip.Addr) bool
	// Refused, when set, is told of every connection PerAddress refused
	// (a log line, a metric); it must not block.
	Refused func(netip.Addr)
}

// Listen listens on addr with the limits l.
func Listen(addr string, l ConnLimits) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w; choose another http.listen address", addr, err)
	}
	if l.PerAddress > 0 {
		// Inside the global cap: a refused connection takes no slot of it.
		ln = &perAddrListener{Listener: ln, limits: l, open: map[string]int{}, refusing: make(chan struct{}, maxRefusing)}
	}
	if l.Max > 0 {
		ln = netutil.LimitListener(ln, l.Max)
	}
	return ln, nil
}

// Bounds of the answers to refused connections: at most maxRefusing are
// answered at once (others are closed without an answer), each after
// the request's head (at most refuseHead bytes, or refuseGrace of
// waiting for it) and within refuseGrace, reading at most refuseDrain
// bytes of what the client sent so that closing does not reset the
// connection before it reads the answer.
const (
	maxRefusing = 64
	refuseGrace = time.Second
	refuseDrain = 64 << 10
	refuseHead  = 16 << 10
)

// perAddrListener caps the connections open at once from each address.
type perAddrListener struct {
	net.Listener
	limits   ConnLimits
	refusing chan struct{}

	mu sync.Mutex
	// open counts the connections open by address, as the sign-in
	// lockout counts addresses (access.LockAddr): an IPv6 client by its
	// /64, which one host or LAN holds whole, an IPv4 client alone.
	open map[string]int
}

// Accept returns the next connection within the per-address cap; those
// past it are answered and closed meanwhile.
func (l *perAddrListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil
		}
		a := ap.Addr().Unmap()
		if l.limits.Exempt != nil && l.limits.Exempt(a) {
			return c, nil
		}
		k := access.LockAddr(a.String())
		l.mu.Lock()
		n := l.open[k]
		if n >= l.limits.PerAddress {
			l.mu.Unlock()
			l.refuse(c, a)
			continue
		}
		l.open[k] = n + 1
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(k) }}, nil
	}
}

func (l *perAddrListener) release(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[k] <= 1 {
		delete(l.open, k)
		return
	}
	l.open[k]--
}

// refuse answers c, from a, with 429 too_many_connections and closes it,
// without holding up Accept.
func (l *perAddrListener) refuse(c net.Conn, a netip.Addr) {
	if l.limits.Refused != nil {
		l.limits.Refused(a)
	}
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		// Read the request's head first (or wait refuseGrace for one):
		// an HTTP client takes an answer that comes before its request
		// as unsolicited and drops it with the connection (Go's
		// Transport does), so the client would see a reset, not 429.
		_ = c.SetReadDeadline(time.Now().Add(refuseGrace))
		readHead(c)
		_ = c.SetDeadline(time.Now().Add(refuseGrace))
		_, _ = io.WriteString(c, tooManyConnections(l.limits.PerAddress))
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.CopyN(io.Discard, c, refuseDrain)
	}()
}

// readHead reads from c until the end of an HTTP request head, an error
// (a read deadline) or refuseHead bytes, whichever comes first.
func readHead(c net.Conn) {
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 1024)
	for len(buf) < refuseHead {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, []byte("\r\n\r\n")) || err != nil {
			return
		}
	}
}

// tooManyConnections is the whole HTTP answer to a connection past the
// per-address cap of perAddr.
func tooManyConnections(perAddr int) string {
	body := `{"code":"too_many_connections","message":"this address already has ` + strconv.Itoa(perAddr) +
		` connections open to medgate (http.maxConnectionsPerAddress); reuse them (keep-alive) or close idle ones, then connect again; if many clients share this address (a proxy or NAT), list a proxy in console.proxy.trusted or raise http.maxConnectionsPerAddress"}` + "\n"
	return "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// countedConn releases its address's count once, when closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite lets the HTTP server close its side gracefully, as it does
// on a bare TCP connection.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
