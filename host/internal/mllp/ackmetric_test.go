package mllp

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// counterBy is the counter name in reg by the value of its label label
// (the other labels summed).
func counterBy(t *testing.T, reg *prometheus.Registry, name, label string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					out[lp.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestACKWriteFailureCounted: a message whose ACK cannot be written (the
// peer hung up while it was processed) is counted in
// medgate_mllp_messages_total as ack="failed", not as the AA, AE or AR
// that was never received, nor as ack="none" (the outcome was stored in
// time: MedgateMLLPUnacknowledged, which watches "none", must not fire);
// an ACK written is counted under its code. The message metric used to
// be counted before the write, so a failed write counted as sent.
func TestACKWriteFailureCounted(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		frame   []byte
		hangUp  bool // the peer closes without reading the ACK
		want    map[string]float64
		warning bool
	}{
		"AA read":                     {frame(strings.Replace(a28, "%s", "1", 1)), false, map[string]float64{"AA": 1}, false},
		"AA, the peer hung up":        {frame(strings.Replace(a28, "%s", "1", 1)), true, map[string]float64{"failed": 1}, true},
		"AR read":                     {frame("PID|1||x\r"), false, map[string]float64{"AR": 1}, false},
		"AR, the peer hung up":        {frame("PID|1||x\r"), true, map[string]float64{"failed": 1}, true},
		"too large, the peer hung up": {frame("MSH|^~\\&|HIS|XMFY|||20261203||ADT^A28|M5|P|2.5\rNTE|" + strings.Repeat("x", 5000) + "\r"), true, map[string]float64{"failed": 1}, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			met, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			s, err := New(listenerConfig(), &fakeProc{answer: status(message.StatusOK)}, fakeMaps{}, slog.New(slog.NewTextHandler(logs, nil)), met)
			if err != nil {
				t.Fatal(err)
			}
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.ServeConn(t.Context(), server)
			}()
			_ = client.SetDeadline(time.Now().Add(10 * time.Second))
			// A pipe's Write returns once the server has read every byte:
			// closing then hangs up before the ACK can be written.
			if _, err := client.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			if !tc.hangUp {
				if _, err := hl7.NewReader(client).ReadMessage(); err != nil {
					t.Fatalf("no ACK: %v", err)
				}
			}
			_ = client.Close()
			<-done
			if diff := cmp.Diff(tc.want, counterBy(t, reg, "medgate_mllp_messages_total", "ack")); diff != "" {
				t.Errorf("medgate_mllp_messages_total by ack (-want +got):\n%s", diff)
			}
			if got := strings.Contains(logs.String(), "MLLP ACK not written"); got != tc.warning {
				t.Errorf("WARN about the ACK not written: %v, want %v; log:\n%s", got, tc.warning, logs)
			}
		})
	}
}
