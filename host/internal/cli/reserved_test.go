package cli

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestCommandArgumentsNeverCollideWithFlags: the command line gives every
// remote plugin command flags of its own (-site, -config, -timeout,
// -brokers, -json, and -out and -reveal where the result has a file or
// personal values). A declaration whose argument takes one of those names
// cannot be parsed (the flag package panics on a name defined twice), so
// sdk.Command.Check, which the host runs at launch, refuses it; every
// declaration it accepts builds its flags.
func TestCommandArgumentsNeverCollideWithFlags(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"site", "config", "timeout", "brokers", "json", "out", "reveal", "addr", "patient"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := sdk.Command{
				Name: "order", Summary: "order", Operation: "acme.order",
				Arguments: []sdk.Argument{{Name: name}},
				Result: sdk.Display{File: &sdk.FileResult{ArtifactField: "file"},
					Fields: []sdk.Column{{Field: "patientName", Title: "patient", Personal: true}}},
			}
			if errs := c.Check("acme"); len(errs) > 0 {
				return // refused at launch: the command line never sees it
			}
			var out bytes.Buffer
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				return runDeclared(t.Context(), nil, nil, "acme", c, []string{"-h"}, &out, &out)
			}()
			if err != nil && err.Error() != "flag: help requested" {
				t.Fatalf("argument %q passes sdk.Command.Check but the command line cannot take it: %v", name, err)
			}
		})
	}
}
