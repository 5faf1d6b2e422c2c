package sdk_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// publisher publishes the event its message's payload describes and
// answers the error Publish returned, if any.
type publisher struct{ declared }

func (p *publisher) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "acme", Operations: []sdk.Operation{{Type: "acme.send"}}}, nil
}

func (p *publisher) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var e sdk.Event
	if err := json.Unmarshal(req.Payload, &e); err != nil {
		return nil, err
	}
	if err := req.Host.Publish(ctx, e); err != nil {
		return sdk.Failed(sdk.Problem("", "publish", err.Error(), "")), nil
	}
	return sdk.OK(nil)
}

// TestMemoryHostRefusesEventsAsTheHost: medgate refuses an event whose
// type is not the plugin's own ("<name>.…") or that sets a header named
// "medgate-…"; the MemoryHost a vendor tests with refuses them the same,
// so a test does not pass with an event medgate would never publish.
func TestMemoryHostRefusesEventsAsTheHost(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		event sdk.Event
		want  string // part of the refusal; "": published
	}{
		"the plugin's own type":    {sdk.Event{Type: "acme.sent", Key: "k"}, ""},
		"another plugin's type":    {sdk.Event{Type: "other.sent", Key: "k"}, `event type "other.sent" must start with "acme."`},
		"the plugin's name alone":  {sdk.Event{Type: "acme.", Key: "k"}, `event type "acme." must start with "acme."`},
		"a header the host sets":   {sdk.Event{Type: "acme.sent", Key: "k", Headers: map[string]string{"Medgate-Site": "x"}}, `header "Medgate-Site": names starting with "medgate-" are set by the host; rename it`},
		"a header of the plugin's": {sdk.Event{Type: "acme.sent", Key: "k", Headers: map[string]string{"acme-batch": "7"}}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := sdktest.NewMemoryHost()
			c := sdktest.Connect(t, &publisher{}, h)
			payload, _ := json.Marshal(tc.event)
			r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "acme.send", MessageID: "m1", Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if r.Status != sdk.StatusOK || len(h.Events()) != 1 {
					t.Fatalf("status %s %v, %d events; want the event published", r.Status, r.Diagnostics, len(h.Events()))
				}
				return
			}
			if r.Status != sdk.StatusFailed || !strings.Contains(r.Diagnostics.String(), tc.want) {
				t.Errorf("status %s %q; want the event refused saying %q", r.Status, r.Diagnostics, tc.want)
			}
			if n := len(h.Events()); n != 0 {
				t.Errorf("%d events kept; a refused event is not published", n)
			}
		})
	}
}
