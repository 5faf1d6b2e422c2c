// Command acme is a vendor's plugin for the daemon's tests: it declares
// the schema of its one operation, acme.visit, and, for a site whose
// setting "scale" is set, an overlay of that schema from Configure. It
// answers every message with the payload it received; at a site whose
// setting "hold" names a file, only once that file exists (it first
// creates the file with ".entered" appended, so a test knows the call is
// inside the plugin), and, when the file holds "retry", or "retry " and
// this binary's version, with a retryable failure instead. Its answer
// names the version of the binary that gave it (as the external msgId); the version is
// set at build time (-ldflags "-X main.version=…"), so a test builds two
// binaries of one plugin. Its name (and so its operation type name.visit
// and schema name/visit) is "acme" unless set at build time
// (-ldflags "-X main.name=…"), so a test runs two plugins from it. At a
// site whose setting "alert" is set, Configure logs it as an ALERT (ERROR,
// "ALERT: " and the setting) through the SDK's logger, as an adapter
// raises a condition only it sees.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

const schema = `code: visit
name: 就诊登记
system: %s
direction: upload
source: the vendor's interface document, section 3
input:
  - name: patientId
    label: 患者号
    type: string
    maxLength: 20
    required: true
    example: P001
  - name: amount
    label: 金额
    type: decimal(10,%s)
    example: "7"
`

// version is the plugin's version (Describe) and servedBy of its answers.
var version = "1.0.0"

// name is the plugin's name (Describe), its operations' and schemas' prefix.
var name = "acme"

type acme struct {
	mu   sync.Mutex
	hold map[string]string // site → the file a message waits for
}

func (*acme) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name: name, Version: version, Description: "a vendor's plugin for tests",
		Operations: []sdk.Operation{{Type: name + ".visit", Schema: name + "/visit", Summary: "register a visit"}},
		Settings: []sdk.Setting{
			{Name: "scale", Type: sdk.SettingString, Description: "the site's decimal places of amount (a schema overlay)"},
			{Name: "hold", Type: sdk.SettingString, Description: "a file each message waits for before its answer (tests)"},
			{Name: "alert", Type: sdk.SettingString, Description: "an ALERT Configure logs (tests)"},
		},
		Schemas: map[string][]byte{name + "/visit.yaml": fmt.Appendf(nil, schema, name, "2")},
	}, nil
}

func (a *acme) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	a.mu.Lock()
	a.hold[req.Site] = req.Settings["hold"]
	a.mu.Unlock()
	if al := req.Settings["alert"]; al != "" {
		sdk.Logger(name).Error("ALERT: "+al, "site", req.Site)
	}
	if s := req.Settings["scale"]; s != "" {
		return &sdk.ConfigureResponse{Schemas: map[string][]byte{name + "/visit.yaml": fmt.Appendf(nil, schema, name, s)}}, nil
	}
	return &sdk.ConfigureResponse{}, nil
}

func (a *acme) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	a.mu.Lock()
	hold := a.hold[req.Site]
	a.mu.Unlock()
	if hold != "" {
		if err := os.WriteFile(hold+".entered", nil, 0o600); err != nil {
			return nil, err
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			b, err := os.ReadFile(hold)
			if err == nil {
				if string(b) == "retry" || string(b) == "retry "+version {
					return sdk.Retry(sdk.Diagnostic{Severity: sdk.SeverityError, Rule: "transient", Summary: "the external system did not answer"}), nil
				}
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
	}
	r, err := sdk.OK(json.RawMessage(req.Payload))
	if err != nil {
		return nil, err
	}
	r.External = &sdk.External{System: "acme", MsgID: version}
	return r, nil
}

func (*acme) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() { sdk.Serve(&acme{hold: map[string]string{}}) }
