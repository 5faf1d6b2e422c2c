package api

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
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

// Listen listens on addr and accepts at most maxConns connections at once
// (0: no cap); further clients wait in the kernel's backlog.
func Listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w; choose another http.listen address", addr, err)
	}
	if maxConns > 0 {
		ln = netutil.LimitListener(ln, maxConns)
	}
	return ln, nil
}
