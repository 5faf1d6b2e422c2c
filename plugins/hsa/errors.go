package hsa

import (
	"fmt"
	"strings"

	"github.com/medgate/medgate/schemas"
)

// BusinessError is an answer with infcode other than 0: the platform
// refused the transaction. Resending the same input will fail again.
type BusinessError struct {
	Infno    string
	MsgID    string
	Infcode  int
	Message  string // err_msg as received
	Response *Response
}

func (e *BusinessError) Error() string {
	return fmt.Sprintf("%s (msgid %s) refused by the platform: infcode %d: %s", e.Infno, e.MsgID, e.Infcode, MaskText(e.Message))
}

// GatewayError is an HTTP answer that refused the call before the
// platform saw it: the gateway's authentication (HTTP 401/403) or another
// client error (4xx). Nothing was done; fix the settings, then resend.
type GatewayError struct {
	Infno  string
	MsgID  string
	Status int
	Body   string // the start of the answer
}

func (e *GatewayError) Error() string {
	fix := "check baseURL, routing and endpoints"
	if e.Auth() {
		fix = "check the paasid and token settings and that the server clock is right (x-tif-timestamp)"
	}
	return fmt.Sprintf("%s (msgid %s): the gateway answered HTTP %d %q; %s", e.Infno, e.MsgID, e.Status, e.Body, fix)
}

// Auth reports whether the gateway refused the credentials or signature.
func (e *GatewayError) Auth() bool { return e.Status == 401 || e.Status == 403 }

// TransportError is a call without a usable answer. When Sent is false the
// request never left (it failed to connect): resending is safe. When Sent
// is true it may have reached the platform: reconcile before resending.
type TransportError struct {
	Infno  string
	MsgID  string
	Sent   bool
	Status int // HTTP status when there was one
	Err    error
}

func (e *TransportError) Error() string {
	state := "not sent"
	if e.Sent {
		state = "sent, outcome unknown"
	}
	if e.Status != 0 {
		return fmt.Sprintf("%s (msgid %s) %s: HTTP %d: %v", e.Infno, e.MsgID, state, e.Status, e.Err)
	}
	return fmt.Sprintf("%s (msgid %s) %s: %v", e.Infno, e.MsgID, state, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// AnswerError is an answer with infcode 0 whose output cannot be used:
// a query's output missing, malformed, or listing fewer records than the
// answers count. It settles nothing (a query changes nothing on the
// platform): ask again; it is never to be read as "no records".
type AnswerError struct {
	Infno string
	MsgID string
	Err   error
}

func (e *AnswerError) Error() string {
	if e.MsgID == "" {
		return fmt.Sprintf("%s answered with infcode 0 but unusable: %v", e.Infno, e.Err)
	}
	return fmt.Sprintf("%s (msgid %s) answered with infcode 0 but unusable: %v", e.Infno, e.MsgID, e.Err)
}

func (e *AnswerError) Unwrap() error { return e.Err }

// ValidationError says medgate's own checks failed: nothing was sent.
type ValidationError struct {
	Infno string
	// Side is "input" or "envelope".
	Side   string
	Errors []schemas.FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s is not valid, nothing was sent:", e.Infno, e.Side)
	for i, fe := range e.Errors {
		if i == 5 {
			fmt.Fprintf(&b, " … (%d problems)", len(e.Errors))
			break
		}
		b.WriteString(" ")
		b.WriteString(fe.Error())
		b.WriteString(";")
	}
	return strings.TrimSuffix(b.String(), ";")
}
