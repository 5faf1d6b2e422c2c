package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// caller makes host calls back into the host during each Handle.
type caller struct {
	probe
	calls func(ctx context.Context, req *sdk.HandleRequest) error
}

func (c *caller) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	if err := c.calls(ctx, req); err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// BenchmarkHostCall is the cost of a plugin's call back into the host over
// the real protocol (gRPC on a local connection), on top of the Handle call
// that carries it, with an in-memory host: "handle" makes no host call,
// "sequence" one NextSequence, "journal" one Journal of a 1.4 KB exchange.
//
//	go test ./plugins/sdk -run '^$' -bench HostCall -benchmem
func BenchmarkHostCall(b *testing.B) {
	body := make([]byte, 700)
	for _, bc := range []struct {
		name  string
		calls func(ctx context.Context, req *sdk.HandleRequest) error
	}{
		{"handle", func(context.Context, *sdk.HandleRequest) error { return nil }},
		{"sequence", func(ctx context.Context, req *sdk.HandleRequest) error {
			_, err := req.Host.NextSequence(ctx, "serial")
			return err
		}},
		{"journal", func(ctx context.Context, req *sdk.HandleRequest) error {
			_, err := req.Host.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "x", Code: "C1", Serial: "S1",
				Request: body, Response: body, Status: "ok", Duration: time.Millisecond})
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := sdktest.Connect(b, &caller{calls: bc.calls}, sdktest.NewMemoryHost())
			req := &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1", Payload: []byte(`{"a":1}`)}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Handle(b.Context(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
