package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// decode reads a JSON object payload into v strictly: unknown fields, wrong
// types and trailing data are reported with their JSON path. An empty
// payload decodes as {}.
func decode(payload []byte, v any) sdk.Diagnostics {
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("extra data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var ds sdk.Diagnostics
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "" && typeErr.Type != nil:
		ds.Error("$."+typeErr.Field, "type", fmt.Sprintf("%s must be a %s", "$."+typeErr.Field, jsonKind(typeErr.Type.Kind().String())),
			fmt.Sprintf("got a JSON %s; see the operation's sample payload", typeErr.Value))
	case errors.As(err, &typeErr):
		ds.Error("$", "type", "the payload must be a JSON object", fmt.Sprintf("got a JSON %s", typeErr.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		ds.Error("$."+name, "unknown", fmt.Sprintf("unknown field %q", name), "remove it or check its spelling; see the operation's sample payload")
	case errors.As(err, &syntaxErr):
		ds.Error("$", "type", "the payload is not valid JSON", fmt.Sprintf("%v at byte %d", syntaxErr, syntaxErr.Offset))
	default:
		ds.Error("$", "type", "the payload is not a JSON object", err.Error())
	}
	return ds
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int64", "int32", "float64":
		return "number"
	case "slice":
		return "array"
	}
	return "object"
}

// ok returns a status ok response with v as its JSON payload.
func ok(v any, warnings ...sdk.Diagnostic) (*sdk.HandleResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode reply: %w", err)
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: b, Diagnostics: warnings}, nil
}

// invalid returns a status invalid response with one diagnostic and an
// optional JSON payload (nil for none).
func invalid(field, rule, summary, detail string, payload any) (*sdk.HandleResponse, error) {
	r := sdk.Invalid(sdk.Diagnostic{Field: field, Rule: rule, Summary: summary, Detail: detail})
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encode reply: %w", err)
		}
		r.Payload = b
	}
	return r, nil
}

// splitMessage splits "what is wrong; how to fix it" into a summary and a
// detail.
func splitMessage(msg string) (string, string) {
	if s, d, ok := strings.Cut(msg, "; "); ok {
		return s, d
	}
	return msg, ""
}

// fieldLabels name the fields of the desk, register and print forms as the
// cashier reads them.
var fieldLabels = map[string]string{
	"$.name": "姓名", "$.idType": "证件类型", "$.idNumber": "证件号码", "$.issuingCountry": "护照签发国",
	"$.phone": "手机号", "$.gender": "性别", "$.birthDate": "出生日期", "$.birthOrder": "胎次",
	"$.guardian": "监护人", "$.guardian.name": "监护人姓名", "$.guardian.idType": "监护人证件类型",
	"$.guardian.idNumber": "监护人证件号码", "$.guardian.phone": "监护人手机号", "$.guardian.relation": "与监护人关系",
	"$.cardNo": "卡号", "$.tempCardNo": "临时卡号", "$.validity": "二维码有效期",
}

// rulePhrases say, in Chinese, what a refusal's rule means.
var rulePhrases = map[string]string{
	"required": "必填", "format": "格式不对", "length": "位数不对", "max_length": "太长", "characters": "含不允许的字符",
	"placeholder": "不是真实信息", "check_digit": "校验位不对，请与证件核对", "region": "地区码不对", "birth_date": "出生日期不对",
	"mismatch": "与证件号码不一致", "exclusive": "此情况下不填", "range": "超出范围", "code": "不在可选代码中", "id_type": "不支持",
	"superseded": "已有更晚的更正，本次未更改",
	// Of a card number the card's state refuses: the print, look-up and
	// correction pages, where the cashier types it.
	"unknown-card": "查无此电子卡，请核对号码", "unlinked": "是未关联电子卡的临时卡号",
	"temporary-card": "是临时卡号，请填电子卡号", "revoked": "对应的电子卡已注销",
}

// zhSummary leads the English summary of a refusal at field with the
// field's Chinese name and what is wrong with it, "证件号码校验位不对：…",
// for the cashier; the English stays for the integration team.
func zhSummary(field, rule, summary string) string {
	label := fieldLabels[field]
	if label == "" {
		return summary
	}
	phrase := rulePhrases[rule]
	if phrase == "" {
		phrase = "有误"
	}
	return label + phrase + "：" + summary
}

// checkNumber reports a problem with a card or temporary-card number given
// at field, or returns nil.
func checkNumber(field, what, s string) sdk.Diagnostics {
	var ds sdk.Diagnostics
	switch {
	case s == "":
		ds.Error(field, "required", zhSummary(field, "required", what+" is required"), "give the number as printed on the card")
	case !validNumber(s):
		ds.Error(field, "format", zhSummary(field, "format", what+" is malformed"), fmt.Sprintf("a number has 1-%d letters, digits, '-' or '_'; copy it from the card", maxNumber))
	}
	return ds
}
