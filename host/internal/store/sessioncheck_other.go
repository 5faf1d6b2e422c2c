//go:build !linux

package store

import "net"

// sessionEnded cannot tell on this system whether the server has ended
// the session on c (see the Linux version), and says it has not: a BEGIN
// or a read outside a transaction on such a session still runs again
// (see Postgres.beginAgain).
func sessionEnded(c net.Conn) bool { return false }
