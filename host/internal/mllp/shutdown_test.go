package mllp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/transforms/hl7"
)

// heldProc holds every message (or only those whose id ends with hold,
// when set; the others are answered at once) until the test releases them
// (or their context ends), reporting the id of each message it starts on
// started and of each one whose context ended on cancelled.
type heldProc struct {
	hold      string
	started   chan string
	cancelled chan string
	release   chan struct{}
	once      sync.Once
}

// releaseAll lets every held message through, now and from now on.
func (p *heldProc) releaseAll() { p.once.Do(func() { close(p.release) }) }

func newHeldProc() *heldProc {
	return &heldProc{started: make(chan string, 16), cancelled: make(chan string, 16), release: make(chan struct{})}
}

func (p *heldProc) Process(ctx context.Context, in pipeline.Input) (*message.Reply, error) {
	var env map[string]any
	if err := json.Unmarshal(in.Value, &env); err != nil {
		return nil, err
	}
	id, _ := env["id"].(string)
	p.started <- id
	if p.hold != "" && !strings.HasSuffix(id, p.hold) {
		return status(message.StatusOK)(env)
	}
	select {
	case <-p.release:
		return status(message.StatusOK)(env)
	case <-ctx.Done():
		p.cancelled <- id
		return nil, ctx.Err()
	}
}

// startServer serves cfg on a loopback port with proc, logging to log
// (quiet when nil); the test shuts it down; when the test ends, proc's
// messages are released and the server is closed again.
func startServer(t *testing.T, cfg config.MLLPListener, proc *heldProc, log *slog.Logger) *Server {
	t.Helper()
	if log == nil {
		log = quiet
	}
	s, err := New(cfg, proc, fakeMaps{}, log, nil)
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
		proc.releaseAll()
		_ = s.Close()
		<-served
	})
	return s
}

// receive returns what a channel gives within 10 seconds.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
	var zero T
	return zero
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling step, not a wait for an outcome
	}
}

// refuses reports whether addr refuses a new connection.
func refuses(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}

// dialMLLP connects to addr with a 10-second deadline for the exchange.
func dialMLLP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// TestShutdownACKsMessageBeingProcessed: a message whose processing had
// begun when the server started shutting down still gets its ACK once its
// outcome arrives within the grace; a message pipelined behind it on the
// same connection is not read (its sender resends it elsewhere), and the
// connection then closes. Close used to cut the connection at once (and
// cancel the processing), so the sender got no ACK and had to resend.
func TestShutdownACKsMessageBeingProcessed(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.ProcessTimeout = config.Duration(time.Minute)
	proc := newHeldProc()
	s := startServer(t, cfg, proc, nil)
	addr := s.Addr().String()
	c := dialMLLP(t, addr)
	two := append(frame(strings.Replace(a28, "%s", "1", 1)), frame(strings.Replace(a28, "%s", "2", 1))...)
	if _, err := c.Write(two); err != nil {
		t.Fatal(err)
	}
	if id := receive(t, proc.started, "message processed"); id != "hl7:HIS:XMFY:MSG1" {
		t.Fatalf("processing %s, want MSG1 first", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- s.Shutdown(ctx) }()
	waitFor(t, "the listener refuses new connections once shutdown began", func() bool { return refuses(addr) })
	proc.releaseAll()
	rd := hl7.NewReader(c)
	b, err := rd.ReadMessage()
	if err != nil {
		t.Fatalf("no ACK for the message being processed at shutdown: %v", err)
	}
	ack, err := hl7.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := [2]string{ack.Get(hl7.Location{Segment: "MSA", Field: 1}), ack.Get(hl7.Location{Segment: "MSA", Field: 2})}; got != [2]string{"AA", "MSG1"} {
		t.Errorf("ACK MSA-1, MSA-2 = %q, want AA for MSG1", got)
	}
	if b, err := rd.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Errorf("after the ACK: %q, %v; want the connection closed (EOF)", b, err)
	}
	if err := receive(t, closed, "Shutdown return"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case id := <-proc.started:
		t.Errorf("%s was read and processed after shutdown began", id)
	default:
	}
}

