package mllp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
)

// meteredServer serves cfg on a loopback port with metrics, logging to
// logs, its log rate limiter on a fake clock; it is closed when the test
// ends.
func meteredServer(t *testing.T, cfg config.MLLPListener, logs *syncBuffer) (*Server, *prometheus.Registry, *fakeClock) {
	t.Helper()
	reg := prometheus.NewRegistry()
	met, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, &fakeProc{answer: status(message.StatusOK)}, fakeMaps{}, slog.New(slog.NewTextHandler(logs, nil)), met)
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	s.refusals.now = clk.now
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.Serve(context.Background())
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-served
	})
	return s, reg, clk
}

// linesWith returns the lines of log holding every one of subs.
func linesWith(log string, subs ...string) []string {
	var out []string
	for line := range strings.Lines(log) {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(line, sub)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// untilClosed reads from c until the listener closes it (the deadline
// dialMLLP set fails the test instead).
func untilClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := io.Copy(io.Discard, c)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the listener did not close the connection within 10s")
	}
}

// TestFramingErrorsLogRateLimited: a connection closed on a framing error
// (a start block inside a frame, the peer hanging up inside a frame, no
// end block within readTimeout, too many bytes without a start block) is
// logged at WARN, without the message's content, the first time for its
// address and reason, then at most once a minute saying how many there
// were meanwhile, and every one is counted in
// medgate_mllp_framing_errors_total by reason. A sender that resends a
// broken frame for ever used to show only as an INFO "MLLP connection
// ended" per connection (and too many bytes without a start block as a
// WARN per connection, uncounted).
func TestFramingErrorsLogRateLimited(t *testing.T) {
	t.Parallel()
	msg := func(n string) string { return strings.Replace(a28, "%s", n, 1) }
	for reason, tc := range map[string]struct {
		readTimeout time.Duration
		// send writes the broken frame on c (a TCP connection).
		send func(c *net.TCPConn) error
	}{
		"startBlockInFrame": {send: func(c *net.TCPConn) error {
			_, err := c.Write([]byte("\x0b" + msg("1") + "\x0b" + msg("2") + "\x1c\r"))
			return err
		}},
		"endedInFrame": {send: func(c *net.TCPConn) error {
			if _, err := c.Write([]byte("\x0b" + msg("1"))); err != nil {
				return err
			}
			return c.CloseWrite()
		}},
		"noEndBlock": {readTimeout: 200 * time.Millisecond, send: func(c *net.TCPConn) error {
			_, err := c.Write([]byte("\x0b" + msg("1")))
			return err
		}},
		"noStartBlock": {send: func(c *net.TCPConn) error {
			_, err := c.Write(bytes.Repeat([]byte("\x00PID|王小梅\r\n"), 4097)[:4097])
			return err
		}},
	} {
		t.Run(reason, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			if tc.readTimeout > 0 {
				cfg.ReadTimeout = config.Duration(tc.readTimeout)
			}
			logs := &syncBuffer{}
			s, reg, clk := meteredServer(t, cfg, logs)
			broken := func() {
				t.Helper()
				c := dialMLLP(t, s.Addr().String())
				if err := tc.send(c.(*net.TCPConn)); err != nil {
					t.Fatal(err)
				}
				untilClosed(t, c)
				_ = c.Close()
			}
			warns := func() []string { return linesWith(logs.String(), "level=WARN", "reason="+reason) }
			for range 5 {
				broken()
				clk.advance(10 * time.Second)
			}
			if w := warns(); len(w) != 1 || strings.Contains(w[0], "framingErrorsSinceLastLog") {
				t.Fatalf("5 framing errors within a minute logged %d WARNs with reason=%s, want the first alone:\n%s", len(w), reason, logs)
			}
			clk.advance(10 * time.Second)
			broken()
			w := warns()
			if len(w) != 2 || !strings.Contains(w[1], "framingErrorsSinceLastLog=4") {
				t.Fatalf("the first framing error a minute later: %d WARNs, want a second one saying 4 were not logged meanwhile:\n%s", len(w), logs)
			}
			out := logs.String()
			if ended := linesWith(out, "level=INFO", "MLLP connection ended"); len(ended) > 0 {
				t.Errorf("framing errors also logged as %q", ended)
			}
			if strings.Contains(out, "王小梅") || strings.Contains(out, "PID") || strings.Contains(out, "MSG1") {
				t.Errorf("the log holds the bytes read:\n%s", out)
			}
			if diff := cmp.Diff(map[string]float64{reason: 6}, counterBy(t, reg, "medgate_mllp_framing_errors_total", "reason")); diff != "" {
				t.Errorf("medgate_mllp_framing_errors_total by reason (-want +got):\n%s", diff)
			}
		})
	}
}

// tlsListenerConfig is listenerConfig with tls, its certificate and key
// written to a temporary directory.
func tlsListenerConfig(t *testing.T) config.MLLPListener {
	t.Helper()
	dir := t.TempDir()
	ca, caKey := selfSigned(t, "test CA", nil, nil, true)
	server, serverKey := selfSigned(t, "127.0.0.1", ca, caKey, false)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg := listenerConfig()
	cfg.TLS = &config.MLLPTLS{CertFile: write("server.crt", "CERTIFICATE", server.Raw), KeyFile: write("server.key", "EC PRIVATE KEY", keyDER(serverKey))}
	return cfg
}

// TestTLSHandshakeFailuresLogRateLimited: a peer failing the TLS handshake
// in a loop (a scanner, or a sender speaking plain MLLP to a TLS
// listener) gets one WARN, then at most one a minute saying how many
// handshakes failed meanwhile, while every failure is counted in
// medgate_mllp_connections_total as tls. Each failed handshake used to
// log its own WARN.
func TestTLSHandshakeFailuresLogRateLimited(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	s, reg, clk := meteredServer(t, tlsListenerConfig(t), logs)
	plain := func() {
		t.Helper()
		c := dialMLLP(t, s.Addr().String())
		if _, err := c.Write(frame(strings.Replace(a28, "%s", "1", 1))); err != nil {
			t.Fatal(err)
		}
		untilClosed(t, c)
		_ = c.Close()
	}
	warns := func() []string { return linesWith(logs.String(), "level=WARN", "MLLP TLS handshake failed") }
	for range 5 {
		plain()
		clk.advance(10 * time.Second)
	}
	if w := warns(); len(w) != 1 || strings.Contains(w[0], "failedSinceLastLog") {
		t.Fatalf("5 failed handshakes within a minute logged %d WARNs, want the first alone:\n%s", len(w), logs)
	}
	clk.advance(10 * time.Second)
	plain()
	w := warns()
	if len(w) != 2 || !strings.Contains(w[1], "failedSinceLastLog=4") {
		t.Fatalf("the first failed handshake a minute later: %d WARNs, want a second one saying 4 failed meanwhile:\n%s", len(w), logs)
	}
	if out := logs.String(); strings.Contains(out, "王小梅") || strings.Contains(out, "MSG1") {
		t.Errorf("the log holds the bytes read:\n%s", out)
	}
	if diff := cmp.Diff(map[string]float64{"tls": 6}, counterBy(t, reg, "medgate_mllp_connections_total", "result")); diff != "" {
		t.Errorf("medgate_mllp_connections_total by result (-want +got):\n%s", diff)
	}
}
