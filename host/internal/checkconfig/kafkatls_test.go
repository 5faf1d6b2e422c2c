package checkconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed PEM certificate valid from notBefore to
// notAfter, and its PEM key, to dir/name.crt and dir/name.key.
func writeCert(t *testing.T, dir, name string, notBefore, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCheckReadsKafkaTLSFiles: check-config only made sure the kafka.tls
// files existed, so a CA file without a certificate, a client certificate
// with another certificate's key, or one that has expired passed it
// ("configuration OK") while medgate run refused to start on them, and the
// systemd unit's ExecStartPre let the start go ahead. Each is now a
// problem at its key, with the other problems of the file.
func TestCheckReadsKafkaTLSFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	writeCert(t, dir, "good", now.Add(-time.Hour), now.Add(24*time.Hour))
	writeCert(t, dir, "other", now.Add(-time.Hour), now.Add(24*time.Hour))
	writeCert(t, dir, "expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err := os.WriteFile(filepath.Join(dir, "not-a-ca.pem"), []byte("the CA goes here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		tls  string
		want []string // "" entries: none; nil: Check passes
	}{
		"good CA and client certificate": {
			tls: "{caFile: good.crt, certFile: good.crt, keyFile: good.key}",
		},
		"CA file without a certificate": {
			tls:  "{caFile: not-a-ca.pem}",
			want: []string{"medgate.yaml:4: kafka.tls", "not-a-ca.pem", "no PEM certificate"},
		},
		"certificate with another's key": {
			tls:  "{caFile: good.crt, certFile: good.crt, keyFile: other.key}",
			want: []string{"medgate.yaml:4: kafka.tls", "good.crt", "other.key"},
		},
		"expired client certificate": {
			tls:  "{caFile: good.crt, certFile: expired.crt, keyFile: expired.key}",
			want: []string{"medgate.yaml:4: kafka.tls", "expired.crt", "expired on"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sub := t.TempDir()
			for _, f := range []string{"good.crt", "good.key", "other.key", "expired.crt", "expired.key", "not-a-ca.pem"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(sub, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			src := "kafka:\n  brokers: [\"127.0.0.1:1\"]\n  createTopics: false\n  tls: " + tc.tls + "\nstore:\n  path: db/medgate.db\n"
			path := filepath.Join(sub, "medgate.yaml")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Check(t.Context(), path)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check refused good Kafka TLS files:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check passed kafka.tls %s, which medgate run refuses", tc.tls)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
