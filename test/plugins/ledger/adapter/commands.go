package adapter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// commands declares the test plugin's commands: a remote one that sends
// ledger.record and a local one that reads the ledger on this machine.
func commands() []sdk.Command {
	return []sdk.Command{
		{
			Name: "record", Summary: "record an effect through the running medgate", Operation: "ledger.record",
			Arguments: []sdk.Argument{{Name: "seq", Type: sdk.SettingInt, Required: true, Positional: true, Description: "sequence number of the effect"}},
			Result:    sdk.Display{Fields: []sdk.Column{{Field: "seq", Title: "recorded"}, {Field: "key", Title: "key"}}},
		},
		{
			Name: "effects", Summary: "list the effects in the site's ledger, read on this machine", Local: true,
			Arguments: []sdk.Argument{{Name: "key", Type: sdk.SettingString, Description: "only effects of this business key"}},
			Result: sdk.Display{Headline: "headline", Rows: "effects",
				Columns: []sdk.Column{{Field: "message", Title: "MESSAGE"}, {Field: "key", Title: "KEY", Personal: true}}},
		},
	}
}

// RunCommand implements sdk.CommandRunner.
func (a *Adapter) RunCommand(_ context.Context, req *sdk.RunCommandRequest) (*sdk.RunCommandResponse, error) {
	if req.Command != "effects" {
		return nil, fmt.Errorf("ledger runs no local command %q", req.Command)
	}
	var r sdk.RunCommandResponse
	f, err := os.Open(filepath.Join(req.Settings["ledgerDir"], "effects.log"))
	if err != nil {
		r.Diagnostics.Error("ledgerDir", "precondition", "cannot read the ledger", err.Error())
		return &r, nil
	}
	defer f.Close()
	type effect struct {
		Message string `json:"message"`
		Key     string `json:"key"`
	}
	var effects []effect
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t") // message, key, seq
		if len(f) < 2 {
			continue
		}
		if want := req.Arguments["key"]; want == "" || f[1] == want {
			effects = append(effects, effect{f[0], f[1]})
		}
	}
	r.Payload, err = json.Marshal(map[string]any{"headline": fmt.Sprintf("%d effects at site %s", len(effects), req.Site), "effects": effects})
	return &r, err
}

var _ sdk.CommandRunner = (*Adapter)(nil)
