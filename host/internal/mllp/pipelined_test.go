package mllp

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestTooLargeRefusalNamesItsOwnMessage: a sender that writes a message
// larger than maxMessageBytes and, without waiting, the next one (both
// reaching the listener in one read) gets an AR whose MSA-2 is the large
// message's MSH-10. An AR naming the next message would tell the sender
// that one was refused for good, while it was never processed, and leave
// the large one to be resent.
func TestTooLargeRefusalNamesItsOwnMessage(t *testing.T) {
	t.Parallel()
	big := "MSH|^~\\&|HIS|XMFY|||20261203||ADT^A28|BIG1|P|2.5\rNTE|" + strings.Repeat("x", 5000) + "\r"
	testCases := map[string]struct {
		next string // sent right after the large message, in the same write
	}{
		"a whole frame":     {string(frame(strings.Replace(a28, "%s", "NEXT2", 1)))},
		"the start of one":  {"\x0b" + strings.Replace(a28, "%s", "NEXT2", 1)[:60]},
		"two whole frames":  {string(frame(strings.Replace(a28, "%s", "NEXT2", 1))) + string(frame(strings.Replace(a28, "%s", "NEXT3", 1)))},
		"nothing (control)": {""},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.ServeConn(t.Context(), server)
			}()
			defer func() { client.Close(); <-done }()
			_ = client.SetDeadline(time.Now().Add(5 * time.Second))
			wrote := make(chan error, 1)
			go func() {
				_, err := client.Write(append(frame(big), tc.next...))
				wrote <- err
			}()
			b, err := hl7.NewReader(client).ReadMessage()
			if err != nil {
				t.Fatalf("no ACK: %v", err)
			}
			m, err := hl7.Parse(b)
			if err != nil {
				t.Fatalf("ACK %q does not parse: %v", b, err)
			}
			if got := m.Get(hl7.Location{Segment: "MSA", Field: 1}); got != "AR" {
				t.Errorf("MSA-1 %q, want AR", got)
			}
			if got := m.Get(hl7.Location{Segment: "MSA", Field: 2}); got != "BIG1" {
				t.Errorf("MSA-2 %q, want BIG1 (the message refused as too large)", got)
			}
			if len(proc.envs) != 0 {
				t.Errorf("%d message(s) processed; the connection is closed after the large one", len(proc.envs))
			}
		})
	}
}
