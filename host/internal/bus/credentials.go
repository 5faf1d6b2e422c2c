package bus

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Credentials are the SASL user and password and the TLS material (the
// CA, the client certificate and its key, read from their files) that the
// Kafka clients made from a Config use. Every client made from Configs
// that share a *Credentials reads them afresh for each new connection and
// each SASL authentication (SCRAM and PLAIN, and re-authentication when
// the brokers end a session, KIP-368), so Rotate changes them for all of
// them at once, without a restart and without cutting the connections
// already authenticated. (A new user is refused at a connection's
// re-authentication, since Kafka keeps a connection's principal; sarama
// then opens the connection again, as the new user.) The mechanism, and
// whether TLS is on and verifies the brokers, are fixed when the clients
// are made.
//
// Credentials never show the password or the key: they are not printed or
// logged, and errors name only files and keys.
type Credentials struct {
	mech     string // "" without SASL
	tls      bool
	insecure bool
	cur      atomic.Pointer[material]
}

// material is one generation of Credentials; never changed once stored.
type material struct {
	user, password string
	caFile         string
	certFile       string
	roots          *x509.CertPool // nil: the system's
	certs          []tls.Certificate
}

// NewCredentials reads the credentials of s (nil: no SASL) and the files
// of t (nil: no TLS).
func NewCredentials(s *SASLConfig, t *TLSConfig) (*Credentials, error) {
	c := &Credentials{tls: t != nil}
	if s != nil {
		mech, err := saslMechanism(s.Mechanism)
		if err != nil {
			return nil, err
		}
		c.mech = mech
	}
	if t != nil {
		c.insecure = t.InsecureSkipVerify
	}
	m, err := c.read(s, t)
	if err != nil {
		return nil, err
	}
	c.cur.Store(m)
	return c, nil
}

// Rotate puts the credentials of n (made with NewCredentials, so read
// already) in force for every new connection and SASL authentication of
// the clients using c; the connections already authenticated go on. n
// must keep the mechanism, TLS on or off and InsecureSkipVerify of c:
// those need new clients, and Rotate refuses them, changing nothing.
func (c *Credentials) Rotate(n *Credentials) error {
	switch {
	case n.mech != c.mech:
		return fmt.Errorf("the SASL mechanism changed from %q to %q: the Kafka clients take it only when they are made", c.mech, n.mech)
	case n.tls != c.tls:
		return errors.New("TLS was turned on or off: the Kafka clients take it only when they are made")
	case n.insecure != c.insecure:
		return errors.New("insecureSkipVerify changed: the Kafka clients take it only when they are made")
	}
	c.cur.Store(n.cur.Load())
	return nil
}

func (c *Credentials) read(s *SASLConfig, t *TLSConfig) (*material, error) {
	m := &material{}
	if s != nil {
		if s.Username == "" {
			return nil, fmt.Errorf("SASL %s configured without a username: set SASL.Username", s.Mechanism)
		}
		m.user, m.password = s.Username, s.Password
	}
	if t != nil {
		m.caFile = t.CAFile
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read Kafka TLS CA file (kafka.tls.caFile): %w; write the CA certificate that signs the brokers' certificates there, or correct kafka.tls.caFile", err)
			}
			m.roots = x509.NewCertPool()
			if !m.roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("read Kafka TLS CA file %s: no PEM certificate found; give a file with -----BEGIN CERTIFICATE----- blocks", t.CAFile)
			}
		}
		switch {
		case t.CertFile != "" && t.KeyFile != "":
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("load Kafka TLS client certificate %s (kafka.tls.certFile) and key %s (kafka.tls.keyFile): %w; give the two files a certificate and its own key, in PEM", t.CertFile, t.KeyFile, err)
			}
			if err := checkValidity(t.CertFile, cert.Leaf); err != nil {
				return nil, err
			}
			m.certs = []tls.Certificate{cert}
			m.certFile = t.CertFile
		case t.CertFile != "" || t.KeyFile != "":
			return nil, errors.New("incomplete Kafka TLS client certificate: set both CertFile and KeyFile, or neither")
		}
	}
	return m, nil
}

