package sdkhost_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/internal/pb"
	"github.com/medgate/medgate/plugins/sdk/internal/wire"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// echo is a plugin whose Handle answers with its payload, records the
// gRPC method each call came by, and for type "wait" waits for its
// context, reporting how it ended on ended.
type echo struct {
	mu      sync.Mutex
	methods map[string]int
	ended   chan error
	started chan struct{}
	big     []byte // the payload of type "big"
}

func newEcho() *echo {
	return &echo{methods: map[string]int{}, ended: make(chan error, 16), started: make(chan struct{}, 16)}
}

func (*echo) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "echo", Operations: []sdk.Operation{{Type: "echo"}, {Type: "wait"}, {Type: "big"}, {Type: "waiting"}}}, nil
}

func (*echo) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return &sdk.ConfigureResponse{}, nil
}

func (e *echo) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	m, _ := grpc.Method(ctx)
	e.mu.Lock()
	e.methods[m]++
	e.mu.Unlock()
	switch req.Type {
	case "wait":
		_, hasDeadline := ctx.Deadline()
		e.started <- struct{}{}
		<-ctx.Done()
		e.ended <- fmt.Errorf("deadline %v: %w", hasDeadline, ctx.Err())
		return nil, ctx.Err()
	case "big":
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: e.big}, nil
	case "waiting":
		return sdk.Wait(waitProblem), nil
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: req.Payload}, nil
}

func (*echo) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func (e *echo) calls(method string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.methods[method]
}

const (
	unaryMethod  = "/medgate.plugin.v1.Adapter/Handle"
	streamMethod = "/medgate.plugin.v1.Adapter/HandleStream"
)

// TestHandleCallsShareOneStream: concurrent Handle calls of a plugin built
// with this SDK go over HandleStream, each answered with its own result.
func TestHandleCallsShareOneStream(t *testing.T) {
	e := newEcho()
	c := sdktest.Connect(t, e, sdktest.NewMemoryHost())
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			want := fmt.Sprintf(`{"n":%d}`, i)
			r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "echo", MessageID: fmt.Sprint("m", i), Payload: []byte(want)})
			switch {
			case err != nil:
				errs <- fmt.Errorf("call %d: %w", i, err)
			case string(r.Payload) != want:
				errs <- fmt.Errorf("call %d: payload %s, want %s (another call's result)", i, r.Payload, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, u := e.calls(streamMethod), e.calls(unaryMethod); n != 100 || u != 0 {
		t.Errorf("calls by HandleStream %d and by Handle %d; want all 100 on the stream", n, u)
	}
}

// TestHandleStreamCallEnds: a call on the stream ends in the plugin as a
// unary call does: at the host's deadline (which the plugin's context
// has) and when the host's caller gives up; the host gets the status
// gRPC gives, and the stream goes on serving.
func TestHandleStreamCallEnds(t *testing.T) {
	e := newEcho()
	c := sdktest.Connect(t, e, sdktest.NewMemoryHost())
	req := &sdk.HandleRequest{Site: "s1", Type: "wait", MessageID: "m"}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Handle(ctx, req)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("past the deadline: err = %v, want DeadlineExceeded", err)
	}
	<-e.started
	// The plugin's own deadline or the host's word that the call ended,
	// whichever comes first, as with a unary call.
	if got := waitEnded(t, e); got == nil || !strings.HasPrefix(got.Error(), "deadline true: ") {
		t.Errorf("the plugin's context: %v; want one with the call's deadline, ended", got)
	}

	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Handle(ctx, req)
		done <- err
	}()
	<-e.started
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Errorf("given up: err = %v, want Canceled", err)
	}
	if got := waitEnded(t, e); got == nil || got.Error() != "deadline false: context canceled" {
		t.Errorf("the plugin's context: %v; want canceled by the host", got)
	}

	if r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "echo", Payload: []byte(`{}`)}); err != nil || string(r.Payload) != `{}` {
		t.Errorf("the next call: %v %v", r, err)
	}
}

// waitProblem is the diagnostic of echo's answer to type "waiting".
var waitProblem = sdk.Problem("$.month", "state", "uploads of the month have no outcome yet", "retried by itself")

