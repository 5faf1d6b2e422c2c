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
//
// It looks through RawConn.Control, which holds no lock of the socket:
// RawConn.Read would wait for the connection's read lock, which pgx's
// background reader holds while it waits in Read for the server's next
// bytes. pgx starts that reader when a write takes more than 15 ms (a
// large statement, a loaded machine) and it may still wait so on a
// session back in the pool, idle: the check, and the pool's Acquire
// with it, would wait until the server sent something, which an idle
// session's server may never do. Such a reader may take the server's
// last message before the check sees it: the statement sent then fails
// on it, and a BEGIN or a read runs once more (see Postgres.beginAgain).
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
	err = raw.Control(func(fd uintptr) {
		// MSG_DONTWAIT: never wait for the socket to become readable.
		_, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
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
