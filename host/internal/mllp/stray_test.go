package mllp

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// counterValue is the value of the counter name with the labels of one
// listener in reg (0 when it has none).
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			total := 0.0
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
			return total
		}
	}
	return 0
}

// TestBytesOutsideFramesDiscarded: bytes before a start block (a sender's
// keep-alive bytes, a stray byte between frames or after an end block) are
// discarded, as HAPI and Mirth do, and the frames around them are
// processed and acknowledged; the bytes discarded are counted in
// medgate_mllp_discarded_bytes_total (blank bytes between frames, which
// are normal, are not) and logged once per connection, without their
// content. They used to end the connection with an AR saying the message
// was not framed.
func TestBytesOutsideFramesDiscarded(t *testing.T) {
	t.Parallel()
	msg := func(n string) string { return strings.Replace(a28, "%s", n, 1) }
	for name, tc := range map[string]struct {
		writes    [][]byte // one ACK is read after each
		discarded int
	}{
		"keep-alive bytes before the first frame": {[][]byte{append([]byte("\x00\x00\x05"), frame(msg("1"))...)}, 3},
		"stray bytes between frames, twice": {[][]byte{
			append([]byte("\x00"), frame(msg("1"))...),
			append([]byte("\r\nPID|王小梅\x00\r\n"), frame(msg("2"))...),
		}, 1 + len("PID|王小梅\x00")},
		"a byte between the end block and its CR": {[][]byte{
			[]byte("\x0b" + msg("1") + "\x1cX\r"),
			frame(msg("2")),
		}, 1},
		"blank bytes only":                  {[][]byte{append([]byte("\r\n \t"), frame(msg("1"))...)}, 0},
		"the start of an MSH, then a frame": {[][]byte{append([]byte("MS"), frame(msg("1"))...)}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			met, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, slog.New(slog.NewTextHandler(logs, nil)), met)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, tc.writes...)
			if len(acks) != len(tc.writes) {
				t.Fatalf("%d ACKs, want %d; log:\n%s", len(acks), len(tc.writes), logs)
			}
			for i, ack := range acks {
				msa := ack.Segment(hl7.Location{Segment: "MSA"}, 0, -1)
				if msa == nil || msa.Value(1, 1, 1, 1) != "AA" || msa.Value(2, 1, 1, 1) != "MSG"+string(rune('1'+i)) {
					t.Errorf("ACK %d: %v, want AA for MSG%d", i+1, ack.Segments, i+1)
				}
			}
			if len(proc.envs) != len(tc.writes) {
				t.Errorf("%d messages processed, want %d", len(proc.envs), len(tc.writes))
			}
			if got := counterValue(t, reg, "medgate_mllp_discarded_bytes_total"); got != float64(tc.discarded) {
				t.Errorf("medgate_mllp_discarded_bytes_total = %v, want %d", got, tc.discarded)
			}
			out := logs.String()
			want := 0
			if tc.discarded > 0 {
				want = 1
			}
			if got := strings.Count(out, "outside an MLLP frame"); got != want {
				t.Errorf("%d log lines about bytes discarded, want %d (once per connection):\n%s", got, want, out)
			}
			if strings.Contains(out, "王小梅") || strings.Contains(out, "PID") {
				t.Errorf("log %q holds the discarded bytes", out)
			}
		})
	}
}