// TestWaitingCrossesTheWire: a retryable failure the plugin marks as a
// deliberate wait (sdk.Wait) reaches the host marked so, on the stream and
// in a unary call (a request too large for the stream), so that the host
// can leave it out of the circuit breaker.
func TestWaitingCrossesTheWire(t *testing.T) {
	base := &pb.HandleRequest{Site: "s1", Type: "waiting", MessageId: "m", JournalInResponse: true}
	// A payload that makes the request as large as gRPC takes in a unary
	// call, and so too large for the stream (the call adds its id).
	n := wire.MaxStreamMessage - proto.Size(base) - 10
	for proto.Size(&pb.HandleRequest{Site: base.Site, Type: base.Type, MessageId: base.MessageId, JournalInResponse: true, Payload: make([]byte, n+1)}) <= wire.MaxStreamMessage-2 {
		n++
	}
	cases := map[string]struct {
		payload       []byte
		stream, unary int
	}{
		"stream": {payload: []byte(`{}`), stream: 1},
		"unary":  {payload: bytes.Repeat([]byte("x"), n), unary: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEcho()
			c := sdktest.Connect(t, e, sdktest.NewMemoryHost())
			r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: base.Site, Type: base.Type, MessageID: base.MessageId, Payload: tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			want := &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Waiting: true, Diagnostics: sdk.Diagnostics{waitProblem}}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("HandleResponse across the wire (-want +got):\n%s", diff)
			}
			if s, u := e.calls(streamMethod), e.calls(unaryMethod); s != tc.stream || u != tc.unary {
				t.Errorf("calls by HandleStream %d and by Handle %d; want %d and %d", s, u, tc.stream, tc.unary)
			}
		})
	}
}

func waitEnded(t *testing.T, e *echo) error {
	t.Helper()
	select {
	case err := <-e.ended:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the plugin's Handle did not end within 10s of its call's end")
		return nil
	}
}

// TestTooLargeForTheStream: a request or response over gRPC's message
// limit fails its own call, as a unary call does, and not the calls
// beside it on the stream.
func TestTooLargeForTheStream(t *testing.T) {
	e := newEcho()
	e.big = bytes.Repeat([]byte("x"), 5<<20)
	c := sdktest.Connect(t, e, sdktest.NewMemoryHost())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waiting := make(chan error, 1)
	go func() {
		_, err := c.Handle(ctx, &sdk.HandleRequest{Site: "s1", Type: "wait", MessageID: "beside"})
		waiting <- err
	}()
	<-e.started

	_, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "echo", Payload: bytes.Repeat([]byte("y"), 5<<20)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 5 MiB request: err = %v, want ResourceExhausted", err)
	}
	_, err = c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "big"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 5 MiB response: err = %v, want ResourceExhausted", err)
	}
	select {
	case err := <-waiting:
		t.Fatalf("the call beside them ended: %v", err)
	default:
	}
	cancel()
	if err := <-waiting; status.Code(err) != codes.Canceled {
		t.Errorf("the call beside them: err = %v, want Canceled by its caller", err)
	}
	if r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "echo", Payload: []byte(`{}`)}); err != nil || string(r.Payload) != `{}` {
		t.Errorf("the next call: %v %v", r, err)
	}
}

// oldPlugin is a plugin built before HandleStream: its Init says nothing
// of a stream and it serves unary Handle only.
type oldPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	host plugin.GRPCPlugin // the host side (sdkhost.InMemory)
}

type oldServer struct {
	pb.UnimplementedAdapterServer
}

func (oldServer) Init(context.Context, *pb.InitRequest) (*pb.InitResponse, error) {
	return &pb.InitResponse{}, nil
}

func (oldServer) Handle(_ context.Context, req *pb.HandleRequest) (*pb.HandleResponse, error) {
	return &pb.HandleResponse{Status: "ok", Payload: req.Payload}, nil
}

func (o *oldPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterAdapterServer(s, oldServer{})
	return nil
}

func (o *oldPlugin) GRPCClient(ctx context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return o.host.GRPCClient(ctx, b, c)
}

// TestOldPluginHandlesUnary: a plugin built before HandleStream still gets
// its calls, one unary call each.
func TestOldPluginHandlesUnary(t *testing.T) {
	host := sdkhost.InMemory(newEcho(), sdktest.NewMemoryHost(), sdkhost.ProtocolLatest).(plugin.GRPCPlugin)
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdkhost.PluginName: &oldPlugin{host: host}})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdkhost.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*sdkhost.Client)
	r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "echo", Payload: []byte(`{"old":true}`)})
	if err != nil || string(r.Payload) != `{"old":true}` {
		t.Fatalf("handle: %v %v", r, err)
	}
}
