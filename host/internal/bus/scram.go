package bus

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// This file is a SCRAM client (RFC 5802, RFC 7677) for sarama's
// sarama.SCRAMClient interface, built on the standard library so that no
// extra module is needed. Kafka neither applies SASLprep to passwords nor
// sends channel bindings, so neither does this client.

// scramMinIterations is the smallest PBKDF2 iteration count accepted from a
// server, as in Kafka (ScramMechanism.minIterations); a lower count would let
// a rogue server weaken the stored proof.
const scramMinIterations = 4096

// errSCRAM wraps every failure of the SCRAM exchange.
var errSCRAM = errors.New("SCRAM authentication failed")

type scramHash struct {
	name string
	new  func() hash.Hash
}

var (
	scramSHA256 = scramHash{SASLScramSHA256, sha256.New}
	scramSHA512 = scramHash{SASLScramSHA512, sha512.New}
)

type scramClient struct {
	h    scramHash
	rand io.Reader

	user, pass, authzID string

	step            int
	nonce           string
	gs2Header       string
	clientFirstBare string
	serverSignature []byte
	done            bool
}

func newSCRAMClient(h scramHash) *scramClient {
	return &scramClient{h: h, rand: rand.Reader}
}

// Begin starts a conversation for user and password.
func (c *scramClient) Begin(user, password, authzID string) error {
	if user == "" {
		return fmt.Errorf("%w: empty user name", errSCRAM)
	}
	c.user, c.pass, c.authzID = user, password, authzID
	c.step, c.done, c.serverSignature = 0, false, nil
	return nil
}

// Step answers the server's challenge: the first call (with an empty
// challenge) returns the client-first message, the second the client-final
// message, and the third verifies the server's signature.
func (c *scramClient) Step(challenge string) (string, error) {
	c.step++
	switch c.step {
	case 1:
		return c.clientFirst()
	case 2:
		return c.clientFinal(challenge)
	case 3:
		return "", c.verifyServerFinal(challenge)
	default:
		return "", fmt.Errorf("%w: exchange has already finished", errSCRAM)
	}
}

// Done reports whether the server was verified.
func (c *scramClient) Done() bool { return c.done }

func (c *scramClient) clientFirst() (string, error) {
	if c.nonce == "" {
		raw := make([]byte, 24)
		if _, err := io.ReadFull(c.rand, raw); err != nil {
			return "", fmt.Errorf("%w: generate nonce: %w", errSCRAM, err)
		}
		c.nonce = base64.RawStdEncoding.EncodeToString(raw)
	}
	c.gs2Header = "n,,"
	if c.authzID != "" {
		c.gs2Header = "n,a=" + scramEscape(c.authzID) + ","
	}
	c.clientFirstBare = "n=" + scramEscape(c.user) + ",r=" + c.nonce
	return c.gs2Header + c.clientFirstBare, nil
}

func (c *scramClient) clientFinal(serverFirst string) (string, error) {
	if strings.HasPrefix(serverFirst, "m=") {
		return "", fmt.Errorf("%w: server requires an unsupported extension", errSCRAM)
	}
	if strings.HasPrefix(serverFirst, "e=") {
		return "", fmt.Errorf("%w: server refused the client-first message: %s", errSCRAM, strings.TrimPrefix(serverFirst, "e="))
	}
	attrs := scramAttrs(serverFirst)
	nonce, salt64, iter64 := attrs["r"], attrs["s"], attrs["i"]
	if nonce == "" || salt64 == "" || iter64 == "" {
		return "", fmt.Errorf("%w: malformed server-first message: nonce, salt or iteration count missing", errSCRAM)
	}
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return "", fmt.Errorf("%w: server nonce does not extend the client nonce", errSCRAM)
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		return "", fmt.Errorf("%w: malformed salt: %w", errSCRAM, err)
	}
	iter, err := strconv.Atoi(iter64)
	if err != nil || iter < scramMinIterations {
		return "", fmt.Errorf("%w: iteration count %q refused: it must be a number of at least %d", errSCRAM, iter64, scramMinIterations)
	}

	salted, err := pbkdf2.Key(c.h.new, c.pass, salt, iter, c.h.new().Size())
	if err != nil {
		return "", fmt.Errorf("%w: derive salted password: %w", errSCRAM, err)
	}
	clientKey := c.hmac(salted, "Client Key")
	storedKey := c.sum(clientKey)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2Header)) + ",r=" + nonce
	authMessage := c.clientFirstBare + "," + serverFirst + "," + withoutProof
	proof := c.hmac(storedKey, authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	c.serverSignature = c.hmac(c.hmac(salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (c *scramClient) verifyServerFinal(serverFinal string) error {
	attrs := scramAttrs(serverFinal)
	if e, ok := attrs["e"]; ok {
		return fmt.Errorf("%w: refused by the server: %s", errSCRAM, e)
	}
	sig, err := base64.StdEncoding.DecodeString(attrs["v"])
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("%w: malformed server-final message: no server signature", errSCRAM)
	}
	if !hmac.Equal(sig, c.serverSignature) {
		return fmt.Errorf("%w: server signature does not match: the server does not know the password", errSCRAM)
	}
	c.done = true
	return nil
}

func (c *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(c.h.new, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (c *scramClient) sum(b []byte) []byte {
	h := c.h.new()
	h.Write(b)
	return h.Sum(nil)
}

// scramEscape encodes a saslname: ',' and '=' become =2C and =3D.
func scramEscape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// scramAttrs splits "a=x,b=y" into its attributes; values may contain '='.
func scramAttrs(msg string) map[string]string {
	attrs := make(map[string]string)
	for _, part := range strings.Split(msg, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok && len(k) == 1 {
			attrs[k] = v
		}
	}
	return attrs
}
