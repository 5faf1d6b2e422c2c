// Package origin decides whether a browser request was sent by medgate's
// own pages or by another site's page (cross-site request forgery).
//
// Browsers say where a request comes from in three headers, and the
// checker trusts the most precise one present:
//
//  1. Sec-Fetch-Site (every current browser): "same-origin" passes;
//     "none" (the user typed the address or opened a bookmark) passes only
//     for safe methods (GET, HEAD, OPTIONS); "same-site" and "cross-site"
//     are refused.
//  2. Origin: its scheme and host must be the request's own (the scheme of
//     the connection, the Host header) or one of the public origins the
//     console is reached at through a reverse proxy. "null" (sent from
//     sandboxed frames, or with Referrer-Policy: no-referrer) is refused.
//  3. Referer, when neither is sent: compared like Origin. medgate's pages
//     send Referrer-Policy: same-origin, so a browser names the page in
//     every same-origin request and in no other.
//
// A request with none of them is not from a current browser: [Checker.Check]
// reports it as [Unknown], and each caller decides (the console refuses
// unsafe methods; the admin API, used by the CLI and scripts with a token,
// accepts them).
package origin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Verdict is what the headers say about a request's origin.
type Verdict int

// The verdicts.
const (
	// Unknown: no Sec-Fetch-Site, Origin or Referer (not a browser, or a
	// very old one).
	Unknown Verdict = iota
	// Same: the request comes from this server's own pages (or the user
	// navigated to it directly, for safe methods).
	Same
	// Cross: the request comes from another site's page.
	Cross
)

func (v Verdict) String() string {
	switch v {
	case Same:
		return "same-origin"
	case Cross:
		return "cross-site"
	}
	return "unknown"
}

// Result is a verdict with the header that decided it, for logs and
// error pages.
type Result struct {
	Verdict Verdict
	// Reason says which header decided and what it said.
	Reason string
}

// Checker checks requests against the server's own origin and the
// configured public origins.
type Checker struct {
	public map[string]bool // "scheme://host[:port]", lowercase
}

// New returns a checker that also accepts the given public origins
// ("https://medgate.hospital.example", with a port when it is not the
// scheme's default). It reports every malformed entry at once.
func New(publicOrigins []string) (*Checker, error) {
	c := &Checker{public: map[string]bool{}}
	var bad []string
	for _, o := range publicOrigins {
		n, err := Normalize(o)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		c.public[n] = true
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("public origins: %s", strings.Join(bad, "; "))
	}
	return c, nil
}

// Normalize returns an origin as "scheme://host[:port]" in lowercase, the
// scheme's default port left out, or an error saying how to write it.
func Normalize(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an origin: write the scheme and host (and port if not the default) only, e.g. https://medgate.hospital.example", o)
	}
	return originOf(u.Scheme, u.Host), nil
}

// originOf joins scheme and host, dropping the scheme's default port.
func originOf(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host
}

// own is the origin the request was addressed to: the connection's
// scheme and the Host header.
func own(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return originOf(scheme, r.Host)
}

// safe reports whether a method does not change anything.
func safe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// Check judges where r comes from (see the package documentation).
func (c *Checker) Check(r *http.Request) Result {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		switch {
		case site == "same-origin":
			return Result{Same, "Sec-Fetch-Site: same-origin"}
		case site == "none" && safe(r.Method):
			return Result{Same, "Sec-Fetch-Site: none (typed or bookmarked address)"}
		case site == "none":
			return Result{Cross, "Sec-Fetch-Site: none on a " + r.Method + " (not sent from a page)"}
		}
		return Result{Cross, "Sec-Fetch-Site: " + site}
	}
	if o := r.Header.Get("Origin"); o != "" {
		if o == "null" {
			return Result{Cross, "Origin: null (an opaque origin)"}
		}
		return c.compare("Origin", o, r)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return c.compare("Referer", ref, r)
	}
	return Result{Unknown, "no Sec-Fetch-Site, Origin or Referer header"}
}

func (c *Checker) compare(header, value string, r *http.Request) Result {
	u, err := url.Parse(value)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Result{Cross, header + " is not a URL"}
	}
	got := originOf(u.Scheme, u.Host)
	if got == own(r) || (c != nil && c.public[got]) {
		return Result{Same, header + ": " + got}
	}
	return Result{Cross, header + ": " + got + " is neither " + own(r) + " nor a configured public origin"}
}
