package api

import (
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/medgate/medgate/host/internal/api/origin"
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
// refused (package origin), no CORS header is ever sent, and a body must be JSON, so a
// cross-site page cannot POST a form or text/plain. A POST with no body
// and no Content-Type (curl -X POST, the CLI) is accepted.
func (s *server) guard(next http.Handler) http.Handler {
	return s.h(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.sameOrigin(r); err != nil {
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

// sameOrigin refuses a request a browser sent on behalf of another site
// (package origin decides). A request with no browser headers at all (the
// CLI, curl, a HIS server) is not a browser's and passes: it still needs
// its token.
func (s *server) sameOrigin(r *http.Request) error {
	if res := s.origins.Check(r); res.Verdict == origin.Cross {
		return &Error{Status: http.StatusForbidden, Code: "cross_origin",
			Message: "requests from web pages of other sites are refused (" + res.Reason + "); call medgate from a server or the medgate console, or list the address the console is reached at in console.publicOrigins"}
	}
	return nil
}
