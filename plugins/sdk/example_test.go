package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/medgate/medgate/plugins/sdk"
)

// hello is the smallest useful plugin: one operation, one setting.
type hello struct{ greeting map[string]string }

func (h *hello) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name: "hello", Version: "0.1.0",
		Operations: []sdk.Operation{{Type: "hello.greet", Summary: "greet a patient"}},
		Settings:   []sdk.Setting{{Name: "greeting", Type: sdk.SettingString, Default: "您好"}},
	}, nil
}

func (h *hello) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	h.greeting[req.Site] = req.Settings["greeting"]
	return &sdk.ConfigureResponse{}, nil
}

func (h *hello) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var in struct{ Name string }
	if err := json.Unmarshal(req.Payload, &in); err != nil || in.Name == "" {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.name", Rule: "required", Summary: "name is required", Detail: `send {"name": "…"}`}), nil
	}
	out, _ := json.Marshal(map[string]string{"text": h.greeting[req.Site] + "，" + in.Name})
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: out}, nil
}

func (h *hello) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

// A plugin's main function is only sdk.Serve(impl). Here the plugin is
// called directly to show the request and response types.
func Example() {
	p := &hello{greeting: map[string]string{}}
	ctx := context.Background()
	_, _ = p.Configure(ctx, &sdk.ConfigureRequest{Site: "main", Settings: map[string]string{"greeting": "您好"}})
	r, _ := p.Handle(ctx, &sdk.HandleRequest{Site: "main", Type: "hello.greet", Payload: []byte(`{"name":"张三"}`)})
	fmt.Println(r.Status, string(r.Payload))
	r, _ = p.Handle(ctx, &sdk.HandleRequest{Site: "main", Type: "hello.greet", Payload: []byte(`{}`)})
	fmt.Println(r.Status, r.Diagnostics.String())
	// Output:
	// ok {"text":"您好，张三"}
	// invalid $.name: name is required: send {"name": "…"}
}

// A Mux lists the operations for Describe and dispatches Handle from the
// same registrations; the response builders say the outcome.
func ExampleMux() {
	var m sdk.Mux
	m.Register(sdk.Operation{Type: "acme.ping", Summary: "check the connection"}, func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return sdk.OK(map[string]string{"pong": "ok"})
	})
	for _, op := range m.Operations() {
		fmt.Println(op.Type, "-", op.Summary)
	}
	r, _ := m.Handle(context.Background(), &sdk.HandleRequest{Type: "acme.ping"})
	fmt.Println(r.Status, string(r.Payload))
	r, _ = m.Handle(context.Background(), &sdk.HandleRequest{Type: "acme.pong"})
	fmt.Println(r.Status, r.Diagnostics.String())
	// Output:
	// acme.ping - check the connection
	// ok {"pong":"ok"}
	// invalid $.type: this plugin does not handle "acme.pong": use one of: acme.ping
}
