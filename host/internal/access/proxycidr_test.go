package access

import (
	"net/http/httptest"
	"testing"
)

// TestTrustedProxyWrittenAsIPv4Mapped: a proxy whose address a dual-stack
// listener logs as ::ffff:10.0.0.5 may be listed that way in
// console.proxy.trusted, as a bare address or a CIDR; the client it
// forwards is then the client. Read as an IPv6 prefix, such a CIDR matched
// no connection (they are compared as IPv4), the proxy was silently not
// trusted, and every client behind it shared its address, each guesser
// locking a user out for all of them. A mapped CIDR covering every IPv4
// address is every address (refused by the configuration like 0.0.0.0/0).
// The connection's own address is written as IPv4 too.
func TestTrustedProxyWrittenAsIPv4Mapped(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		trusted, remote, xff, want string
	}{
		"bare mapped address":             {"::ffff:10.0.0.5", "10.0.0.5:4000", "172.16.0.9", "172.16.0.9"},
		"mapped CIDR":                     {"::ffff:10.0.0.0/120", "10.0.0.5:4000", "172.16.0.9", "172.16.0.9"},
		"mapped CIDR, mapped connection":  {"::ffff:10.0.0.0/120", "[::ffff:10.0.0.5]:4000", "172.16.0.9", "172.16.0.9"},
		"mapped CIDR, another address":    {"::ffff:10.0.0.0/120", "10.0.1.5:4000", "172.16.0.9", "10.0.1.5"},
		"IPv4 CIDR, mapped connection":    {"10.0.0.0/24", "[::ffff:10.0.0.5]:4000", "172.16.0.9", "172.16.0.9"},
		"untrusted mapped connection":     {"10.0.0.0/24", "[::ffff:10.9.0.5]:4000", "172.16.0.9", "10.9.0.5"},
		"IPv6 CIDR stays IPv6":            {"2001:db8::/64", "[2001:db8::5]:4000", "172.16.0.9", "172.16.0.9"},
		"IPv6 CIDR, IPv4 connection":      {"2001:db8::/64", "10.0.0.5:4000", "172.16.0.9", "10.0.0.5"},
		"mapped CIDR reaching past IPv4s": {"::ffff:0:0/95", "10.0.0.5:4000", "172.16.0.9", "10.0.0.5"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := NewProxy("", "", []string{tc.trusted})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("POST", "/console/login", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-For", tc.xff)
			if got := p.ClientAddr(r); got != tc.want {
				t.Errorf("trusted %s, connection from %s forwarding %s: client %q, want %q", tc.trusted, tc.remote, tc.xff, got, tc.want)
			}
		})
	}
	for in, bits := range map[string]int{"::ffff:0:0/96": 0, "::ffff:10.0.0.0/104": 8, "::ffff:10.0.0.5": 32, "::/0": 0} {
		if pf, err := ParseCIDR(in); err != nil || pf.Bits() != bits {
			t.Errorf("ParseCIDR(%q) = %v, %v; want %d bits", in, pf, err, bits)
		}
	}
}
