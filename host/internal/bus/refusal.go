package bus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// refusal tells an error of connecting to the brokers that lasts until
// someone changes the TLS or SASL settings, or the brokers': their
// certificate failing verification (untrusted or expired, a wrong
// kafka.tls.caFile, a hostname mismatch) or their refusing this client's
// certificate (reason RefusedTLSCertificate), or their refusing the SASL
// credentials (RefusedSASL). what says what failed, where (the
// certificate and the CA file, the client certificate file, the SASL
// mechanism and user, never the password) and how to fix it. creds are
// the credentials in force.
func refusal(creds *Credentials, err error) (reason, what string, ok bool) {
	var cve *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invErr x509.CertificateInvalidError
	var cert *x509.Certificate
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return RefusedSASL, fmt.Sprintf("the brokers refused SASL authentication (mechanism %s, user %q); "+
			"check that the brokers know this user for this mechanism and that kafka.sasl.password is its password; "+
			"after correcting kafka.sasl.username or the password file, reload medgate (medgate reload, or SIGHUP)", creds.mech, creds.user()), true
	case errors.As(err, &cve):
		if len(cve.UnverifiedCertificates) > 0 {
			cert = cve.UnverifiedCertificates[0]
		}
	case errors.As(err, &hostErr):
		cert = hostErr.Certificate
	case errors.As(err, &authErr):
		cert = authErr.Cert
	case errors.As(err, &invErr):
		cert = invErr.Cert
	default:
		if alert, ok := clientCertRefused(err); ok {
			return RefusedTLSCertificate, clientCertRefusal(creds, alert), true
		}
		return "", "", false
	}
	ca := "the system's CA certificates (kafka.tls.caFile not set)"
	if f := creds.caFile(); f != "" {
		ca = "kafka.tls.caFile " + f
	}
	what = "the brokers' TLS certificate is not trusted"
	if cert != nil {
		what += " (" + describeCert(cert) + ")"
	}
	what += " when checked against " + ca + "; give kafka.tls.caFile the CA that signs the brokers' certificates (then reload medgate), renew an expired broker certificate, or list the brokers by a name their certificate holds"
	return RefusedTLSCertificate, what, true
}

// describe says what failed, where and how to fix it when err, of
// connecting to the brokers, lasts until someone changes the TLS or SASL
// settings or the brokers' (see refusal, and a SASL mechanism the
// brokers do not offer); "" for any other error.
func describe(creds *Credentials, err error) string {
	if _, what, ok := refusal(creds, err); ok {
		return what
	}
	if errors.Is(err, sarama.ErrUnsupportedSASLMechanism) {
		return fmt.Sprintf("the brokers do not offer the SASL mechanism %s (kafka.sasl.mechanism) on this listener; "+
			"set kafka.sasl.mechanism to one they enable (their sasl.enabled.mechanisms), with a user and password they know for it, then restart medgate (a reload does not change the mechanism)", creds.mech)
	}
	return ""
}

// connectError is the error of making a client (what: "Kafka producer")
// for brokers with sc that failed with err: what failed, where and how to
// fix it when the TLS or SASL settings are at fault (describe), else a
// pointer to the addresses, the brokers and the settings of their
// listener. A cause sarama lost is looked for first (withCause).
func connectError(what string, brokers []string, sc *sarama.Config, creds *Credentials, err error) error {
	err = withCause(err, brokers, sc)
	if d := describe(creds, err); d != "" {
		return fmt.Errorf("connect %s to %v: %s: %w", what, brokers, d, err)
	}
	return fmt.Errorf("connect %s to %v: %w (check the broker addresses, that Kafka is running, and that kafka.tls and kafka.sasl match the brokers' listener)", what, brokers, err)
}

// clientCertRefused returns the TLS alert by which the brokers refused
// this client's certificate (none sent, from a CA they do not trust,
// expired, revoked), when err carries one. crypto/tls gives an alert the
// peer sent as a net.OpError "remote error" around a value of its own
// unexported alert type, not as a tls.AlertError.
func clientCertRefused(err error) (string, bool) {
	var code uint8
	var text string
	if ae, ok := errors.AsType[tls.AlertError](err); ok {
		code, text = uint8(ae), ae.Error()
	} else if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" && oe.Err != nil {
		v := reflect.ValueOf(oe.Err)
		if v.Type().PkgPath() != "crypto/tls" || v.Kind() != reflect.Uint8 {
			return "", false
		}
		code, text = uint8(v.Uint()), oe.Err.Error()
	} else {
		return "", false
	}
	switch code {
	case 42, 43, 44, 45, 46, 48, 116: // bad_certificate … certificate_unknown, unknown_ca, certificate_required
		return strings.TrimPrefix(text, "tls: "), true
	}
	return "", false
}

// clientCertRefusal describes the brokers' refusal of this client's
// certificate with the TLS alert they sent.
func clientCertRefusal(creds *Credentials, alert string) string {
	what := "the brokers refused this client's TLS certificate (their TLS alert: " + alert + ")"
	m := creds.cur.Load()
	if m.certFile == "" {
		return what + "; kafka.tls.certFile is not set and the brokers require a client certificate: " +
			"set kafka.tls.certFile and kafka.tls.keyFile to a certificate signed by a CA the brokers trust (their ssl.truststore) and its key, then reload medgate"
	}
	what += " of kafka.tls.certFile " + m.certFile
	if len(m.certs) > 0 && m.certs[0].Leaf != nil {
		what += " (" + describeCert(m.certs[0].Leaf) + ")"
	}
	return what + "; give kafka.tls.certFile and kafka.tls.keyFile a certificate that has not expired, signed by a CA the brokers trust (their ssl.truststore), and its key, then reload medgate"
}

// describeCert names a certificate for an operator.
func describeCert(c *x509.Certificate) string {
	s := fmt.Sprintf("subject %q, issuer %q, valid %s to %s", c.Subject.String(), c.Issuer.String(),
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	if time.Now().After(c.NotAfter) {
		s += ", expired"
	}
	return s
}

// withCause returns err, of making a client for brokers with sc, and
// when it is sarama's ErrOutOfBrokers without the brokers' errors (sarama
// drops a broker's error code from it, such as a SASL mechanism the
// broker does not offer), err with the error of a connection of its own
// to each broker in turn, the first that failed.
func withCause(err error, brokers []string, sc *sarama.Config) error {
	if !causeless(err) {
		return err
	}
	for _, addr := range brokers {
		b := sarama.NewBroker(addr)
		if oerr := b.Open(sc); oerr != nil {
			continue
		}
		_, cerr := b.Connected() // waits for the connection's end
		_ = b.Close()
		if cerr != nil {
			return fmt.Errorf("%w; connecting to %s alone: %w", err, addr, cerr)
		}
	}
	return err
}

// causeless reports whether err is or wraps sarama's ErrOutOfBrokers
// without any error of the brokers in it.
func causeless(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e == sarama.ErrOutOfBrokers { //nolint:errorlint // the sentinel itself, bare
			return true
		}
		if u, ok := e.(interface{ Unwrap() error }); ok && u.Unwrap() == nil && errors.Is(e, sarama.ErrOutOfBrokers) {
			return true
		}
	}
	return false
}
