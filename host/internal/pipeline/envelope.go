package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
)

// Envelope is a request message as it travels on the requests topic and
// through POST /v1/messages.
type Envelope struct {
	ID         string          `json:"id"`
	Site       string          `json:"site"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurredAt,omitempty"`
	ReplyTo    string          `json:"replyTo,omitempty"`
	Format     string          `json:"format,omitempty"`
	Payload    json.RawMessage `json:"payload"`
}

// Reply is the outcome published to the replies topic (or replyTo).
type Reply struct {
	ID          string          `json:"id"`
	RequestID   string          `json:"requestId"`
	Site        string          `json:"site"`
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	Errors      []ReplyError    `json:"errors,omitempty"`
	External    *External       `json:"external,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	Attempts    int             `json:"attempts"`
	CompletedAt time.Time       `json:"completedAt"`
}

// ReplyError is one problem in a reply.
type ReplyError struct {
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// External is what the external system answered.
type External struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	MsgID   string `json:"msgId,omitempty"`
}

// Outcomes.
const (
	StatusOK       = "ok"
	StatusInvalid  = "invalid"
	StatusRejected = "rejected"
	StatusFailed   = "failed"
)

var (
	typeRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}\.[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	idRE   = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
)

// parseEnvelope decodes and checks the envelope. It returns every problem
// at once; env may be partly filled (for the id) when there are problems.
func parseEnvelope(data []byte) (*Envelope, []ReplyError) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		// Try again leniently to recover the id for the reply.
		var loose Envelope
		_ = json.Unmarshal(data, &loose)
		msg := err.Error()
		if !utf8.Valid(data) {
			msg = "the message is not UTF-8 text"
		}
		return &loose, []ReplyError{{Field: "$", Rule: "syntax", Message: "the message is not a valid request envelope: " + msg + "; send a JSON object {id, site, type, occurredAt, format, payload}"}}
	}
	if dec.More() {
		return &env, []ReplyError{{Field: "$", Rule: "syntax", Message: "extra data after the JSON object; send exactly one envelope per message"}}
	}
	var errs []ReplyError
	add := func(field, rule, msg string) { errs = append(errs, ReplyError{Field: field, Rule: rule, Message: msg}) }
	switch {
	case env.ID == "":
		add("$.id", "required", "id is required: a unique message id, used to deduplicate redeliveries")
	case !idRE.MatchString(env.ID):
		add("$.id", "format", "id must be 1 to 128 printable ASCII characters without spaces")
	}
	if env.Site == "" {
		add("$.site", "required", "site is required: the site code from the medgate configuration")
	}
	switch {
	case env.Type == "":
		add("$.type", "required", `type is required: "<plugin>.<operation>", one of the operations `+"`medgate plugins`"+` lists`)
	case !typeRE.MatchString(env.Type):
		add("$.type", "format", fmt.Sprintf(`type %q must be "<plugin>.<operation>", one of the operations `+"`medgate plugins`"+` lists`, env.Type))
	}
	if env.OccurredAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, env.OccurredAt); err != nil {
			add("$.occurredAt", "format", fmt.Sprintf("occurredAt %q is not an RFC 3339 time such as 2026-11-26T08:30:00+08:00", env.OccurredAt))
		}
	}
	if env.ReplyTo != "" && !regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`).MatchString(env.ReplyTo) {
		add("$.replyTo", "format", "replyTo is not a valid topic name")
	}
	switch env.Format {
	case "", "json":
		env.Format = "json"
		if len(bytes.TrimSpace(env.Payload)) == 0 || string(bytes.TrimSpace(env.Payload)) == "null" {
			add("$.payload", "required", "payload is required")
		}
	case "hl7v2":
		var s string
		if err := json.Unmarshal(env.Payload, &s); err != nil || strings.TrimSpace(s) == "" {
			add("$.payload", "type", `with format "hl7v2" the payload is the HL7 v2 message as one JSON string ("MSH|^~\\&|…")`)
		}
	default:
		add("$.format", "enum", fmt.Sprintf("format %q is not supported; use json or hl7v2", env.Format))
	}
	return &env, errs
}

// payloadBytes returns what the plugin receives: JSON bytes, or the HL7 text.
func (e *Envelope) payloadBytes() []byte {
	if e.Format == "hl7v2" {
		var s string
		_ = json.Unmarshal(e.Payload, &s)
		return []byte(s)
	}
	return e.Payload
}

func (e *Envelope) occurredAt() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.OccurredAt)
	return t
}

func plugin(typ string) string {
	if i := strings.IndexByte(typ, '.'); i > 0 {
		return typ[:i]
	}
	return typ
}

func diagsToErrors(ds sdk.Diagnostics) []ReplyError {
	var out []ReplyError
	for _, d := range ds {
		if d.Severity != sdk.SeverityError {
			continue
		}
		rule := d.Rule
		if rule == "" {
			rule = "error"
		}
		out = append(out, ReplyError{Field: d.Field, Rule: rule, Message: d.Message()})
	}
	return out
}

// Admit reports whether a request is worth queueing for processing: it is
// within maxPayloadBytes, its key is usable and its envelope has a usable
// id. It returns that id. A request not admitted can be processed at once
// (Process answers it invalid without storing or calling anything).
func Admit(value []byte, key string, maxPayloadBytes int) (id string, ok bool) {
	if len(value) > maxPayloadBytes || checkKey(key) != nil {
		return "", false
	}
	env, _ := parseEnvelope(value)
	if env.ID == "" || !idRE.MatchString(env.ID) {
		return "", false
	}
	return env.ID, true
}
