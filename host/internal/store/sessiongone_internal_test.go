package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

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
