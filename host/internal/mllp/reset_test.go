package mllp

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// brokenConn is a connection that reads its input, then fails with err.
type brokenConn struct {
	bufConn
	err error
}

func (c *brokenConn) Read(p []byte) (int, error) {
	n, err := c.in.Read(p)
	if errors.Is(err, io.EOF) {
		return n, c.err
	}
	return n, err
}

// TestConnectionLostInsideFrame: a connection that fails inside a frame
// other than by a clean close (a reset by the peer, a broken TLS record)
// ends a partial message as a clean close does: a framing error
// endedInFrame, counted and logged at WARN, never with the bytes read. It
// was logged at INFO as "MLLP connection ended", not counted, so a sender
// whose frames were cut by resets went unseen. Between frames the same
// failure is an ordinary end of the connection.
func TestConnectionLostInsideFrame(t *testing.T) {
	t.Parallel()
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	msg := strings.Replace(a28, "%s", "1", 1)
	testCases := map[string]struct {
		in          string
		err         error
		wantFraming map[string]float64
	}{
		"reset inside a frame":   {"\x0b" + msg, reset, map[string]float64{framingEndedInFrame: 1}},
		"TLS failure in a frame": {"\x0b" + msg[:20], errors.New("local error: tls: bad record MAC"), map[string]float64{framingEndedInFrame: 1}},
		"reset between frames":   {string(frame(msg)), reset, map[string]float64{}},
		"clean close in a frame": {"\x0b" + msg, io.EOF, map[string]float64{framingEndedInFrame: 1}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			met, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			s, err := New(listenerConfig(), &fakeProc{answer: status("ok")}, fakeMaps{}, slog.New(slog.NewTextHandler(&logs, nil)), met)
			if err != nil {
				t.Fatal(err)
			}
			s.ServeConn(t.Context(), &brokenConn{bufConn: bufConn{in: bytes.NewReader([]byte(tc.in))}, err: tc.err})
			if diff := cmp.Diff(tc.wantFraming, counterBy(t, reg, "medgate_mllp_framing_errors_total", "reason")); diff != "" {
				t.Errorf("medgate_mllp_framing_errors_total by reason (-want +got):\n%s\nlog:\n%s", diff, logs.String())
			}
			out := logs.String()
			if len(tc.wantFraming) > 0 && len(linesWith(out, "level=WARN", "reason="+framingEndedInFrame)) != 1 {
				t.Errorf("log %q: want one WARN with reason=%s", out, framingEndedInFrame)
			}
			if strings.Contains(out, "王小梅") || strings.Contains(out, "MSG1") && len(tc.wantFraming) > 0 {
				t.Errorf("the log holds the bytes read:\n%s", out)
			}
		})
	}
}
