package platform

import (
	"errors"
	"fmt"

	"github.com/medgate/medgate/plugins/sdk/pii"
)

// Errors of platform calls. Use errors.Is; a *BusinessError carries the
// platform's own code and message.
var (
	// ErrUnavailable: the platform could not be reached or answered with
	// a server error. Retry later.
	ErrUnavailable = errors.New("trace-code platform unavailable")
	// ErrUnknownOutcome: the request may have reached the platform but no
	// answer was read (timeout, connection lost, server error). Reconcile
	// by the document number before sending an upload again. It always
	// comes together with ErrUnavailable.
	ErrUnknownOutcome = errors.New("outcome of the call is unknown")
	// ErrAuth: the platform refused the token even after a refresh, or
	// refused the credentials when issuing one.
	ErrAuth = errors.New("trace-code platform refused the credentials")
	// ErrProtocol: the answer was not in the configured form.
	ErrProtocol = errors.New("trace-code platform answer not understood")
	// ErrNotSent: the business request was never sent, because no token
	// could be obtained (the token request failed, unanswered or refused,
	// or after a refusal of the token no new one could be). It comes with
	// the token request's own error, which may be ErrUnknownOutcome: that
	// is the token's outcome, not the request's. Check it first.
	ErrNotSent = errors.New("request not sent")
)

// BusinessError is an answer whose code is neither success, an
// authentication error, a duplicate nor "not found". Message is the
// platform's text as it came: mask the personal data in it (pii.Text)
// before a reply, a log line or the export shows it; Error masks it, as the
// error ends up in logs.
type BusinessError struct {
	Op      Op
	Code    string
	Message string
}

func (e *BusinessError) Error() string {
	return fmt.Sprintf("trace-code platform %s: code %s: %s", e.Op, e.Code, pii.Text(e.Message))
}

// unknownOutcome is an error that is both ErrUnavailable and
// ErrUnknownOutcome.
type unknownOutcome struct{ err error }

func (e unknownOutcome) Error() string {
	return fmt.Sprintf("%v (%v: the request may have been processed; reconcile before sending it again)", e.err, ErrUnknownOutcome)
}

func (e unknownOutcome) Is(target error) bool {
	return target == ErrUnknownOutcome || target == ErrUnavailable
}

func (e unknownOutcome) Unwrap() error { return e.err }
