package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// bigCaller calls one host service with a value larger than the host
// takes in one call.
type bigCaller struct {
	probe
	call func(ctx context.Context, h sdk.Host, big []byte) error
	err  error
}

func (b *bigCaller) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	b.err = b.call(ctx, req.Host, make([]byte, 5<<20))
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// TestTooLargeForTheHost: a host service call too large for the host
// fails with ErrTooLarge and says what to do instead, not with a bare
// gRPC size error.
func TestTooLargeForTheHost(t *testing.T) {
	t.Parallel()
	cases := map[string]func(ctx context.Context, h sdk.Host, big []byte) error{
		"put": func(ctx context.Context, h sdk.Host, big []byte) error {
			_, err := h.Put(ctx, "k", big)
			return err
		},
		"compare-and-set": func(ctx context.Context, h sdk.Host, big []byte) error {
			_, err := h.CompareAndSet(ctx, "k", 0, big)
			return err
		},
		"write state": func(ctx context.Context, h sdk.Host, big []byte) error {
			_, err := sdk.WriteState(ctx, h, []sdk.StateWrite{{Key: "k", Value: big, Put: true}})
			return err
		},
		"publish": func(ctx context.Context, h sdk.Host, big []byte) error {
			return h.Publish(ctx, sdk.Event{Type: "probe.big", Key: "k", Payload: big})
		},
	}
	for name, call := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := &bigCaller{call: call}
			c := sdktest.Connect(t, p, sdktest.NewMemoryHost())
			if _, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s", Type: "probe.do", MessageID: "m"}); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(p.err, sdk.ErrTooLarge) || !strings.Contains(p.err.Error(), "PutArtifact") {
				t.Fatalf("err = %v; want sdk.ErrTooLarge saying to keep large data in an artifact", p.err)
			}
		})
	}
}
