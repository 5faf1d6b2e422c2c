// Command hang is a plugin for pluginhost's tests: its Configure does not
// answer for a site whose setting "hang" is "yes", until the host gives up.
package main

import (
	"context"

	"github.com/medgate/medgate/plugins/sdk"
)

type hang struct{}

func (hang) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "hang", Version: "1.0.0", Settings: []sdk.Setting{{Name: "hang", Type: sdk.SettingBool}}}, nil
}

func (hang) Configure(ctx context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	if req.Settings["hang"] == "yes" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &sdk.ConfigureResponse{}, nil
}

func (hang) Handle(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return sdk.OK(map[string]any{})
}

func (hang) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() { sdk.Serve(hang{}) }
