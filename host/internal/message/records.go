package message

import (
	"encoding/json"
	"time"
)

// Reply is the outcome published to the replies topic (or replyTo).
type Reply struct {
	ID        string       `json:"id"`
	RequestID string       `json:"requestId"`
	Site      string       `json:"site"`
	Type      string       `json:"type"`
	Status    string       `json:"status"`
	Errors    []ReplyError `json:"errors,omitempty"`
	// Warnings are what the plugin noticed without refusing the message
	// (e.g. a registration under another name than the one on record),
	// in the shape of Errors; the status does not depend on them.
	Warnings    []ReplyError    `json:"warnings,omitempty"`
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

// DeadLetter is a record on the DLQ topic.
type DeadLetter struct {
	Reason   string          `json:"reason"`
	Reply    *Reply          `json:"reply"`
	Request  json.RawMessage `json:"request,omitempty"`
	RawText  string          `json:"requestText,omitempty"`
	Key      string          `json:"key,omitempty"`
	At       time.Time       `json:"at"`
	TraceID  string          `json:"traceId"`
	Replayed bool            `json:"replayed,omitempty"`
	// Truncated is set when the record was too large for Kafka: Request
	// is left out, RawText holds its start and Reply has no payload.
	Truncated bool `json:"truncated,omitempty"`
	// KeyCut is set when the request's key was unusable (longer than
	// MaxKeyBytes, not UTF-8, or with a NUL byte): Key, and the record's
	// Kafka key, hold its start, at most MaxKeyBytes of valid UTF-8, with
	// U+FFFD for each invalid byte sequence and NUL.
	KeyCut bool `json:"keyCut,omitempty"`
}

// Event is the value of a record on the events topic.
type Event struct {
	ID          string          `json:"id"`
	Site        string          `json:"site"`
	Type        string          `json:"type"`
	Key         string          `json:"key,omitempty"`
	OccurredAt  time.Time       `json:"occurredAt,omitzero"`
	PublishedAt time.Time       `json:"publishedAt"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}
