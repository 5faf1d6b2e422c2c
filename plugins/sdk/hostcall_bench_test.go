package sdk_test

import (
	"bytes"
	"context"
	"fmt"
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
// "sequence" one NextSequence, "journal" one Journal of a 1.4 KB exchange,
// "scan-stay" one Scan of 19 values of 24.5 KB (the detail maps of the
// 20th GYU102 of a stay) and "scan-known-stay" the same ScanKnown when
// the plugin holds 18 of them (the last is new). "confirm" is the
// exchanges of a GYU102 confirmed with GYD053: its 214 KB entry, a 2 ms
// wait for the GYD053 answer, the GYD053's small entry (held for the
// response); "confirm-ahead" sends the first ahead (sdk.SendJournal)
// before the wait, as the work-injury adapter does.
//
//	go test ./plugins/sdk -run '^$' -bench HostCall -benchmem
func BenchmarkHostCall(b *testing.B) {
	body := make([]byte, 700)
	entry := bytes.Repeat([]byte("x"), 107<<10) // request and response: a GYU102's 214 KB
	stay := sdktest.NewMemoryHost()
	known := map[string]int64{}
	for i := range 19 {
		k := fmt.Sprintf("visit/V1/details/m%02d", i)
		if _, err := stay.Put(b.Context(), "s1", k, bytes.Repeat([]byte("x"), 24500)); err != nil {
			b.Fatal(err)
		}
		if i < 18 {
			known[k] = 1
		}
	}
	for _, bc := range []struct {
		name  string
		calls func(ctx context.Context, req *sdk.HandleRequest) error
		host  *sdktest.MemoryHost
	}{
		{"handle", func(context.Context, *sdk.HandleRequest) error { return nil }, nil},
		{"sequence", func(ctx context.Context, req *sdk.HandleRequest) error {
			_, err := req.Host.NextSequence(ctx, "serial")
			return err
		}, nil},
		{"journal", func(ctx context.Context, req *sdk.HandleRequest) error {
			_, err := req.Host.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "x", Code: "C1", Serial: "S1",
				Request: body, Response: body, Status: "ok", Duration: time.Millisecond})
			return err
		}, nil},
		{"scan-stay", func(ctx context.Context, req *sdk.HandleRequest) error {
			_, err := req.Host.Scan(ctx, "visit/V1/details", 0)
			return err
		}, stay},
		{"scan-known-stay", func(ctx context.Context, req *sdk.HandleRequest) error {
			_, err := sdk.ScanKnown(ctx, req.Host, "visit/V1/details", 0, known)
			return err
		}, stay},
		{"confirm", func(ctx context.Context, req *sdk.HandleRequest) error {
			return confirm(ctx, req, entry, false)
		}, nil},
		{"confirm-ahead", func(ctx context.Context, req *sdk.HandleRequest) error {
			return confirm(ctx, req, entry, true)
		}, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			host := bc.host
			if host == nil {
				host = sdktest.NewMemoryHost()
			}
			c := sdktest.Connect(b, &caller{calls: bc.calls}, host)
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

// confirm journals a GYU102-sized exchange, waits 2 ms as for the GYD053
// answer (after sending the entry ahead if ahead), and journals a small
// one.
func confirm(ctx context.Context, req *sdk.HandleRequest, entry []byte, ahead bool) error {
	if _, err := req.Host.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "x", Code: "GYU102", Serial: "S1",
		Request: entry[:len(entry)/2], Response: entry[len(entry)/2:], Status: "ok", Duration: time.Millisecond}); err != nil {
		return err
	}
	if ahead {
		sdk.SendJournal(ctx, req.Host)
	}
	time.Sleep(2 * time.Millisecond)
	_, err := req.Host.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "x", Code: "GYD053", Serial: "S2",
		Request: entry[:700], Response: entry[:700], Status: "ok", Duration: time.Millisecond})
	return err
}
