package daemon

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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/bus"
)

// selfSignedCert makes a self-signed certificate named cn, valid for
// 127.0.0.1, and its PEM.
func selfSignedCert(t *testing.T, cn string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestReadyzSaysKafkaRefusesTheCertificate: while the brokers present a
// certificate the configured CA does not sign, /readyz's kafka entry
// names the certificate and the CA file instead of "not joined yet", the
// requeue job's outage says Kafka refuses medgate, and
// medgate_kafka_refused_total{reason="tls_certificate"} counts the
// attempts.
func TestReadyzSaysKafkaRefusesTheCertificate(t *testing.T) {
	brokerCert, _ := selfSignedCert(t, "broker.example")
	_, otherCA := selfSignedCert(t, "other-ca.example")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, otherCA, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{brokerCert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = conn.(*tls.Conn).Handshake()
				_ = conn.Close()
			}()
		}
	}()

	reg := prometheus.NewRegistry()
	onRefused, err := kafkaRefusedCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	bc := bus.Config{Brokers: []string{ln.Addr().String()}, GroupID: "g", TLS: &bus.TLSConfig{CAFile: caFile},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnRefused: onRefused}
	c, err := bus.NewConsumer(bc, []string{"requests"}, func(context.Context, *bus.Message) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{consumer: c}
	if got := d.kafkaReadiness(); got != "the consumer has not joined its group yet" {
		t.Errorf("before any attempt, kafka readiness %q", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	count := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "medgate_kafka_refused_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == bus.RefusedTLSCertificate {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for count() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("medgate_kafka_refused_total{reason=%q} = %v after 30s, want at least 2", bus.RefusedTLSCertificate, count())
		}
		<-tick.C
	}
	got := d.kafkaReadiness()
	for _, want := range []string{"not trusted", "CN=broker.example", caFile} {
		if !strings.Contains(got, want) {
			t.Errorf("kafka readiness %q does not name %q", got, want)
		}
	}
	if o := d.kafkaOutage(); !strings.Contains(o, "Kafka refuses medgate") || !strings.Contains(o, caFile) {
		t.Errorf("kafkaOutage() = %q, want it to say Kafka refuses medgate and name the CA file", o)
	}
}