// TestBytesWithoutStartBlockBounded: a peer that sends bytes without ever
// sending a start block is cut off once more than maxMessageBytes of them
// have come since the last frame (or since it connected), however they
// are split, with a WARN that says why and holds none of the bytes; up to
// maxMessageBytes of them, the connection goes on and the next frame is
// answered.
func TestBytesWithoutStartBlockBounded(t *testing.T) {
	t.Parallel()
	garbage := func(n int) []byte { return bytes.Repeat([]byte("\x00PID|王小梅\r\n"), n)[:n] }
	for name, tc := range map[string]struct {
		bytes      []byte
		afterFrame bool // a frame comes first
		piece      int  // written in pieces of this many bytes (0: at once)
		cut        bool
	}{
		"maxMessageBytes of them":          {bytes: garbage(4096)},
		"one more":                         {bytes: garbage(4097), cut: true},
		"one more, blank bytes only":       {bytes: bytes.Repeat([]byte("\r\n"), 4098/2), cut: true},
		"after a frame, maxMessageBytes":   {bytes: garbage(4096), afterFrame: true},
		"after a frame, one more":          {bytes: garbage(4097), afterFrame: true, cut: true},
		"in small pieces, maxMessageBytes": {bytes: garbage(4096), piece: 7},
		"in small pieces, one more":        {bytes: garbage(4097), piece: 7, cut: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.MaxMessageBytes = 4096
			cfg.IdleTimeout = config.Duration(time.Hour)
			logs := &syncBuffer{}
			proc := newHeldProc()
			proc.hold = "none" // every message answered at once
			s := startServer(t, cfg, proc, slog.New(slog.NewTextHandler(logs, nil)))
			c := dialMLLP(t, s.Addr().String())
			rd := hl7.NewReader(c)
			if tc.afterFrame {
				if _, err := c.Write(frame(strings.Replace(a28, "%s", "0", 1))); err != nil {
					t.Fatal(err)
				}
				if b, err := rd.ReadMessage(); err != nil || !bytes.Contains(b, []byte("MSA|AA|MSG0")) {
					t.Fatalf("first frame: %q, %v; want its AA", b, err)
				}
			}
			piece := tc.piece
			if piece == 0 {
				piece = len(tc.bytes)
			}
			for b := tc.bytes; len(b) > 0; b = b[min(piece, len(b)):] {
				if _, err := c.Write(b[:min(piece, len(b))]); err != nil {
					t.Fatal(err)
				}
			}
			if tc.cut {
				// Within the 10s deadline of the exchange, far below the
				// idle timeout of an hour.
				b, err := rd.ReadMessage()
				if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("read %q, %v; want the connection closed", b, err)
				}
				waitFor(t, "the WARN", func() bool { return strings.Contains(logs.String(), "without a start block") })
				out := logs.String()
				if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "maxMessageBytes=4096") {
					t.Errorf("log %q: want a WARN saying the peer sent more than maxMessageBytes without a start block", out)
				}
				if strings.Contains(out, "王小梅") || strings.Contains(out, "PID") {
					t.Errorf("log %q holds the bytes discarded", out)
				}
				return
			}
			if _, err := c.Write(frame(strings.Replace(a28, "%s", "1", 1))); err != nil {
				t.Fatal(err)
			}
			if b, err := rd.ReadMessage(); err != nil || !bytes.Contains(b, []byte("MSA|AA|MSG1")) {
				t.Errorf("after %d bytes outside a frame: %q, %v; want the frame's AA; log:\n%s", len(tc.bytes), b, err, logs)
			}
		})
	}
}

// TestUnframedMessageStillRefused: what the peer sends outside a frame is
// discarded unless it starts as an HL7 message (MSH): a sender that writes
// HL7 without MLLP framing still gets the AR that says so at once, the
// frames before it answered, rather than waiting for an ACK that would
// never come.
func TestUnframedMessageStillRefused(t *testing.T) {
	t.Parallel()
	proc := &fakeProc{answer: status(message.StatusOK)}
	s, _ := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(t.Context(), server)
	}()
	defer func() { client.Close(); <-done }()
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		_, _ = client.Write(append(frame(strings.Replace(a28, "%s", "1", 1)), "\r\n"+strings.Replace(a28, "%s", "2", 1)...))
	}()
	rd := hl7.NewReader(client)
	var codes []string
	for {
		b, err := rd.ReadMessage()
		if err != nil {
			break
		}
		m, err := hl7.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, m.Get(hl7.Location{Segment: "MSA", Field: 1})+" "+m.Get(hl7.Location{Segment: "MSA", Field: 2}))
		if strings.HasPrefix(codes[len(codes)-1], "AR") && !strings.Contains(m.Get(hl7.Location{Segment: "MSA", Field: 3}), "MLLP") {
			t.Errorf("AR %q does not say the message needs MLLP framing", b)
		}
	}
	if want := []string{"AA MSG1", "AR MSG2"}; strings.Join(codes, ",") != strings.Join(want, ",") {
		t.Errorf("ACKs %q, want %q", codes, want)
	}
	if len(proc.envs) != 1 {
		t.Errorf("%d messages processed, want the framed one", len(proc.envs))
	}
}

// TestStartBlockInsideFrame: a start block inside a frame (the end block
// of a message was lost, or its sender gave it up and started another)
// closes the connection without an ACK, and neither the partial message
// nor the one after it is processed: the sender resends the message it
// waits for an ACK of. HAPI (MllpDecoderState) and Mirth
// (FrameStreamHandler) do not discard the partial frame: they keep the
// 0x0B as message content, so the two messages would be processed as one
// under the first one's MSH-10; medgate does not follow them there.
func TestStartBlockInsideFrame(t *testing.T) {
	t.Parallel()
	partial := strings.Replace(a28, "%s", "1", 1)[:40]
	for name, frames := range map[string][][]byte{
		"a partial message, then a whole one": {[]byte("\x0b" + partial + "\x0b" + strings.Replace(a28, "%s", "2", 1) + "\x1c\r")},
		"after an acknowledged message": {frame(strings.Replace(a28, "%s", "0", 1)),
			[]byte("\x0b" + partial + "\x0b" + strings.Replace(a28, "%s", "2", 1) + "\x1c\r")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, frames...)
			if len(acks) != len(frames)-1 {
				t.Fatalf("%d ACKs, want %d: none for the frame holding a start block", len(acks), len(frames)-1)
			}
			for _, env := range proc.envs {
				if id := env["id"]; id != "hl7:HIS:XMFY:MSG0" {
					t.Errorf("message %v processed; want only the whole frame before", id)
				}
			}
		})
	}
}
