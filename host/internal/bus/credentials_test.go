package bus

import (
	"bytes"
	"crypto/x509"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPlainConnWritesCredentialsInForce: with PLAIN, sarama writes the
// credentials of its configuration, fixed for a client's life; plainConn
// writes those in force in their place, in every version of the
// SaslAuthenticate request (v2 is flexible), and leaves every other
// request as it is. The expected frames are encoded by kmsg.
func TestPlainConnWritesCredentialsInForce(t *testing.T) {
	creds, err := NewCredentials(&SASLConfig{Mechanism: SASLPlain, Username: "medgate-b", Password: "new-Passw0rd"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("medgate"))
	auth := func(v int16, user, pass string) []byte {
		r := kmsg.NewPtrSASLAuthenticateRequest()
		r.Version = v
		r.SASLAuthBytes = []byte("\x00" + user + "\x00" + pass)
		return f.AppendRequest(nil, r, 7)
	}
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	for name, tc := range map[string]struct {
		in, want []byte
	}{
		"v0":              {auth(0, "medgate-a", saslPlaceholder), auth(0, "medgate-b", "new-Passw0rd")},
		"v1":              {auth(1, "medgate-a", saslPlaceholder), auth(1, "medgate-b", "new-Passw0rd")},
		"v2 (flexible)":   {auth(2, "medgate-a", saslPlaceholder), auth(2, "medgate-b", "new-Passw0rd")},
		"other request":   {f.AppendRequest(nil, meta, 8), f.AppendRequest(nil, meta, 8)},
		"part of a frame": {auth(2, "medgate-a", "x")[:20], auth(2, "medgate-a", "x")[:20]},
	} {
		t.Run(name, func(t *testing.T) {
			c := &plainConn{creds: creds}
			out, ok := c.withCredentials(tc.in)
			if !ok {
				out = tc.in
			}
			if !bytes.Equal(out, tc.want) {
				t.Errorf("written\n%q\nwant\n%q", out, tc.want)
			}
		})
	}
}

// TestCredentialsRotate: Rotate puts new credentials in force, but not a
// changed mechanism, TLS turned on or off, or a changed
// InsecureSkipVerify (they need new clients); its errors show no password.
func TestCredentialsRotate(t *testing.T) {
	plain := func(user, pass string) *SASLConfig {
		return &SASLConfig{Mechanism: SASLPlain, Username: user, Password: pass}
	}
	for name, tc := range map[string]struct {
		sasl    *SASLConfig
		tls     *TLSConfig
		wantErr string
	}{
		"new user and password": {sasl: plain("u2", "p2-secret")},
		"mechanism changed":     {sasl: &SASLConfig{Mechanism: SASLScramSHA512, Username: "u2", Password: "p2-secret"}, wantErr: "SASL mechanism changed"},
		"SASL turned off":       {wantErr: "SASL mechanism changed"},
		"TLS turned on":         {sasl: plain("u2", "p2-secret"), tls: &TLSConfig{}, wantErr: "TLS was turned on or off"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := NewCredentials(plain("u1", "p1-secret"), nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := NewCredentials(tc.sasl, tc.tls)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Rotate(n)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Rotate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Rotate: %v, want an error saying %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Fatalf("Rotate's error shows a password: %v", err)
			}
			wantUser := "u1"
			if tc.wantErr == "" {
				wantUser = "u2"
			}
			if got := c.user(); got != wantUser {
				t.Errorf("user in force %q, want %q", got, wantUser)
			}
			if s := c.String(); strings.Contains(s, "secret") {
				t.Errorf("String() = %q shows the password", s)
			}
		})
	}
}

// TestTLSHandshakeBounded: a broker address that accepts connections but
// never answers the TLS handshake (a wrong port, a hung proxy) fails the
// connection after the dial timeout. sarama bounds the handshake only with
// its own TLS (a read deadline set before each write); the dialer that
// reads the TLS material in force does it itself.
func TestTLSHandshakeBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	cfg := Config{Brokers: []string{ln.Addr().String()}, TLS: &TLSConfig{}, tune: func(sc *sarama.Config) {
		sc.Net.DialTimeout = 300 * time.Millisecond
		sc.Net.ReadTimeout = time.Hour // only the dial timeout may end it
		sc.Metadata.Retry.Max = 0
	}}
	done := make(chan error, 1)
	go func() {
		p, err := NewProducer(cfg)
		if err == nil {
			p.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("NewProducer succeeded against a broker that never answers")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the TLS handshake with a broker that never answers was not bounded by the dial timeout")
	}
}

// TestCredentialsRefuseAnExpiredClientCertificate: a client certificate
// that has expired (or is not valid yet) is refused when the credentials
// are read, at start and at a reload, naming the file and the date:
// before, a reload put it in force, every new connection was then refused
// by the brokers, and the certificate in force before was gone.
func TestCredentialsRefuseAnExpiredClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCert(t, dir, "ca", nil, time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	for name, tc := range map[string]struct {
		notBefore, notAfter time.Time
		want                []string
	}{
		"valid":         {notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(time.Hour)},
		"expired":       {notBefore: time.Now().Add(-2 * time.Hour), notAfter: time.Now().Add(-time.Hour), want: []string{"expired", "kafka.tls.certFile", "renewed"}},
		"not valid yet": {notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(2 * time.Hour), want: []string{"not valid before", "clock"}},
	} {
		t.Run(name, func(t *testing.T) {
			c := newTestCertFrom(t, t.TempDir(), "client", ca, tc.notBefore, tc.notAfter)
			_, err := NewCredentials(nil, &TLSConfig{CertFile: c.certFile, KeyFile: c.keyFile})
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("NewCredentials: %v", err)
			case tc.want != nil && err == nil:
				t.Fatal("NewCredentials took the certificate")
			}
			for _, w := range append(tc.want, c.certFile) {
				if tc.want != nil && !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
		})
	}
}

// TestCredentialsFileErrorsSayHowToFix: the TLS files that cannot be used
// are named by their configuration key and path, with what to do, at
// start and at a reload (which keeps the credentials in force).
func TestCredentialsFileErrorsSayHowToFix(t *testing.T) {
	dir := t.TempDir()
	hour := time.Now().Add(time.Hour)
	ca := newTestCert(t, dir, "ca", nil, hour, x509.ExtKeyUsageClientAuth)
	a := newTestCert(t, dir, "client-a", ca, hour, x509.ExtKeyUsageClientAuth)
	b := newTestCert(t, dir, "client-b", ca, hour, x509.ExtKeyUsageClientAuth)
	missing := filepath.Join(dir, "missing.pem")
	for name, tc := range map[string]struct {
		tls  *TLSConfig
		want []string
	}{
		"CA file missing":            {&TLSConfig{CAFile: missing}, []string{"kafka.tls.caFile", missing, "write"}},
		"certificate file missing":   {&TLSConfig{CertFile: missing, KeyFile: a.keyFile}, []string{"kafka.tls.certFile", missing, "its own key"}},
		"key of another certificate": {&TLSConfig{CertFile: a.certFile, KeyFile: b.keyFile}, []string{"kafka.tls.certFile", "kafka.tls.keyFile", a.certFile, b.keyFile, "its own key"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewCredentials(nil, tc.tls)
			if err == nil {
				t.Fatal("NewCredentials succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
		})
	}
}
