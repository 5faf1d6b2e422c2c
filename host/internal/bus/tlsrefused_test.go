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
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfSigned makes a self-signed certificate named cn, valid for
// 127.0.0.1.
func selfSigned(t *testing.T, cn string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestUntrustedBrokerCertificateIsLoud: a consumer that trusts another CA
// than the one signing the broker's certificate keeps retrying, but says
// so: one ALERT naming the certificate and the CA file (the next one a
// minute later at the earliest), Refused gives the reason /readyz shows,
// and OnRefused counts every attempt.
func TestUntrustedBrokerCertificateIsLoud(t *testing.T) {
	brokerCert, _ := selfSigned(t, "broker.example")
	_, otherCA := selfSigned(t, "other-ca.example")
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
				_ = conn.(*tls.Conn).Handshake() // fails: the client refuses the certificate
				_ = conn.Close()
			}()
		}
	}()

	var logs syncBuffer
	var mu sync.Mutex
	counted := map[string]int{}
	cfg := testConfig([]string{ln.Addr().String()}, "g")
	cfg.TLS = &TLSConfig{CAFile: caFile}
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.OnRefused = func(reason string) {
		mu.Lock()
		defer mu.Unlock()
		counted[reason]++
	}
	r := startConsumer(t, cfg, []string{"requests"}, func(_ context.Context, _ *Message) error { return nil })
	attempts := func() int {
		mu.Lock()
		defer mu.Unlock()
		return counted[RefusedTLSCertificate]
	}
	eventually(t, 30*time.Second, "three refused attempts", func() bool { return attempts() >= 3 })

	if r.c.Ready() {
		t.Error("Ready() with an untrusted broker certificate")
	}
	got := r.c.Refused()
	for _, want := range []string{"not trusted", `"CN=broker.example"`, caFile, "kafka.tls.caFile"} {
		if !strings.Contains(got, want) {
			t.Errorf("Refused() = %q, want it to name %q", got, want)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "ALERT"); n != 1 {
		t.Errorf("%d ALERT lines over %d attempts within a minute, want 1; logs:\n%s", n, attempts(), out)
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "CN=broker.example") {
		t.Errorf("the ALERT is not an ERROR naming the certificate; logs:\n%s", out)
	}
	mu.Lock()
	if len(counted) != 1 {
		t.Errorf("OnRefused reasons %v, want only %s", counted, RefusedTLSCertificate)
	}
	mu.Unlock()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
}
