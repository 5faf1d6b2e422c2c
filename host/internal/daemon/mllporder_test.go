package daemon

import (
	"context"
	"log/slog"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/mllp"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestCloseStopsMLLPBeforeTheConsumer: by the time Close tells the Kafka
// consumer to stop, neither the MLLP listener nor the HTTP server takes a
// new connection. The MLLP listener used to close only after the consumer
// was told to stop, so a sender could still hand over a message that this
// instance would not process (it got no ACK, as an ACK waits for the
// stored outcome, and had to resend it elsewhere).
func TestCloseStopsMLLPBeforeTheConsumer(t *testing.T) {
	t.Parallel()
	d, _ := runningDaemon(t, handlerFunc(func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
	}))
	s, err := mllp.New(config.MLLPListener{Address: "127.0.0.1:0", Site: "s1"}, d, &d.maps, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	d.mllp = append(d.mllp, s)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		_ = s.Serve(context.Background())
	}()
	mllpAddr, httpAddr := s.Addr().String(), d.HTTPAddr()
	if closed(mllpAddr) {
		t.Fatal("the MLLP listener takes no connection before Close")
	}
	var mllpOpen, httpOpen bool
	stopConsumer := d.stopRun
	d.stopRun = func() {
		mllpOpen, httpOpen = !closed(mllpAddr), !closed(httpAddr)
		stopConsumer()
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if mllpOpen || httpOpen {
		t.Errorf("when the consumer was told to stop, MLLP took connections: %v, HTTP: %v; want neither", mllpOpen, httpOpen)
	}
}
