package bus

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
)

// TestStartEmbeddedPortInUse: the embedded broker's address in use was
// reported as "listen tcp 127.0.0.1:9092: bind: address already in use"
// alone, where the HTTP listener's says to choose another http.listen;
// `make run` beside another medgate (or a Kafka) on this machine stopped
// with no word of the setting. It now names the setting to change, and
// the cause is kept for errors.Is.
func TestStartEmbeddedPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := StartEmbedded(t.TempDir(), l.Addr().String(), nil, 1)
	if err == nil {
		e.Close()
		t.Fatalf("StartEmbedded on %s, in use, succeeded", l.Addr())
	}
	for _, want := range []string{l.Addr().String(), "kafka.embedded.listen", "stop it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("StartEmbedded on %s, in use: %v\nwant it to say %q", l.Addr(), err, want)
		}
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("StartEmbedded: %v does not wrap EADDRINUSE", err)
	}
}
