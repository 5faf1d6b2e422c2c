package sdk

import (
	"encoding/json"
	"fmt"
)

// Problem returns an error diagnostic: what is wrong (summary) and why and
// how to fix it (detail), at a JSON path field with a rule.
func Problem(field, rule, summary, detail string) Diagnostic {
	return Diagnostic{Severity: SeverityError, Field: field, Rule: rule, Summary: summary, Detail: detail}
}

// OK returns a response with status ok and v, encoded as JSON, as its
// payload; nil v gives no payload.
func OK(v any) (*HandleResponse, error) {
	if v == nil {
		return &HandleResponse{Status: StatusOK}, nil
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sdk: encode the reply payload: %w", err)
	}
	return &HandleResponse{Status: StatusOK, Payload: payload}, nil
}

// Rejected returns a response for a business error of the external
// system: its code and message in ext, and what the operator should know.
func Rejected(ext External, ds ...Diagnostic) *HandleResponse {
	return &HandleResponse{Status: StatusRejected, External: &ext, Diagnostics: ds}
}

// Failed returns a failed response that a retry will not fix, such as a
// configuration the external system refuses.
func Failed(ds ...Diagnostic) *HandleResponse {
	return &HandleResponse{Status: StatusFailed, Diagnostics: ds}
}

// Retry returns a failed response the host retries with backoff within the
// message's deadline: a timeout, a refused connection, a 503.
func Retry(ds ...Diagnostic) *HandleResponse {
	return &HandleResponse{Status: StatusFailed, Retryable: true, Diagnostics: ds}
}

// Wait returns a failed response the host retries with backoff within the
// message's deadline, as [Retry] does, for a message that waits on purpose:
// a precondition of the plugin's own is not met yet (it must wait for
// other messages to finish) and the external system was not found in
// trouble. Unlike [Retry] it does not count towards the circuit breaker,
// so a message waiting alone does not pause the other messages of the
// plugin at the site (see [HandleResponse].Waiting).
func Wait(ds ...Diagnostic) *HandleResponse {
	return &HandleResponse{Status: StatusFailed, Retryable: true, Waiting: true, Diagnostics: ds}
}
