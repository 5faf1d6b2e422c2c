package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The ports testenv gives its servers are chosen below the kernel's
// ephemeral range, not by binding port 0. A port the kernel hands out for
// port 0 comes from the same range as the source ports of every outgoing
// connection and every other test's port 0, so between our probe and the
// server's bind (and across a KafkaBroker restart, which keeps its ports)
// any of them may take it; and two probes in a row may return the same
// port once the first listener is closed. Below the range only other
// servers choosing the same way compete, at random over thousands of ports.
const (
	portFloor         = 10000 // below are well-known and registered services
	ephemeralRangeSys = "/proc/sys/net/ipv4/ip_local_port_range"
	minSpread         = 1000 // fewer candidates than this: fall back to port 0
)

// freePorts returns n distinct TCP ports on host that were free a moment
// ago. It holds every probe's listener until all n are found, so the ports
// differ from each other, and it prefers ports outside the kernel's
// ephemeral range (see above).
func freePorts(host string, n int) ([]int, error) {
	lo, hi := portFloor, 0
	if eLo, _, err := ephemeralRange(); err == nil {
		hi = eLo - 1
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	var errs []error
	for len(ports) < n {
		port := 0 // the kernel's choice, when there is no room below its range
		if hi-lo+1 >= minSpread {
			if len(errs) > 50 {
				return nil, fmt.Errorf("find %d free ports on %s between %d and %d: %w", n, host, lo, hi, errors.Join(errs[:3]...))
			}
			port = lo + rand.IntN(hi-lo+1)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			if port == 0 {
				return nil, fmt.Errorf("find a free port on %s: %w", host, err)
			}
			errs = append(errs, err) // taken: try another
			continue
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ephemeralRange reads the kernel's range of ports for port 0 and
// outgoing connections (Linux only; elsewhere an error).
func ephemeralRange() (lo, hi int, err error) {
	b, err := os.ReadFile(ephemeralRangeSys)
	if err != nil {
		return 0, 0, err
	}
	return parsePortRange(string(b))
}

// parsePortRange parses ip_local_port_range's "low<TAB>high\n".
func parsePortRange(s string) (lo, hi int, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("port range %q: want two numbers", s)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("port range %q: %w", s, err)
	}
	if lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("port range %q: not 1 ≤ low ≤ high ≤ 65535", s)
	}
	return lo, hi, nil
}

// FreeAddr returns "127.0.0.1:port" for a port that was free a moment ago,
// chosen like the ports of testenv's own servers: for a server a test
// starts itself on a known address (an embedded broker, a broker that is
// not up yet).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ports, err := freePorts("127.0.0.1", 1)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
}
