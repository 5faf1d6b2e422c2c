// Command envprobe is a plugin for pluginhost's tests: its description is
// its whole environment, one KEY=value per line.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

type probe struct{}

func (probe) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "envprobe", Version: "1.0.0", Description: strings.Join(os.Environ(), "\n")}, nil
}

func (probe) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return &sdk.ConfigureResponse{}, nil
}

func (probe) Handle(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return sdk.OK(map[string]any{})
}

func (probe) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() { sdk.Serve(probe{}) }
