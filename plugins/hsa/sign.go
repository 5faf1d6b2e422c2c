package hsa

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The x-tif gateway headers.
const (
	HeaderPaasID    = "x-tif-paasid"
	HeaderTimestamp = "x-tif-timestamp"
	HeaderNonce     = "x-tif-nonce"
	HeaderSignature = "x-tif-signature"
	HeaderServiceID = "x-tif-serviceId"
)

// Signer adds the gateway's authentication to a request. The body is
// passed for schemes that sign it; x-tif does not.
type Signer interface {
	Sign(req *http.Request, body []byte, now time.Time) error
}

// XTif signs with the x-tif headers: x-tif-paasid, x-tif-timestamp (Unix
// seconds), x-tif-nonce (random) and x-tif-signature, the hex SHA-256 of
// timestamp + token + nonce + timestamp (S1 HttpHelper.cs). The body is not
// signed.
type XTif struct {
	PaasID    string
	Token     Secret
	Upper     bool
	ServiceID string
	// Nonce returns a fresh nonce; nil uses 16 random bytes in hex.
	Nonce func() string
}

// Sign implements Signer.
func (x XTif) Sign(req *http.Request, _ []byte, now time.Time) error {
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := ""
	if x.Nonce != nil {
		nonce = x.Nonce()
	} else {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		nonce = hex.EncodeToString(b[:])
	}
	req.Header.Set(HeaderPaasID, x.PaasID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, XTifSignature(ts, x.Token, nonce, x.Upper))
	if x.ServiceID != "" {
		req.Header.Set(HeaderServiceID, x.ServiceID)
	}
	return nil
}

// XTifSignature is hex(SHA-256(timestamp + token + nonce + timestamp)).
func XTifSignature(timestamp string, token Secret, nonce string, upper bool) string {
	sum := sha256.Sum256([]byte(timestamp + token.Reveal() + nonce + timestamp))
	s := hex.EncodeToString(sum[:])
	if upper {
		s = strings.ToUpper(s)
	}
	return s
}

// NoAuth adds nothing.
type NoAuth struct{}

// Sign implements Signer.
func (NoAuth) Sign(*http.Request, []byte, time.Time) error { return nil }
