package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/test/testenv"
)

// testCert is a certificate for 127.0.0.1 signed by parent (itself when
// nil), valid until notAfter, with its PEM files written into dir.
type testCert struct {
	tls               tls.Certificate
	x509              *x509.Certificate
	key               *ecdsa.PrivateKey
	certFile, keyFile string
}

func newTestCert(t *testing.T, dir, cn string, parent *testCert, notAfter time.Time, usage x509.ExtKeyUsage) *testCert {
	t.Helper()
	return newTestCertValid(t, dir, cn, parent, time.Now().Add(-2*time.Hour), notAfter, usage)
}

// newTestCertFrom is a client certificate signed by parent, valid from
// notBefore to notAfter.
func newTestCertFrom(t *testing.T, dir, cn string, parent *testCert, notBefore, notAfter time.Time) *testCert {
	t.Helper()
	return newTestCertValid(t, dir, cn, parent, notBefore, notAfter, x509.ExtKeyUsageClientAuth)
}

func newTestCertValid(t *testing.T, dir, cn string, parent *testCert, notBefore, notAfter time.Time, usage x509.ExtKeyUsage) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, BasicConstraintsValid: true, IsCA: parent == nil,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.x509, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCert{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, key: key,
		certFile: filepath.Join(dir, cn+".pem"), keyFile: filepath.Join(dir, cn+".key")}
	if c.x509, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range map[string][]byte{
		c.certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		c.keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}),
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestConnectRefusalsSayWhatAndHow: when the brokers cannot be used
// because of the TLS or SASL settings, the error at start (creating the
// topics, making a producer) and the consumer's Refused say what failed,
// where (the CA file, the client certificate file, the SASL mechanism and
// user) and how to fix it, and no password; before, the start errors ended
// with "check the broker addresses and that Kafka is running", which
// sends an operator the wrong way, and a client certificate the brokers
// refused was not told from an outage (no ALERT, not Permanent).
func TestConnectRefusalsSayWhatAndHow(t *testing.T) {
	dir := t.TempDir()
	hour := time.Now().Add(time.Hour)
	brokerCA := newTestCert(t, dir, "broker-ca", nil, hour, x509.ExtKeyUsageServerAuth)
	broker := newTestCert(t, dir, "broker", brokerCA, hour, x509.ExtKeyUsageServerAuth)
	expiredBroker := newTestCert(t, dir, "broker-expired", brokerCA, time.Now().Add(-time.Hour), x509.ExtKeyUsageServerAuth)
	otherCA := newTestCert(t, dir, "other-ca", nil, hour, x509.ExtKeyUsageServerAuth)
	clientCA := newTestCert(t, dir, "client-ca", nil, hour, x509.ExtKeyUsageClientAuth)
	strangerClient := newTestCert(t, dir, "client-of-another-ca", otherCA, hour, x509.ExtKeyUsageClientAuth)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(clientCA.x509)

	tlsBroker := func(cert *testCert, clientAuth tls.ClientAuthType) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{
			MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert.tls}, ClientAuth: clientAuth, ClientCAs: clientCAs,
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	}
	const wrongPass = "wrong-Passw0rd-1234"
	for name, tc := range map[string]struct {
		brokers func(t *testing.T) []string
		tls     *TLSConfig
		sasl    *SASLConfig
		reason  string   // the consumer's OnRefused reason; "": Run returns
		want    []string // in every error and in Refused
	}{
		"brokers' certificate from another CA": {
			brokers: func(*testing.T) []string { return tlsBroker(broker, tls.NoClientCert) },
			tls:     &TLSConfig{CAFile: otherCA.certFile}, reason: RefusedTLSCertificate,
			want: []string{"not trusted", "CN=broker", otherCA.certFile, "kafka.tls.caFile"},
		},
		"brokers' certificate expired": {
			brokers: func(*testing.T) []string { return tlsBroker(expiredBroker, tls.NoClientCert) },
			tls:     &TLSConfig{CAFile: brokerCA.certFile}, reason: RefusedTLSCertificate,
			want: []string{"not trusted", "CN=broker-expired", "expired", "renew"},
		},
		"client certificate from a CA the brokers do not trust": {
			brokers: func(*testing.T) []string { return tlsBroker(broker, tls.RequireAndVerifyClientCert) },
			tls:     &TLSConfig{CAFile: brokerCA.certFile, CertFile: strangerClient.certFile, KeyFile: strangerClient.keyFile}, reason: RefusedTLSCertificate,
			want: []string{"refused this client's TLS certificate", strangerClient.certFile, "CN=client-of-another-ca", "kafka.tls.certFile"},
		},
		"no client certificate": {
			brokers: func(*testing.T) []string { return tlsBroker(broker, tls.RequireAndVerifyClientCert) },
			tls:     &TLSConfig{CAFile: brokerCA.certFile}, reason: RefusedTLSCertificate,
			want: []string{"refused this client's TLS certificate", "kafka.tls.certFile"},
		},
		"wrong SCRAM password": {
			brokers: func(t *testing.T) []string { return testenv.KafkaSASL(t).Addrs },
			sasl:    &SASLConfig{Mechanism: SASLScramSHA512, Username: "medgate", Password: wrongPass}, reason: RefusedSASL,
			want: []string{"refused SASL authentication", SASLScramSHA512, `"medgate"`, "kafka.sasl.password"},
		},
		"wrong PLAIN password": {
			brokers: func(t *testing.T) []string { return testenv.KafkaSASL(t).Addrs },
			sasl:    &SASLConfig{Mechanism: SASLPlain, Username: "medgate", Password: wrongPass}, reason: RefusedSASL,
			want: []string{"refused SASL authentication", SASLPlain, `"medgate"`, "kafka.sasl.password"},
		},
		"SASL mechanism the brokers do not offer": {
			brokers: func(t *testing.T) []string {
				return testenv.NewKafkaBroker(t, testenv.KafkaProperty("sasl.enabled.mechanisms", SASLScramSHA512)).SASL().Addrs
			},
			sasl: &SASLConfig{Mechanism: SASLPlain, Username: "medgate", Password: wrongPass},
			want: []string{"do not offer the SASL mechanism PLAIN", "kafka.sasl.mechanism", "restart medgate"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			brokers := tc.brokers(t)
			cfg := Config{Brokers: brokers, GroupID: uniqueName(t, "group"), TLS: tc.tls, SASL: tc.sasl,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				tune: func(sc *sarama.Config) {
					sc.Metadata.Retry.Max = 1
					sc.Metadata.Retry.Backoff = 10 * time.Millisecond
				}}
			check := func(what, msg string) {
				t.Helper()
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s does not say %q: %s", what, w, msg)
					}
				}
				if strings.Contains(msg, "check the broker addresses") {
					t.Errorf("%s sends the operator to the broker addresses: %s", what, msg)
				}
				if strings.Contains(msg, wrongPass) {
					t.Errorf("%s shows the password: %s", what, msg)
				}
			}
			err := EnsureTopics(t.Context(), cfg, []string{"t"}, 1, 1)
			if err == nil {
				t.Fatal("EnsureTopics succeeded")
			}
			check("EnsureTopics' error", err.Error())
			p, err := NewProducer(cfg)
			if err == nil {
				p.Close()
				t.Fatal("NewProducer succeeded")
			}
			check("NewProducer's error", err.Error())
			t.Logf("NewProducer: %v", err)
			if !Permanent(err) {
				t.Errorf("Permanent(%v) = false, want true: nothing changes until someone acts", err)
			}

			refused := make(chan string, 64)
			cfg.OnRefused = func(reason string) { refused <- reason }
			c, err := NewConsumer(cfg, []string{"t"}, func(context.Context, *Message) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			if tc.reason == "" {
				select {
				case err := <-done:
					if err == nil {
						t.Fatal("Run returned nil")
					}
					check("Run's error", err.Error())
				case <-time.After(30 * time.Second):
					t.Error("Run did not return within 30s")
				}
				cancel()
				return
			}
			select {
			case r := <-refused:
				if r != tc.reason {
					t.Errorf("OnRefused(%q), want %q", r, tc.reason)
				}
				check("Refused()", c.Refused())
			case err := <-done:
				t.Errorf("Run returned %v before a refusal", err)
			case <-time.After(30 * time.Second):
				t.Errorf("no refusal within 30s")
			}
			cancel()
			<-done
		})
	}
}
