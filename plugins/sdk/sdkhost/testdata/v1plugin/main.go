// Command v1plugin is a plugin that speaks only protocol version 1, as a
// plugin built with an SDK from before version 2 does. Tests build it to
// show that the host still runs such plugins.
package main

import (
	"context"
	"os"

	"github.com/hashicorp/go-plugin"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/internal/wire"
)

type echo struct{}

func (echo) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "v1plugin", Version: "1.0.0", Operations: []sdk.Operation{{Type: "v1plugin.echo", Summary: "echo the payload"}}}, nil
}

func (echo) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return &sdk.ConfigureResponse{}, nil
}

func (echo) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: req.Payload}, nil
}

func (echo) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() {
	// go-plugin's Serve writes the handshake to os.Stdout, which the SDK
	// this test plugin is built with points at standard error until its
	// own Serve: a plugin built with an older SDK had it as it started.
	os.Stdout = os.NewFile(1, "/dev/stdout")
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.V1: {wire.PluginName: wire.PluginServer(echo{}, wire.V1)}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
