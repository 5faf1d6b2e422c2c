package origin

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
)

// hdr is a header set as a browser sends it.
type hdr map[string]string

func TestCheck(t *testing.T) {
	public := []string{"https://medgate.hospital.example", "https://console.hospital.example:8443/"}
	cases := []struct {
		name   string
		method string
		host   string
		tls    bool
		h      hdr
		want   Verdict
	}{
		{"chrome same-origin form post", "POST", "127.0.0.1:8080", false, hdr{
			"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1",
			"Origin": "http://127.0.0.1:8080", "Referer": "http://127.0.0.1:8080/console/login"}, Same},
		{"chrome form post under Referrer-Policy no-referrer (Origin null)", "POST", "127.0.0.1:8080", false, hdr{
			"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Origin": "null"}, Same},
		{"chrome cross-site form post", "POST", "127.0.0.1:8080", false, hdr{
			"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Origin": "https://evil.example"}, Cross},
		{"chrome cross-site post forging a same Origin is still cross", "POST", "127.0.0.1:8080", false, hdr{
			"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1:8080"}, Cross},
		{"chrome same-site (sibling subdomain) post", "POST", "medgate.hospital.example", true, hdr{
			"Sec-Fetch-Site": "same-site", "Origin": "https://wiki.hospital.example"}, Cross},
		{"typed address GET", "GET", "127.0.0.1:8080", false, hdr{
			"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-User": "?1"}, Same},
		{"Sec-Fetch-Site none on a POST", "POST", "127.0.0.1:8080", false, hdr{"Sec-Fetch-Site": "none"}, Cross},
		{"chrome fetch from the same page", "POST", "localhost:8080", false, hdr{
			"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Origin": "http://localhost:8080"}, Same},
		{"old Safari same-origin post (Origin only)", "POST", "10.1.2.3:8080", false, hdr{"Origin": "http://10.1.2.3:8080"}, Same},
		{"old Safari cross-site post", "POST", "10.1.2.3:8080", false, hdr{"Origin": "http://10.9.9.9:8080"}, Cross},
		{"Origin with another port", "POST", "127.0.0.1:8080", false, hdr{"Origin": "http://127.0.0.1:9090"}, Cross},
		{"Origin https to a plain-http server", "POST", "127.0.0.1:8080", false, hdr{"Origin": "https://127.0.0.1:8080"}, Cross},
		{"Origin null without Sec-Fetch-Site", "POST", "127.0.0.1:8080", false, hdr{"Origin": "null"}, Cross},
		{"Origin that is not a URL", "POST", "127.0.0.1:8080", false, hdr{"Origin": "127.0.0.1:8080"}, Cross},
		{"TLS with the default port left out", "POST", "medgate.local:443", true, hdr{"Origin": "https://medgate.local"}, Same},
		{"host case does not matter", "POST", "MedGate.Local:8080", false, hdr{"Origin": "http://medgate.local:8080"}, Same},
		{"behind a TLS proxy: public origin", "POST", "10.0.0.5:8080", false, hdr{"Origin": "https://medgate.hospital.example"}, Same},
		{"behind a TLS proxy: public origin with port", "POST", "10.0.0.5:8080", false, hdr{"Origin": "https://console.hospital.example:8443"}, Same},
		{"behind a TLS proxy: other origin", "POST", "10.0.0.5:8080", false, hdr{"Origin": "https://evil.hospital.example"}, Cross},
		{"behind a proxy: Sec-Fetch-Site decides", "POST", "10.0.0.5:8080", false, hdr{
			"Sec-Fetch-Site": "same-origin", "Origin": "https://medgate.hospital.example"}, Same},
		{"Referer only, same", "POST", "127.0.0.1:8080", false, hdr{"Referer": "http://127.0.0.1:8080/console/"}, Same},
		{"Referer only, other site", "POST", "127.0.0.1:8080", false, hdr{"Referer": "https://evil.example/page"}, Cross},
		{"Referer only, public origin", "POST", "10.0.0.5:8080", false, hdr{"Referer": "https://medgate.hospital.example/console/"}, Same},
		{"no headers at all (curl, the CLI)", "POST", "127.0.0.1:8080", false, hdr{}, Unknown},
		{"no headers on a GET", "GET", "127.0.0.1:8080", false, hdr{}, Unknown},
	}
	c, err := New(public)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://"+tc.host+"/console/login", nil)
			r.Host = tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			for k, v := range tc.h {
				r.Header.Set(k, v)
			}
			got := c.Check(r)
			if got.Verdict != tc.want {
				t.Fatalf("verdict %s (%s), want %s", got.Verdict, got.Reason, tc.want)
			}
			if got.Reason == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New([]string{"https://ok.example", "ok.example", "ftp://x.example", "https://x.example/path", "https://u:p@x.example"}); err == nil {
		t.Fatal("malformed origins accepted")
	} else {
		for _, bad := range []string{`"ok.example"`, `"ftp://x.example"`, `"https://x.example/path"`, `"https://u:p@x.example"`} {
			if !strings.Contains(err.Error(), bad) {
				t.Errorf("error %q does not list %s", err, bad)
			}
		}
	}
	for in, want := range map[string]string{
		"https://Medgate.Example:443": "https://medgate.example",
		"http://medgate.example:80/":  "http://medgate.example",
		"http://10.0.0.5:8080":        "http://10.0.0.5:8080",
	} {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