// TestShutdownClosesIdleConnectionsAtOnce: while a message on one
// connection is still being processed, shutdown closes at once the
// connections with nothing to answer (waiting for a first message,
// waiting after an ACK, or in the middle of a frame, which is not
// processed), and refuses new ones; the grace is for the busy connection
// alone, which still gets its ACK.
func TestShutdownClosesIdleConnectionsAtOnce(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.MaxConnections = 8
	cfg.IdleTimeout = config.Duration(time.Hour)
	cfg.ReadTimeout = config.Duration(time.Hour)
	cfg.ProcessTimeout = config.Duration(time.Hour)
	proc := newHeldProc()
	proc.hold = "MSGB"
	s := startServer(t, cfg, proc, nil)
	addr := s.Addr().String()

	busy := dialMLLP(t, addr)
	if _, err := busy.Write(frame(strings.Replace(a28, "%s", "B", 1))); err != nil {
		t.Fatal(err)
	}
	receive(t, proc.started, "busy message processed")
	idle := map[string]net.Conn{"fresh": dialMLLP(t, addr), "after an ACK": dialMLLP(t, addr), "mid-frame": dialMLLP(t, addr)}
	if _, err := idle["after an ACK"].Write(frame(strings.Replace(a28, "%s", "A", 1))); err != nil {
		t.Fatal(err)
	}
	if _, err := hl7.NewReader(idle["after an ACK"]).ReadMessage(); err != nil {
		t.Fatalf("no ACK before shutdown: %v", err)
	}
	receive(t, proc.started, "message before shutdown")
	if _, err := idle["mid-frame"].Write([]byte("\x0b" + strings.Replace(a28, "%s", "P", 1)[:40])); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- s.Shutdown(ctx) }()
	for name, c := range idle {
		// Within the connections' 10s deadline, far below the grace and
		// the idle timeout of an hour.
		if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s connection: read %d bytes, %v; want it closed while another message is processed", name, n, err)
		}
	}
	if !refuses(addr) {
		t.Error("a new connection was taken during the grace")
	}
	select {
	case err := <-closed:
		t.Fatalf("Shutdown returned (%v) before the busy message's outcome arrived", err)
	default:
	}
	proc.releaseAll()
	if b, err := hl7.NewReader(busy).ReadMessage(); err != nil || !bytes.Contains(b, []byte("MSA|AA|MSGB")) {
		t.Errorf("busy connection: %q, %v; want its AA", b, err)
	}
	if err := receive(t, closed, "Shutdown return"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case id := <-proc.started:
		t.Errorf("%s was processed after shutdown began", id)
	default:
	}
}

// TestShutdownCutsAfterGrace: a message whose outcome does not arrive
// within the grace (Shutdown's deadline, or else the server's
// ShutdownGrace, mllp.shutdownGrace) has its processing cancelled and its
// connection cut without an ACK (its sender resends; the resend gets the
// stored outcome), and the cut is counted in a WARN. Shutdown without a
// deadline used to wait for DefaultShutdownGrace whatever was configured.
func TestShutdownCutsAfterGrace(t *testing.T) {
	t.Parallel()
	for name, shut := range map[string]func(*Server) error{
		"Shutdown deadline": func(s *Server) error {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			return s.Shutdown(ctx)
		},
		"Close, ShutdownGrace": func(s *Server) error {
			s.ShutdownGrace = 50 * time.Millisecond
			return s.Close()
		},
		"Shutdown without a deadline, ShutdownGrace": func(s *Server) error {
			s.ShutdownGrace = 50 * time.Millisecond
			return s.Shutdown(context.Background())
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.ProcessTimeout = config.Duration(time.Hour)
			proc := newHeldProc()
			logs := &syncBuffer{}
			s := startServer(t, cfg, proc, slog.New(slog.NewTextHandler(logs, nil)))
			c := dialMLLP(t, s.Addr().String())
			if _, err := c.Write(frame(strings.Replace(a28, "%s", "1", 1))); err != nil {
				t.Fatal(err)
			}
			receive(t, proc.started, "message processed")
			shutdown := make(chan error, 1)
			go func() { shutdown <- shut(s) }()
			var err error
			select {
			case err = <-shutdown:
			case <-time.After(3 * time.Second): // far above the 50ms grace, below DefaultShutdownGrace
				t.Fatalf("shutdown with a 50ms grace still going on after 3s")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown: %v, want the grace exceeded", err)
			}
			if id := receive(t, proc.cancelled, "processing cancelled"); id != "hl7:HIS:XMFY:MSG1" {
				t.Errorf("cancelled %s, want MSG1", id)
			}
			if b, err := hl7.NewReader(c).ReadMessage(); err == nil {
				t.Errorf("got %q after the grace, want the connection cut", b)
			}
			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "cut=1") {
				t.Errorf("log %q: want a WARN counting 1 connection cut", out)
			}
			if strings.Contains(out, "王小梅") || strings.Contains(out, "11010519491231002X") {
				t.Errorf("log %q holds personal data", out)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