// checkValidity refuses a client certificate (of file) outside its
// validity: brokers refuse it at every connection.
func checkValidity(file string, c *x509.Certificate) error {
	if c == nil {
		return nil
	}
	switch now := time.Now(); {
	case now.After(c.NotAfter):
		return fmt.Errorf("Kafka TLS client certificate %s (kafka.tls.certFile, subject %q) expired on %s: write a renewed certificate and its key over kafka.tls.certFile and keyFile, then reload medgate",
			file, c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("Kafka TLS client certificate %s (kafka.tls.certFile, subject %q) is not valid before %s: check this host's clock, or wait until then",
			file, c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// user is the SASL user in force.
func (c *Credentials) user() string { return c.cur.Load().user }

// caFile is the CA file in force ("" for the system's CAs).
func (c *Credentials) caFile() string { return c.cur.Load().caFile }

// String never shows the password.
func (c *Credentials) String() string {
	return fmt.Sprintf("{Mechanism:%s Username:%s Password:%s TLS:%v}", c.mech, c.user(), redacted(c.cur.Load().password), c.tls)
}

func saslMechanism(m string) (string, error) {
	switch u := strings.ToUpper(m); u {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		return u, nil
	}
	return "", fmt.Errorf("unsupported SASL mechanism %q: use %s, %s or %s", m, SASLPlain, SASLScramSHA256, SASLScramSHA512)
}

// saslPlaceholder stands in sarama's configuration for the password,
// which sarama requires but never sees: SCRAM takes the credentials in
// force from scramClient, PLAIN has them written in by plainConn.
const saslPlaceholder = "medgate:credentials-read-per-connection"

// apply makes sc use c: TLS through dialer (a fresh tls.Config from the
// material in force for each connection), SASL with sarama's handshake
// and the credentials in force at each authentication.
func (c *Credentials) apply(sc *sarama.Config) {
	if c.tls || c.mech == SASLPlain {
		sc.Net.Proxy.Enable = true
		sc.Net.Proxy.Dialer = &dialer{sc: sc, creds: c}
	}
	if c.mech == "" {
		return
	}
	sc.Net.SASL.Enable = true
	sc.Net.SASL.Handshake = true
	sc.Net.SASL.Version = sarama.SASLHandshakeV1
	sc.Net.SASL.User = c.user()
	sc.Net.SASL.Password = saslPlaceholder
	switch c.mech {
	case SASLPlain:
		sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case SASLScramSHA256:
		sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAMClient(scramSHA256, c) }
	case SASLScramSHA512:
		sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAMClient(scramSHA512, c) }
	}
}

// dialer connects to a broker with the TLS material in force, as sarama
// would with Net.TLS (the server name is the broker's host unless set),
// and, for PLAIN, writes the credentials in force into its
// authentications (plainConn).
type dialer struct {
	// sc gives the dial timeout and keep-alive, as set when the client
	// is made (after apply).
	sc    *sarama.Config
	creds *Credentials
	// tcp, when set (by tests), opens the TCP connections.
	tcp func(network, addr string) (net.Conn, error)
}

// Dial implements proxy.Dialer.
func (d *dialer) Dial(network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.sc.Net.DialTimeout, KeepAlive: d.sc.Net.KeepAlive, LocalAddr: d.sc.Net.LocalAddr}
	dial := nd.Dial
	if d.tcp != nil {
		dial = d.tcp
	}
	conn, err := dial(network, addr)
	if err != nil {
		return nil, err
	}
	m := d.creds.cur.Load()
	if d.creds.tls {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		tc := tls.Client(conn, &tls.Config{
			MinVersion:         tls.VersionTLS12,
			ServerName:         host,
			RootCAs:            m.roots,
			Certificates:       m.certs,
			InsecureSkipVerify: d.creds.insecure, //nolint:gosec // explicit opt-in for test brokers
		})
		// The handshake here, bounded: sarama bounds a lazy one by the
		// read deadline it sets before each write only with its own TLS.
		if t := d.sc.Net.DialTimeout; t > 0 {
			_ = conn.SetDeadline(time.Now().Add(t))
		}
		err = tc.Handshake()
		_ = conn.SetDeadline(time.Time{})
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	if d.creds.mech == SASLPlain {
		conn = &plainConn{Conn: conn, creds: d.creds}
	}
	return conn, nil
}

// plainConn writes the PLAIN credentials in force into each
// SaslAuthenticate request sarama writes on the connection, in place of
// the ones in sarama's configuration, which are fixed for the client's
// life. sarama writes each request whole, in one Write.
//
// sarama (v1.61) has no supported way to give PLAIN other credentials:
// its PLAIN exchange reads Net.SASL.User and Password of the client's
// configuration, which every connection of the client shares and reads
// without a lock, so it cannot be changed in place; SCRAMClientGeneratorFunc
// serves SCRAM alone, TokenProvider OAUTHBEARER alone, and the mechanism
// named in the handshake picks the exchange. New clients at each rotation
// would close every connection and make the consumer leave and rejoin
// its group (a rebalance, its partitions' handlers cut) where a rotation
// now cuts nothing. TestReauthAfterRotation checks the rewritten requests
// against Apache Kafka, TestSASL against Kafka and kfake.
type plainConn struct {
	net.Conn
	creds *Credentials
}

// Write implements net.Conn.
func (c *plainConn) Write(b []byte) (int, error) {
	out, ok := c.withCredentials(b)
	if !ok {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// withCredentials returns the request b with the PLAIN credentials in
// force when b is a whole SaslAuthenticate request.
func (c *plainConn) withCredentials(b []byte) ([]byte, bool) {
	// size, api key, api version, correlation id, client id length
	if len(b) < 14 || int(binary.BigEndian.Uint32(b)) != len(b)-4 || int16(binary.BigEndian.Uint16(b[4:])) != int16(kmsg.SASLAuthenticate) {
		return nil, false
	}
	version := int16(binary.BigEndian.Uint16(b[6:]))
	hdr := 14
	if n := int16(binary.BigEndian.Uint16(b[12:])); n > 0 {
		hdr += int(n)
	}
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version = version
	if req.IsFlexible() {
		// The request header's tagged fields: sarama sends none.
		if len(b) <= hdr || b[hdr] != 0 {
			return nil, false
		}
		hdr++
	}
	if len(b) < hdr || req.ReadFrom(b[hdr:]) != nil {
		return nil, false
	}
	m := c.creds.cur.Load()
	if !bytes.HasPrefix(req.SASLAuthBytes, []byte("\x00")) {
		return nil, false // an authorization identity: not one sarama sends
	}
	req.SASLAuthBytes = []byte("\x00" + m.user + "\x00" + m.password)
	out := append(make([]byte, 0, len(b)+len(m.user)+len(m.password)), b[:hdr]...)
	out = req.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, true
}
