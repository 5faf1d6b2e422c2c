// Command hang is a plugin for pluginhost's tests: its Configure does not
// answer for a site whose setting "hang" is "yes", or whose setting
// "hangIfExists" names a file that exists (it then writes that file's name
// with ".hanging" appended), until the host gives up.
package main

import (
	"context"
	"os"

	"github.com/medgate/medgate/plugins/sdk"
)

type hang struct{}

func (hang) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "hang", Version: "1.0.0", Settings: []sdk.Setting{{Name: "hang", Type: sdk.SettingBool}, {Name: "hangIfExists"}}}, nil
}

func (hang) Configure(ctx context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	hang := req.Settings["hang"] == "yes"
	if f := req.Settings["hangIfExists"]; f != "" {
		if _, err := os.Stat(f); err == nil {
			if err := os.WriteFile(f+".hanging", nil, 0o600); err != nil {
				return nil, err
			}
			hang = true
		}
	}
	if hang {
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
