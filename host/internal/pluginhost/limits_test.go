package pluginhost

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/host/internal/hostsvc"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// writer is a plugin whose Handle makes one host-service write, named by
// the message type, and reports the error the SDK gave it.
type writer struct{ got map[string]error }

func (w *writer) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "p", Version: "1"}, nil
}

func (w *writer) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return &sdk.ConfigureResponse{}, nil
}

func (w *writer) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func (w *writer) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var err error
	switch req.Type {
	case "p.put":
		_, err = req.Host.Put(ctx, "k", make([]byte, 2048))
	case "p.state":
		_, err = sdk.WriteState(ctx, req.Host, []sdk.StateWrite{{Key: "a/" + req.MessageID, Value: []byte("1"), Put: true}, {Key: "b/" + req.MessageID, Value: []byte("2"), Put: true}})
	case "p.publish":
		err = req.Host.Publish(ctx, sdk.Event{Type: "p.done"})
	case "p.journal":
		// Returned with the response (the SDK holds it): the host
		// journals it after the call, within the same limit.
		_, err = req.Host.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "sys", Code: "C1", Status: "ok"})
	}
	w.got[req.Type] = err
	if err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// TestLimitsReachThePlugin: over the real gRPC protocol, through the
// guard, a plugin's write past its limits fails in the plugin with the
// host's reason: a state value too large as sdk.ErrTooLarge, a refused
// event, journal entry or state write as ResourceExhausted naming the
// limit (a state value refused for its size takes no token), so the
// plugin's call fails and the host tries the message again.
func TestLimitsReachThePlugin(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := hostsvc.New(st, "medgate.events")
	svc.SetPublisher(discard{})
	svc.SetLimits(map[string]hostsvc.Limits{"p": {PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 1024,
		StateWritesPerSecond: 1, StateWritesBurst: 1}})
	w := &writer{got: map[string]error{}}
	c := sdktest.Connect(t, w, guard{HostServer: svc.For("p"), plugin: "p", serves: func(string) bool { return true }})
	handle := func(typ, id string) error {
		_, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: typ, MessageID: id, Attempt: 1})
		return err
	}
	if err := handle("p.put", "m1"); err == nil {
		t.Error("a put of 2048 bytes past stateValueBytes 1024 succeeded")
	}
	if !errors.Is(w.got["p.put"], sdk.ErrTooLarge) || !strings.Contains(w.got["p.put"].Error(), "stateValueBytes") {
		t.Errorf("the plugin's put got %v, want sdk.ErrTooLarge naming stateValueBytes", w.got["p.put"])
	}
	for _, typ := range []string{"p.publish", "p.journal", "p.state"} {
		if err := handle(typ, "m2"); err != nil {
			t.Fatalf("%s within the burst: %v", typ, err)
		}
		err := handle(typ, "m3")
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "PerSecond") {
			t.Errorf("%s past the burst: the host's call failed with %v, want ResourceExhausted naming the limit", typ, err)
		}
	}
	if got := w.got["p.publish"]; status.Code(errors.Unwrap(got)) != codes.ResourceExhausted || !strings.Contains(got.Error(), "publishPerSecond") {
		t.Errorf("the plugin's publish got %v, want ResourceExhausted naming publishPerSecond", got)
	}
	if got := w.got["p.state"]; status.Code(errors.Unwrap(got)) != codes.ResourceExhausted || !strings.Contains(got.Error(), "stateWritesPerSecond") {
		t.Errorf("the plugin's state write got %v, want ResourceExhausted naming stateWritesPerSecond", got)
	}
}

// discard is a Kafka producer that takes every record.
type discard struct{}

func (discard) Send(context.Context, string, []byte, []byte, map[string]string) error { return nil }
