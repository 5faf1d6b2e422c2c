package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
	"github.com/medgate/medgate/plugins/tracecode/platform"
	"github.com/medgate/medgate/schemas"
)

// decodeObject decodes the payload as a JSON object with numbers kept
// exact.
func decodeObject(payload []byte) (map[string]any, *sdk.Diagnostic) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, &sdk.Diagnostic{Field: "$", Rule: "type", Summary: "the payload is not JSON", Detail: err.Error() + "; send a JSON object"}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &sdk.Diagnostic{Field: "$", Rule: "type", Summary: "the payload is not a JSON object", Detail: `send {"field": value, …}`}
	}
	return m, nil
}

// validated decodes the payload, checks it against the input of schema
// tracecode/<op> and decodes it into out. It returns the problems, all of
// them, or nil.
func (h *handler) validated(op string, out any) sdk.Diagnostics {
	m, d := decodeObject(h.req.Payload)
	if d != nil {
		return sdk.Diagnostics{*d}
	}
	sc, ok := h.cfg.schemas.Get("tracecode", op)
	if !ok {
		return sdk.Diagnostics{{Field: "$", Rule: "precondition", Summary: "schema tracecode/" + op + " is missing", Detail: "restore it in the site's schemaDir"}}
	}
	if ds := fieldErrors(sc.ValidateInput(m)); len(ds) > 0 {
		return ds
	}
	if err := json.Unmarshal(h.req.Payload, out); err != nil {
		return sdk.Diagnostics{{Field: "$", Rule: "type", Summary: "the payload does not fit " + op, Detail: err.Error()}}
	}
	return nil
}

// plain decodes a payload that has no schema, rejecting unknown fields.
func plain(payload []byte, out any) sdk.Diagnostics {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		field := "$"
		if s := err.Error(); strings.Contains(s, "unknown field") {
			f := strings.Trim(s[strings.Index(s, "unknown field")+len("unknown field "):], `"`)
			field = "$." + f
			return sdk.Diagnostics{{Field: field, Rule: "unknown", Summary: "unknown field " + f, Detail: "remove it; see the operation's payload in plugins/tracecode/README.md"}}
		}
		return sdk.Diagnostics{{Field: field, Rule: "type", Summary: "the payload does not fit the operation", Detail: err.Error()}}
	}
	return nil
}

// fieldErrors converts schema errors to diagnostics.
func fieldErrors(errs []schemas.FieldError) sdk.Diagnostics {
	var ds sdk.Diagnostics
	for _, e := range errs {
		ds = append(ds, sdk.Diagnostic{Field: e.Path, Rule: e.Rule, Summary: e.Message})
	}
	return ds
}

// ok returns a successful response with v as payload.
func ok(v any, ds ...sdk.Diagnostic) (*sdk.HandleResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the reply: %w", err)
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: b, Diagnostics: ds}, nil
}

// invalid returns an invalid response.
func invalid(ds sdk.Diagnostics) (*sdk.HandleResponse, error) {
	return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
}

// stateError returns an invalid response for a state precondition.
func stateError(field, summary, detail string) (*sdk.HandleResponse, error) {
	return invalid(sdk.Diagnostics{{Field: field, Rule: "state", Summary: summary, Detail: detail}})
}

// platformFailure turns an error of a platform call into a response, its
// summary in Chinese first for the console's staff, the English after it:
// business answers are rejected (with the platform's code, and its message
// with the personal data in it masked: shown), transport
// failures are retried, configuration problems fail with the fix. Errors
// that are none of these (the host's) are returned for the host to retry.
func platformFailure(op string, err error) (*sdk.HandleResponse, error) {
	var be *platform.BusinessError
	switch {
	case errors.Is(err, platform.ErrAuth):
		// Before business errors: a token request refused with a business
		// code is about the credentials, not about what op would send.
		ext := &sdk.External{System: System, Code: "AUTH", Message: "credentials refused"}
		if errors.As(err, &be) {
			ext.Code, ext.Message = be.Code, shown(be.Message)
		}
		return &sdk.HandleResponse{Status: sdk.StatusRejected, External: ext,
			Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "追溯码平台拒绝了医院的凭据，" + op + " 未处理。the trace-code platform refused the hospital's credentials; " + op + " was not processed", Detail: err.Error()}}}, nil
	case errors.As(err, &be):
		return &sdk.HandleResponse{Status: sdk.StatusRejected,
			External:    &sdk.External{System: System, Code: be.Code, Message: shown(be.Message)},
			Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "追溯码平台拒绝了 " + op + "。the trace-code platform refused " + op, Detail: fmt.Sprintf("code %s: %s", be.Code, shown(be.Message))}}}, nil
	case errors.Is(err, platform.ErrNotSent) && errors.Is(err, platform.ErrUnavailable):
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: "追溯码平台未发放访问令牌，" + op + " 未发送，稍后自动重试。the trace-code platform issued no access token; " + op + " was not sent", Detail: err.Error()}}}, nil
	case errors.Is(err, platform.ErrUnknownOutcome):
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: "追溯码平台未应答，结果未知。no answer from the trace-code platform; the outcome is unknown", Detail: err.Error() + "; medgate reconciles by document number before sending again"}}}, nil
	case errors.Is(err, platform.ErrUnavailable):
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: "追溯码平台暂不可用，稍后自动重试。the trace-code platform is unavailable", Detail: err.Error()}}}, nil
	case errors.Is(err, platform.ErrProtocol):
		return &sdk.HandleResponse{Status: sdk.StatusFailed,
			Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "追溯码平台的应答无法识别。the trace-code platform's answer was not understood", Detail: err.Error()}}}, nil
	}
	return nil, err
}

// notFound returns the rejected response for an unknown document or code.
func notFound(what string, res platform.Result) (*sdk.HandleResponse, error) {
	return &sdk.HandleResponse{Status: sdk.StatusRejected,
		External:    &sdk.External{System: System, Code: res.Code, Message: shown(res.Message)},
		Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "the trace-code platform does not know " + what, Detail: "check the number; relation queries only work for codes that have been stocked in (" + shown(res.Message) + ")"}}}, nil
}

// shown is a platform's text (a refusal's message, an answer's, a status)
// as a reply, the state a reply or the export shows, or an event may carry
// it: with the ID and mobile numbers, the names after 患者/姓名/病人 and the
// card numbers and birth dates it quotes masked (pii.Text, as the logs
// have it), and document numbers, trace codes and drug codes readable.
// Not hsa.MaskText: that reads the 11 digits of a document number glued
// to its letters (RK13912345678) as a mobile phone number. The journal keeps the answer as received.
func shown(s string) string { return pii.Text(s) }
