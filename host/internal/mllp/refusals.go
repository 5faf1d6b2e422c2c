package mllp

import (
	"net"
	"sync"
	"time"
)

// Reasons a connection is refused, the values of the reason label of
// medgate_mllp_refused_connections_total.
const (
	refusedAllowFrom      = "allowFrom"      // the peer's address is not in allowFrom
	refusedMaxConnections = "maxConnections" // the listener had maxConnections open
)

// Reasons a connection ends on a framing error, the values of the reason
// label of medgate_mllp_framing_errors_total.
const (
	framingStartBlockInFrame = "startBlockInFrame" // a start block inside a frame: an end block lost
	framingEndedInFrame      = "endedInFrame"      // the peer closed the connection inside a frame
	framingNoEndBlock        = "noEndBlock"        // a frame's end block did not come within readTimeout
	framingNoStartBlock      = "noStartBlock"      // more than maxMessageBytes bytes outside a frame
)

// tlsHandshakeFailed is the refusalLog reason of a failed TLS handshake
// (counted in medgate_mllp_connections_total{result="tls"}).
const tlsHandshakeFailed = "tlsHandshake"

// refusalLogEvery is how often, at most, a WARN is logged for the
// connections one address has refused for one reason after the first.
const refusalLogEvery = time.Minute

// maxRefusalPeers is how many addresses a refusalLog tells apart.
const maxRefusalPeers = 1024

// refusalLog decides which refused connections are logged, so that a
// scanner or a misconfigured sender reconnecting in a loop does not flood
// the log: the first refusal of an address for a reason is logged, then at
// most one every refusalLogEvery, saying how many were refused meanwhile.
// The WARNs of failed TLS handshakes (reason tlsHandshakeFailed) and of
// connections ended by a framing error (the framing* reasons) are
// rate-limited by the same refusalLog, in the same way: a sender that
// resends a broken frame, or a scanner hitting a TLS listener, is logged
// once a minute.
// It tells apart maxPeers addresses, forgetting those not logged for
// refusalLogEvery when it must; the refusals of the addresses it cannot
// tell apart (a scan from many addresses within a minute) are logged
// together, in the same way. It is safe for concurrent use.
type refusalLog struct {
	now      func() time.Time // the clock (time.Now; a test's fake)
	maxPeers int

	mu     sync.Mutex
	peers  map[refusalKey]*refusalPeer
	others map[string]*refusalPeer // by reason: the addresses not told apart
}

// refusalKey is an address (without its port: each connection has
// another) and the reason its connections are refused.
type refusalKey struct{ reason, addr string }

// refusalPeer is what a refusalLog remembers of a refusalKey.
type refusalPeer struct {
	logged   time.Time // when a refusal was last logged
	unlogged int       // refusals since, not logged
}

func newRefusalLog() *refusalLog {
	return &refusalLog{now: time.Now, maxPeers: maxRefusalPeers, peers: map[refusalKey]*refusalPeer{}, others: map[string]*refusalPeer{}}
}

// refusal is what a refusalLog decided about one refused connection.
type refusal struct {
	log      bool // log this refusal
	unlogged int  // refusals of the same address and reason not logged since the last one logged
	shared   bool // the address is one of those the refusalLog cannot tell apart
}

// note records a refused connection from addr for reason and says whether
// to log it.
func (l *refusalLog) note(reason string, addr net.Addr) refusal {
	now := l.now()
	key := refusalKey{reason, peerHost(addr)}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peers[key]
	shared := false
	if p == nil && len(l.peers) >= l.maxPeers {
		l.forget(now)
		if len(l.peers) >= l.maxPeers {
			shared, p = true, l.others[reason]
		}
	}
	if p == nil {
		if shared {
			l.others[reason] = &refusalPeer{logged: now}
		} else {
			l.peers[key] = &refusalPeer{logged: now}
		}
		return refusal{log: true, shared: shared}
	}
	if now.Sub(p.logged) < refusalLogEvery {
		p.unlogged++
		return refusal{shared: shared}
	}
	r := refusal{log: true, unlogged: p.unlogged, shared: shared}
	p.logged, p.unlogged = now, 0
	return r
}

// forget drops the addresses not logged for refusalLogEvery (their next
// refusal is logged at once in any case); the count of their refusals not
// logged is lost from the log, not from the metric.
func (l *refusalLog) forget(now time.Time) {
	for k, p := range l.peers {
		if now.Sub(p.logged) >= refusalLogEvery {
			delete(l.peers, k)
		}
	}
}

// peerHost is a peer's IP address, or its whole address when it has none.
func peerHost(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return a.String()
}
