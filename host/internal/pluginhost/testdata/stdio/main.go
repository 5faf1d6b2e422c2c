// Command stdio is a plugin for pluginhost's tests: before it serves it
// prints a line to standard output, as a plugin written with fmt.Println
// for logging does; while it serves, each message makes it print a line
// to os.Stdout and one to os.Stderr (not through sdk.Logger), each with
// the message id and the payload's ID number.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/medgate/medgate/plugins/sdk"
)

type stdio struct{}

func (stdio) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "stdio", Version: "1.0.0",
		Operations: []sdk.Operation{{Type: "stdio.print"}}}, nil
}

func (stdio) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return &sdk.ConfigureResponse{}, nil
}

func (stdio) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	fmt.Printf("stdout line of %s for 11010519491231002X\n", req.MessageID)
	fmt.Fprintf(os.Stderr, "stderr line of %s for 11010519491231002X\n", req.MessageID)
	return sdk.OK(map[string]any{})
}

func (stdio) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() {
	fmt.Println("stdio plugin starting")
	sdk.Serve(stdio{})
}
