package hsa

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The expected digest was computed independently:
//
//	printf '%s' 1700000000tok123abc1700000000 | sha256sum
func TestXTifSignatureKnownAnswer(t *testing.T) {
	t.Parallel()
	const want = "78868b160ce7515ba01d8fbf2cefcfbebd1b1d3c5eb21c22773a8b37b5f1f28d"
	if got := XTifSignature("1700000000", "tok123", "abc", false); got != want {
		t.Errorf("lower: got %s, want %s", got, want)
	}
	if got := XTifSignature("1700000000", "tok123", "abc", true); got != strings.ToUpper(want) {
		t.Errorf("upper: got %s", got)
	}
}

func TestXTifHeaders(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	s := XTif{PaasID: "p1", Token: "tok123", ServiceID: "svc", Nonce: func() string { return "abc" }}
	if err := s.Sign(req, nil, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		HeaderPaasID: "p1", HeaderTimestamp: "1700000000", HeaderNonce: "abc", HeaderServiceID: "svc",
		HeaderSignature: "78868b160ce7515ba01d8fbf2cefcfbebd1b1d3c5eb21c22773a8b37b5f1f28d",
	}
	for k, v := range want {
		if got := req.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Random nonces differ.
	a, b := XTif{Token: "t"}, XTif{Token: "t"}
	r1, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	r2, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	_ = a.Sign(r1, nil, time.Now())
	_ = b.Sign(r2, nil, time.Now())
	if r1.Header.Get(HeaderNonce) == r2.Header.Get(HeaderNonce) || len(r1.Header.Get(HeaderNonce)) != 32 {
		t.Errorf("nonces %q and %q", r1.Header.Get(HeaderNonce), r2.Header.Get(HeaderNonce))
	}
}
