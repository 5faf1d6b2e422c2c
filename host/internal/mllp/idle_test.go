package mllp

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestIdleCloseLogged: a connection closed for sending no message within
// idleTimeout (a sender that connects and sends nothing, or keeps the
// connection open after its last message) is logged saying so, with the
// setting to raise; it was logged as "MLLP connection ended" with an
// "i/o timeout" error, which reads as a network fault.
func TestIdleCloseLogged(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		send [][]byte // written, each waiting for its ACK when it is a frame
	}{
		"connects and sends nothing": {},
		"idle after a message":       {[][]byte{frame(strings.Replace(a28, "%s", "1", 1))}},
		"only blank bytes":           {[][]byte{[]byte("\r\n")}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			cfg := listenerConfig()
			cfg.IdleTimeout = config.Duration(100 * time.Millisecond)
			s, err := New(cfg, &fakeProc{answer: status(message.StatusOK)}, fakeMaps{}, slog.New(slog.NewTextHandler(&logs, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.ServeConn(t.Context(), server)
			}()
			defer client.Close()
			_ = client.SetDeadline(time.Now().Add(5 * time.Second))
			rd := hl7.NewReader(client)
			for _, b := range tc.send {
				if _, err := client.Write(b); err != nil {
					t.Fatal(err)
				}
				if b[0] == hl7.StartBlock {
					if _, err := rd.ReadMessage(); err != nil {
						t.Fatalf("no ACK: %v", err)
					}
				}
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the idle connection was not closed within 5s of a 100ms idleTimeout")
			}
			lines := linesWith(logs.String(), "level=INFO", "idleTimeout=100ms", "mllp.listeners[].idleTimeout", "from=pipe")
			if len(lines) != 1 {
				t.Errorf("log %q: want one INFO saying the connection idled past idleTimeout", logs.String())
			}
		})
	}
}
