package api

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// hostAllowed reports whether a request's Host names this server: an IP
// address (a DNS-rebinding page always uses a name), "localhost", or one of
// the configured names (an entry starting with "." matches every name
// under it).
func hostAllowed(host string, allowed []string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil || h == "localhost" {
		return true
	}
	for _, a := range allowed {
		a = strings.ToLower(a)
		if h == a || (strings.HasPrefix(a, ".") && strings.HasSuffix(h, a)) {
			return true
		}
	}
	return false
}

// checkHost refuses requests whose Host is not this server's (DNS
// rebinding: a foreign page that resolves its own name to medgate).
func (s *server) checkHost(next http.Handler) http.Handler {
	return s.h(func(w http.ResponseWriter, r *http.Request) error {
		if !hostAllowed(r.Host, s.o.AllowedHosts) {
			return &Error{Status: http.StatusMisdirectedRequest, Code: "host_not_allowed",
				Message: "the Host header does not name this medgate; call it by its IP address, localhost, or a name listed in http.allowedHosts"}
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// guard protects the ingress and admin API from browsers: a request from
// another site (a foreign Origin, or Sec-Fetch-Site: cross-site) is
// refused, no CORS header is ever sent, and a body must be JSON, so a
// cross-site page cannot POST a form or text/plain. A POST with no body
// and no Content-Type (curl -X POST, the CLI) is accepted.
func (s *server) guard(next http.Handler) http.Handler {
	return s.h(func(w http.ResponseWriter, r *http.Request) error {
		if err := sameOrigin(r); err != nil {
			return err
		}
		ct := r.Header.Get("Content-Type")
		if r.Method != http.MethodGet && r.Method != http.MethodHead && (ct != "" || r.ContentLength != 0) {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || mt != "application/json" {
				return &Error{Status: http.StatusUnsupportedMediaType, Code: "content_type",
					Message: "send the body as JSON with Content-Type: application/json"}
			}
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// sameOrigin refuses a request a browser sent on behalf of another site.
func sameOrigin(r *http.Request) error {
	refuse := &Error{Status: http.StatusForbidden, Code: "cross_origin",
		Message: "requests from web pages of other sites are refused; call medgate from a server or the medgate console"}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return refuse
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return refuse
	}
	return nil
}
