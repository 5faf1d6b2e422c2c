// Command acme is a vendor's plugin for the daemon's tests: it declares
// the schema of its one operation, acme.visit, and, for a site whose
// setting "scale" is set, an overlay of that schema from Configure. It
// answers every message with the payload it received.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/medgate/medgate/plugins/sdk"
)

const schema = `code: visit
name: 就诊登记
system: acme
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

type acme struct{}

func (acme) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name: "acme", Version: "1.0.0", Description: "a vendor's plugin for tests",
		Operations: []sdk.Operation{{Type: "acme.visit", Schema: "acme/visit", Summary: "register a visit"}},
		Settings:   []sdk.Setting{{Name: "scale", Type: sdk.SettingString, Description: "the site's decimal places of amount (a schema overlay)"}},
		Schemas:    map[string][]byte{"acme/visit.yaml": fmt.Appendf(nil, schema, "2")},
	}, nil
}

func (acme) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	if s := req.Settings["scale"]; s != "" {
		return &sdk.ConfigureResponse{Schemas: map[string][]byte{"acme/visit.yaml": fmt.Appendf(nil, schema, s)}}, nil
	}
	return &sdk.ConfigureResponse{}, nil
}

func (acme) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return sdk.OK(json.RawMessage(req.Payload))
}

func (acme) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() { sdk.Serve(acme{}) }
