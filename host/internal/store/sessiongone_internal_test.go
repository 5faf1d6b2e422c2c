package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestSessionGone: a BEGIN runs again only after errors that say the
// session it was sent on is gone, never after a refused connection (the
// server is down: a new session fails too), a caller giving up, or an
// error of the statement itself.
func TestSessionGone(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"terminated by administrator (57P01)", &pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01"}, true},
		{"crash of another server process (57P02)", &pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P02"}, true},
		{"localized FATAL", &pgconn.PgError{Severity: "致命错误", SeverityUnlocalized: "FATAL", Code: "57P01"}, true},
		{"PANIC", &pgconn.PgError{Severity: "PANIC", Code: "XX000"}, true},
		{"connection failure (08006)", &pgconn.PgError{Severity: "ERROR", Code: "08006"}, true},
		{"wrapped", fmt.Errorf("begin transaction: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}), true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"EOF", io.EOF, true},
		{"pgx closed the session", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, true},
		{"server down: connection refused", &pgconn.ConnectError{Config: &pgconn.Config{Host: "127.0.0.1", Port: 5432}}, false},
		{"server starting (57P03) on connect", &pgconn.ConnectError{Config: &pgconn.Config{}}, false},
		{"read timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"read-only transaction (25006)", &pgconn.PgError{Severity: "ERROR", Code: "25006"}, false},
		{"deadlock (40P01)", &pgconn.PgError{Severity: "ERROR", Code: "40P01"}, false},
		{"other", errors.New("something else"), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sessionGone(tc.err); got != tc.want {
				t.Errorf("sessionGone(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestSessionEnded: an idle session whose peer wrote nothing is live; one
// whose peer sent a message (the server's FATAL before it ends a session)
// or closed it, or that was reset, is ended. The check takes nothing
// from the socket, and never waits: not even while another goroutine
// is blocked reading the connection (pgx's background reader, started by
// a write slower than 15 ms, goes on waiting for the server's next bytes
// on a session back in the pool), which held the check, and the
// pool's Acquire, until the server sent something.
func TestSessionEnded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sessionEnded looks at the socket on Linux only")
	}
	tests := []struct {
		name string
		peer func(c *net.TCPConn) // what the server side does
		want bool
		// reading: another goroutine is blocked reading the client side
		// while the check runs.
		reading bool
	}{
		{"idle", func(*net.TCPConn) {}, false, false},
		{"idle, read in progress", func(*net.TCPConn) {}, false, true},
		{"FATAL waiting", func(c *net.TCPConn) { c.Write([]byte("E\x00\x00\x00\x04")) }, true, false},
		{"closed", func(c *net.TCPConn) { c.Close() }, true, false},
		{"reset", func(c *net.TCPConn) { c.SetLinger(0); c.Close() }, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			client, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			tc.peer(server.(*net.TCPConn))
			check := func() bool { return sessionEnded(client) }
			if tc.reading {
				// The reader takes one byte, then waits in Read for the
				// next; the check runs again and again meanwhile, so that
				// it also runs while the reader waits.
				if _, err := server.Write([]byte{0}); err != nil {
					t.Fatal(err)
				}
				first, read := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(read)
					var b [1]byte
					client.Read(b[:])
					close(first)
					client.Read(b[:]) // until the test closes the connection
				}()
				defer func() { client.Close(); <-read }()
				<-first
				check = func() bool {
					ended := false
					for deadline := time.Now().Add(50 * time.Millisecond); !ended && time.Now().Before(deadline); {
						ended = sessionEnded(client)
					}
					return ended
				}
			}
			done := make(chan bool, 1)
			go func() { done <- check() }()
			var got bool
			select {
			case got = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("sessionEnded has not returned in 5s: it waits for the socket")
			}
			if tc.want {
				// What the peer did reaches the client's socket a moment later.
				deadline := time.Now().Add(5 * time.Second)
				for !got && time.Now().Before(deadline) {
					got = sessionEnded(client)
				}
			}
			if got != tc.want {
				t.Errorf("sessionEnded = %v, want %v", got, tc.want)
			}
			if tc.name == "FATAL waiting" {
				buf := make([]byte, 5)
				if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "E\x00\x00\x00\x04" {
					t.Errorf("the check took bytes from the socket: read %q, %v", buf, err)
				}
			}
		})
	}
}
