package hsa

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/schemas"
)

// China Standard Time: inf_time and the msgid's time are local to the
// platform (UTC+8, no daylight saving).
var cst = time.FixedZone("CST", 8*3600)

// TimeLayout is the layout of inf_time and of the platform's datetimes.
const TimeLayout = "2006-01-02 15:04:05"

// Request is the request envelope (common input, §1 of the spec notes).
// Field order is the order of the specification's table.
type Request struct {
	Infno          string `json:"infno"`
	MsgID          string `json:"msgid"`
	MdtrtareaAdmvs string `json:"mdtrtarea_admvs"`
	InsuplcAdmdvs  string `json:"insuplc_admdvs"`
	RecerSysCode   string `json:"recer_sys_code"`
	DevNo          string `json:"dev_no"`
	DevSafeInfo    string `json:"dev_safe_info"`
	Cainfo         string `json:"cainfo"`
	Signtype       string `json:"signtype"`
	Infver         string `json:"infver"`
	OpterType      string `json:"opter_type"`
	Opter          string `json:"opter"`
	OpterName      string `json:"opter_name"`
	InfTime        string `json:"inf_time"`
	FixmedinsCode  string `json:"fixmedins_code"`
	FixmedinsName  string `json:"fixmedins_name"`
	SignNo         string `json:"sign_no"`
	// AppID and EncType are Fujian's additions (S4); nil leaves them out.
	AppID   *string `json:"app_id,omitempty"`
	EncType *string `json:"enc_type,omitempty"`
	// Input is the transaction's input: a JSON object, or a JSON string
	// holding the SM4 ciphertext when EncType is SM4.
	Input json.RawMessage `json:"input"`
}

// Response is the response envelope. Infcode 0 is success.
type Response struct {
	Infcode     int
	InfRefmsgid string
	RefmsgTime  string
	RespondTime string
	ErrMsg      string
	WarnMsg     string
	Signtype    string
	Cainfo      string
	AppID       string
	EncType     string
	// Output is the raw output (decrypted by Client.Do when it was
	// encrypted); nil when the answer had none or null.
	Output json.RawMessage
	// Fields holds every envelope field except output, decoded, for
	// schema validation.
	Fields map[string]any
}

// ErrNotEnvelope says a body is not a response envelope.
var ErrNotEnvelope = errors.New("not a medical-insurance response envelope")

// maxEnvelopeDepth bounds nesting before decoding, so hostile answers
// cannot exhaust the stack.
const maxEnvelopeDepth = 64

// ParseResponse decodes a response body. It accepts infcode as a number or
// a string and text fields as strings, numbers or null; it fails (wrapping
// ErrNotEnvelope) when the body is not a JSON object or has no usable
// infcode. It never panics.
func ParseResponse(body []byte) (*Response, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 BOM
	if depth(body) > maxEnvelopeDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d levels", ErrNotEnvelope, maxEnvelopeDepth)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s (body starts %q)", ErrNotEnvelope, jsonProblem(err), snippet(body))
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: the body is null", ErrNotEnvelope)
	}
	r := &Response{Fields: map[string]any{}}
	for k, v := range raw {
		if k == "output" {
			if t := bytes.TrimSpace(v); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
				r.Output = v
			}
			continue
		}
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		var val any
		if err := d.Decode(&val); err == nil {
			r.Fields[k] = val
		}
	}
	code, ok := raw["infcode"]
	if !ok {
		return nil, fmt.Errorf("%w: no infcode", ErrNotEnvelope)
	}
	n, err := parseInfcode(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotEnvelope, err)
	}
	r.Infcode = n
	r.InfRefmsgid = text(r.Fields["inf_refmsgid"])
	r.RefmsgTime = text(r.Fields["refmsg_time"])
	r.RespondTime = text(r.Fields["respond_time"])
	r.ErrMsg = text(r.Fields["err_msg"])
	r.WarnMsg = text(r.Fields["warn_msg"])
	r.Signtype = text(r.Fields["signtype"])
	r.Cainfo = text(r.Fields["cainfo"])
	r.AppID = text(r.Fields["app_id"])
	r.EncType = text(r.Fields["enc_type"])
	return r, nil
}

func parseInfcode(v json.RawMessage) (int, error) {
	s := strings.TrimSpace(string(v))
	if uq, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
		s = strings.TrimSpace(uq)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -9999 || n > 9999 {
		return 0, fmt.Errorf("infcode %s is not a whole number of at most 4 digits", snippet([]byte(s)))
	}
	return n, nil
}

