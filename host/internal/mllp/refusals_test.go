package mllp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func tcpAddr(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }

// TestRefusalLogRateLimited: the first refusal of an address for a reason
// is logged, the next ones within a minute are not, and the first after
// the minute is logged with how many were not; addresses (whatever their
// port) and reasons are told apart up to maxPeers addresses, those not
// logged for a minute are forgotten to make room, and the rest share one
// entry, logged in the same way.
func TestRefusalLogRateLimited(t *testing.T) {
	t.Parallel()
	type step struct {
		after  time.Duration // the clock moves first
		reason string
		addr   net.Addr
		want   refusal
	}
	a, b, c := tcpAddr("10.1.1.1", 40000), tcpAddr("10.1.1.2", 40000), tcpAddr("10.1.1.3", 40000)
	aOtherPort := tcpAddr("10.1.1.1", 40001)
	for name, tc := range map[string]struct {
		maxPeers int
		steps    []step
	}{
		"one address reconnecting in a loop": {10, []step{
			{0, refusedAllowFrom, a, refusal{log: true}},
			{time.Second, refusedAllowFrom, aOtherPort, refusal{}},
			{time.Second, refusedAllowFrom, a, refusal{}},
			{57 * time.Second, refusedAllowFrom, a, refusal{}},
			{time.Second, refusedAllowFrom, a, refusal{log: true, unlogged: 3}},
			{time.Second, refusedAllowFrom, a, refusal{}},
			{time.Hour, refusedAllowFrom, a, refusal{log: true, unlogged: 1}},
			{time.Hour, refusedAllowFrom, a, refusal{log: true}},
		}},
		"addresses and reasons apart": {10, []step{
			{0, refusedAllowFrom, a, refusal{log: true}},
			{0, refusedAllowFrom, b, refusal{log: true}},
			{0, refusedMaxConnections, a, refusal{log: true}},
			{0, refusedAllowFrom, b, refusal{}},
			{0, refusedMaxConnections, a, refusal{}},
		}},
		"more addresses than it tells apart": {2, []step{
			{0, refusedAllowFrom, a, refusal{log: true}},
			{0, refusedAllowFrom, b, refusal{log: true}},
			{0, refusedAllowFrom, c, refusal{log: true, shared: true}},
			{0, refusedAllowFrom, tcpAddr("10.1.1.4", 1), refusal{shared: true}},
			{0, refusedAllowFrom, a, refusal{}},
			{time.Minute, refusedAllowFrom, tcpAddr("10.1.1.5", 1), refusal{log: true}},
			{0, refusedAllowFrom, c, refusal{log: true}},
			{0, refusedAllowFrom, tcpAddr("10.1.1.6", 1), refusal{log: true, unlogged: 1, shared: true}},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			l := newRefusalLog()
			l.now, l.maxPeers = clk.now, tc.maxPeers
			for i, st := range tc.steps {
				clk.advance(st.after)
				if got := l.note(st.reason, st.addr); got != st.want {
					t.Errorf("step %d (%s from %s): %+v, want %+v", i+1, st.reason, st.addr, got, st.want)
				}
			}
		})
	}
}

// TestRefusedConnectionsLogRateLimited: a peer refused (outside
// allowFrom, or over maxConnections) reconnecting in a loop gets one WARN,
// then at most one a minute saying how many connections were refused
// meanwhile, while every refusal is counted in
// medgate_mllp_refused_connections_total by reason (and in
// medgate_mllp_connections_total as refused). Each refusal used to log its
// own WARN.
func TestRefusedConnectionsLogRateLimited(t *testing.T) {
	t.Parallel()
	for reason, tc := range map[string]struct {
		allowFrom []string
		warn      string
		hold      bool // a connection holds the only slot (maxConnections 1)
	}{
		refusedAllowFrom:      {allowFrom: []string{"10.0.0.0/8"}, warn: "MLLP connection refused: address not in allowFrom"},
		refusedMaxConnections: {warn: "MLLP connection refused: maxConnections reached", hold: true},
	} {
		t.Run(reason, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.AllowFrom = tc.allowFrom
			cfg.MaxConnections = 1
			reg := prometheus.NewRegistry()
			met, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
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
			accepted := 0.0
			if tc.hold {
				// Answered, so it is served: it holds the slot until the test ends.
				c := dialMLLP(t, s.Addr().String())
				if _, err := c.Write(frame(strings.Replace(a28, "%s", "1", 1))); err != nil {
					t.Fatal(err)
				}
				if _, err := hl7.NewReader(c).ReadMessage(); err != nil {
					t.Fatalf("the connection holding the slot got no ACK: %v", err)
				}
				accepted = 1
			}
			// refused connects and waits for the listener to hang up: the
			// refusal is counted and logged before.
			refused := func() {
				t.Helper()
				c := dialMLLP(t, s.Addr().String())
				if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("read %d bytes, %v; want the connection refused", n, err)
				}
				_ = c.Close()
			}
			warns := func() []string {
				var out []string
				for line := range strings.Lines(logs.String()) {
					if strings.Contains(line, tc.warn) {
						out = append(out, line)
					}
				}
				return out
			}
			for range 5 {
				refused()
				clk.advance(10 * time.Second)
			}
			if w := warns(); len(w) != 1 || !strings.Contains(w[0], "level=WARN") || strings.Contains(w[0], "refusedSinceLastLog") {
				t.Fatalf("5 refusals within a minute logged %d WARNs, want the first alone:\n%s", len(w), logs)
			}
			clk.advance(10 * time.Second)
			refused()
			w := warns()
			if len(w) != 2 || !strings.Contains(w[1], "refusedSinceLastLog=4") {
				t.Fatalf("the first refusal a minute later: %d WARNs, want a second one saying 4 were refused meanwhile:\n%s", len(w), logs)
			}
			if diff := cmp.Diff(map[string]float64{reason: 6}, counterBy(t, reg, "medgate_mllp_refused_connections_total", "reason")); diff != "" {
				t.Errorf("medgate_mllp_refused_connections_total by reason (-want +got):\n%s", diff)
			}
			want := map[string]float64{"refused": 6}
			if accepted > 0 {
				want["accepted"] = accepted
			}
			if diff := cmp.Diff(want, counterBy(t, reg, "medgate_mllp_connections_total", "result")); diff != "" {
				t.Errorf("medgate_mllp_connections_total by result (-want +got):\n%s", diff)
			}
		})
	}
}
