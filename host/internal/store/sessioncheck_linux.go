package store

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// sessionEnded says whether the server has ended the session on c: it
// looks, without waiting and without taking anything, at what is waiting
// to be read on an idle session's socket. A session the server ended
// (pg_terminate_backend, a restart, a failover) has its last message
// (FATAL 57P01 or 57P02) or the end of the stream there; a live idle
// session has nothing. Anything unexpected (bytes waiting: a notice, a
// parameter change) counts as ended too, which costs one new session.
// It is false when it cannot tell (a connection that is no socket).
func sessionEnded(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var rerr error
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for the socket to become readable
	})
	if err != nil {
		return true // the connection is closed
	}
	switch {
	case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EINTR):
		return false
	case rerr != nil:
		return true // a reset or another socket error
	default:
		return true // the end of the stream, or bytes an idle session must not have
	}
}
