package access

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxy trusts a reverse proxy in front of medgate: requests from its
// addresses may name the signed-in user (and role) in headers, and their
// X-Forwarded-For names the real client. The same headers from any other
// address are ignored, so nobody can claim an identity by sending them.
type Proxy struct {
	// UserHeader carries the user's name (e.g. X-Remote-User); empty: no
	// external identity, only the forwarded client address is used.
	UserHeader string
	// RoleHeader carries the role (viewer, operator, admin); empty: the
	// role is the medgate user's of the same name.
	RoleHeader string
	trusted    []netip.Prefix
}

// NewProxy returns a proxy trusted at the given CIDRs (a bare address is
// one host). It reports every malformed entry at once.
func NewProxy(userHeader, roleHeader string, cidrs []string) (*Proxy, error) {
	p := &Proxy{UserHeader: http.CanonicalHeaderKey(userHeader), RoleHeader: http.CanonicalHeaderKey(roleHeader)}
	var bad []string
	for _, c := range cidrs {
		pf, err := ParseCIDR(c)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		p.trusted = append(p.trusted, pf)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("trusted proxies: %s", strings.Join(bad, "; "))
	}
	return p, nil
}

// ParseCIDR reads "10.0.0.0/8" or a single address. An IPv4-mapped one
// ("::ffff:10.0.0.5", "::ffff:10.0.0.0/104", as a dual-stack listener
// logs IPv4 peers) is read as the IPv4 address or CIDR it is: a client
// address is compared as IPv4 (Trusts), which an IPv6 prefix never holds.
func ParseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if pf, err := netip.ParsePrefix(s); err == nil {
		if a := pf.Addr(); a.Is4In6() && pf.Bits() >= 96 {
			return netip.PrefixFrom(a.Unmap(), pf.Bits()-96).Masked(), nil
		}
		return pf.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR (write e.g. 10.0.0.5 or 10.0.0.0/24)", s)
}

// trusts reports whether addr is one of the proxy's.
func (p *Proxy) trusts(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	return p.Trusts(a)
}

// Trusts reports whether a is one of the proxy's addresses (false for a
// nil Proxy).
func (p *Proxy) Trusts(a netip.Addr) bool {
	if p == nil {
		return false
	}
	a = a.Unmap()
	for _, pf := range p.trusted {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// remote is the connection's address without the port.
func remote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ClientAddr is the address a request came from: the connection's, or,
// when that is a trusted proxy, the last address in X-Forwarded-For that
// is not a trusted proxy (the one the outermost trusted proxy saw),
// written canonically (an IPv4-mapped address as IPv4), without the
// port some proxies add (10.5.0.1:40001, [2001:db8::1]:443).
func (p *Proxy) ClientAddr(r *http.Request) string {
	addr := remote(r)
	if a, err := netip.ParseAddr(addr); err == nil {
		addr = a.Unmap().String()
	}
	if !p.trusts(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, ok := forwardedAddr(h)
		if !ok {
			return addr // a malformed chain: trust nothing in it
		}
		if !p.Trusts(a) {
			return a.String()
		}
	}
	return addr
}

// forwardedAddr reads one hop of X-Forwarded-For: an address, with or
// without a port, an IPv6 address with or without brackets.
func forwardedAddr(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	if in, ok := strings.CutPrefix(h, "["); ok {
		if in, ok := strings.CutSuffix(in, "]"); ok {
			if a, err := netip.ParseAddr(in); err == nil && a.Is6() {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// Identity returns the user (and role, "" without a role header) a trusted
// proxy vouches for; ok is false when the request does not come from a
// trusted proxy or names no user.
func (p *Proxy) Identity(r *http.Request) (user, role string, ok bool) {
	if p == nil || p.UserHeader == "" || !p.trusts(remote(r)) {
		return "", "", false
	}
	user = strings.TrimSpace(r.Header.Get(p.UserHeader))
	if user == "" {
		return "", "", false
	}
	if p.RoleHeader != "" {
		role = strings.TrimSpace(r.Header.Get(p.RoleHeader))
	}
	return user, role, true
}
