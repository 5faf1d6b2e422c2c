package mllp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// serveTCP starts a listener on a loopback port and returns its address;
// it is closed when the test ends.
func serveTCP(t *testing.T, cfg config.MLLPListener, proc Processor) string {
	t.Helper()
	s, err := New(cfg, proc, fakeMaps{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	return s.Addr().String()
}

// TestEndBlockWithoutCR: a sender that ends its frame with the end block
// alone (no CR after it) and waits for the ACK gets it at once, not when
// the idle timeout ends the wait for the CR; a CR sent later is skipped.
func TestEndBlockWithoutCR(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.IdleTimeout = config.Duration(time.Minute)
	proc := &fakeProc{answer: status(message.StatusOK)}
	addr := serveTCP(t, cfg, proc)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := hl7.NewReader(c)
	for i, send := range []string{
		"\x0b" + strings.Replace(a28, "%s", "1", 1) + "\x1c",
		"\r\x0b" + strings.Replace(a28, "%s", "2", 1) + "\x1c",
	} {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		b, err := rd.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: no ACK within 5s (idle timeout 1m): %v", i+1, err)
		}
		if m, err := hl7.Parse(b); err != nil || m.Get(hl7.Location{Segment: "MSA", Field: 2}) != "MSG"+string(rune('1'+i)) {
			t.Fatalf("message %d: ACK %q", i+1, b)
		}
	}
}
