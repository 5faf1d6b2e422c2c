// Command chatty is a plugin for the logging package's tests: for each
// message it logs the payload's personal data and secrets in every shape a
// careless adapter could (attributes, nested objects, errors, message
// text, URLs), mostly with hclog in JSON, the form go-plugin forwards to
// the host, and once with sdk.Logger, then "chatty done" with the message
// id. It declares the operation chatty.register with a schema that marks
// fullName and patient_nm personal, keys no list of medgate's names: the
// host masks them because the plugin declares them (logging.Declare).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/medgate/medgate/plugins/sdk"
)

type chatty struct{ log hclog.Logger }

// registerSchema is chatty/register.yaml: fullName and patient_nm are
// personal, nickname is not.
const registerSchema = `code: register
name: 登记
system: chatty
direction: upload
source: the logging package's tests
input:
  - name: fullName
    label: 姓名
    type: string
    personal: true
  - name: patient_nm
    label: 患者
    type: string
    personal: true
  - name: nickname
    label: 昵称
    type: string
output:
  - name: holder_nm
    label: 持卡人
    type: string
    personal: true
`

func (chatty) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "chatty", Version: "1.0.0",
		Operations: []sdk.Operation{{Type: "chatty.register", Schema: "chatty/register", Summary: "log a patient's data"}},
		Schemas:    map[string][]byte{"chatty/register.yaml": []byte(registerSchema)},
	}, nil
}

func (chatty) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return &sdk.ConfigureResponse{}, nil
}

func (c chatty) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var p map[string]string
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return nil, fmt.Errorf("chatty: payload: %w", err)
	}
	c.log.Info("patient registered", "name", p["name"], "idNumber", p["idNumber"], "phone", p["phone"], "address", p["address"])
	c.log.Info("patient "+p["idNumber"]+" phone "+p["phone"], "note", "id in the message text")
	c.log.Warn("call failed", "err", errors.New("peer refused certNo="+p["idNumber"]+" mobile "+p["phone"]))
	c.log.Info("token fetched", "token", p["token"], "accessToken", p["token"], "sm4Key", p["sm4Key"], "password", p["password"])
	c.log.Info("GET https://trace.example/api/stock?access_token="+p["token"]+"&idNo=%20"+p["idNumber"], "status", 401)
	c.log.Info("request", "req", map[string]any{"psn_name": p["name"], "privateKey": p["privateKey"], "body": string(req.Payload)})
	c.log.Info("full-width", "note", p["fullWidth"], "dashed", p["dashed"])
	sdk.Logger("chatty").Info("logged through sdk.Logger", "idNumber", p["idNumber"], "phone", p["phone"])
	if p["fullName"] != "" {
		c.log.Info("declared fields of fullName="+p["fullName"], "fullName", p["fullName"], "patient_nm", p["patient_nm"], "nickname", p["nickname"],
			"record", map[string]any{"holder_nm": p["fullName"], "nickname": p["nickname"]})
	}
	c.log.Info("chatty done", "message", req.MessageID)
	return sdk.OK(map[string]any{})
}

func (chatty) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() {
	sdk.Serve(chatty{log: hclog.New(&hclog.LoggerOptions{Name: "chatty", Output: os.Stderr, Level: hclog.Info, JSONFormat: true})})
}