// text renders a decoded scalar as text; objects and arrays as JSON.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// depth returns the deepest nesting of objects and arrays in a JSON text,
// ignoring brackets inside strings.
func depth(b []byte) int {
	d, maxD, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			d++
			maxD = max(maxD, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return maxD
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "the body is JSON but not an object"
	}
	return err.Error()
}

func snippet(b []byte) string {
	const n = 80
	s := strings.ToValidUTF8(string(b), "?")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Page is one page of a query output.
type Page struct {
	// Total is the record count the platform reports (-1 if absent).
	Total int
	// Pages is the page count the platform reports (-1 if absent).
	Pages int
	// Records are the records of this page.
	Records []json.RawMessage
}

// ErrNoOutput says a query's answer (infcode 0) carried no output, or a
// null one: it lists nothing, not "no records" (those are an empty list).
var ErrNoOutput = errors.New("the query's answer carries no output")

// ParsePage reads a query output: an object with the paging fields, or a
// bare array of records, each a JSON object. An answer without output (or with a null one)
// is an error wrapping ErrNoOutput, never an empty page: a caller
// reconciling a call with the records would take what it misses for
// absent.
func ParsePage(output json.RawMessage, p Paging) (Page, error) {
	pg := Page{Total: -1, Pages: -1}
	t := bytes.TrimSpace(output)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return pg, fmt.Errorf("%w (a query answers {%q, %q, %q}, its records in %q, an empty list when there are none); the answer is incomplete: ask the platform's operator, or check the pagingFields setting",
			ErrNoOutput, p.Count, p.Pages, p.Data, p.Data)
	}
	if t[0] == '[' {
		if err := json.Unmarshal(t, &pg.Records); err != nil {
			return pg, fmt.Errorf("query output is an array but not of records: %s", jsonProblem(err))
		}
		return pg, objects(pg)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(t, &obj); err != nil {
		return pg, fmt.Errorf("query output is neither an object nor an array: %s", jsonProblem(err))
	}
	if v, ok := obj[p.Data]; ok && len(bytes.TrimSpace(v)) > 0 && !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		if err := json.Unmarshal(v, &pg.Records); err != nil {
			return pg, fmt.Errorf("query output field %q is not a list of records: %s; check the pagingFields setting", p.Data, jsonProblem(err))
		}
	} else if !ok {
		return pg, fmt.Errorf("query output has no %q field (it has %s); check the pagingFields setting", p.Data, keys(obj))
	}
	pg.Total = intField(obj[p.Count])
	pg.Pages = intField(obj[p.Pages])
	return pg, objects(pg)
}

// objects checks that every record of a page is a JSON object: a record
// given as text (JSON encoded twice) or a number would be read as one
// carrying none of its fields, and a line on the platform taken for one
// missing.
func objects(pg Page) error {
	for i, rec := range pg.Records {
		if t := bytes.TrimSpace(rec); len(t) == 0 || t[0] != '{' {
			return fmt.Errorf("record %d of the query output is not a JSON object (it starts %q); the answer cannot be read", i+1, snippet(t))
		}
	}
	return nil
}

func intField(v json.RawMessage) int {
	if len(v) == 0 {
		return -1
	}
	n, err := parseInfcode(v)
	if err == nil {
		return n
	}
	s := strings.Trim(strings.TrimSpace(string(v)), `"`)
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return -1
}

func keys(m map[string]json.RawMessage) string {
	var ks []string
	for k := range m {
		ks = append(ks, strconv.Quote(k))
	}
	if len(ks) == 0 {
		return "no fields"
	}
	return strings.Join(ks, ", ")
}

//go:embed schema/envelope/*.yaml
var envelopeFS embed.FS

var envelopeSet = sync.OnceValues(func() (*schemas.Set, error) {
	sub, err := fs.Sub(envelopeFS, "schema")
	if err != nil {
		return nil, err
	}
	return schemas.Load(sub)
})

// EnvelopeSchemas returns the built-in envelope schemas (system
// "envelope", codes "request" and "response").
func EnvelopeSchemas() (*schemas.Set, error) { return envelopeSet() }

// Schemas returns the built-in schemas of the schemas package with the
// envelope schemas added, overlaid by dir when dir is not empty (a site's
// schema directory: <system>/<code>.yaml, envelope/request.yaml …).
func Schemas(dir string) (*schemas.Set, error) {
	sub, err := fs.Sub(envelopeFS, "schema")
	if err != nil {
		return nil, err
	}
	if err := schemas.CheckEmbedded(); err != nil {
		return nil, fmt.Errorf("built-in schemas: %w", err)
	}
	set, err := schemas.Embedded().OverlayFS(sub)
	if err != nil {
		return nil, fmt.Errorf("envelope schemas: %w", err)
	}
	if dir == "" {
		return set, nil
	}
	return set.Overlay(dir)
}
