package card

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by [Sealer.Open]. Test for them with [errors.Is].
var (
	// ErrNotECard means the text is not a hospital e-card code: the prefix is
	// missing, the version is unsupported or the shape is wrong. The error is a
	// *[NotECardError], which also says what the text looks like instead.
	ErrNotECard = errors.New("not a hospital e-card code")
	// ErrExpired means the code was authentic but its validity has ended. The
	// error is an *[ExpiredError] carrying the expiry time. Ask the patient to
	// refresh or reprint the code.
	ErrExpired = errors.New("e-card code expired")
	// ErrNotYetValid means the code's issue time is further in the future than
	// the allowed clock skew. Check the clocks of the issuing and scanning
	// servers.
	ErrNotYetValid = errors.New("e-card code not yet valid")
	// ErrTampered means the code failed authentication: it was altered,
	// mistyped or forged, or sealed with a different secret under the same key
	// ID. Log it as possible fraud.
	ErrTampered = errors.New("e-card code failed authentication")
	// ErrUnknownKey means the code names a key ID that is not configured,
	// usually because the key was retired. Ask the patient to refresh the code,
	// or configure the key again.
	ErrUnknownKey = errors.New("e-card code sealed with an unknown key")
	// ErrOtherSite means the code is authentic but was sealed for another
	// site (format version 2 names the site): a site that shares keys with
	// another must not accept its codes, whose card numbers name other
	// patients there. Ask the patient for a code printed at this site.
	ErrOtherSite = errors.New("e-card code issued for another site")
	// ErrLegacyCode means the code is authentic but of format version 1,
	// which names no site, and the Sealer was built to refuse such codes
	// ([WithLegacyCodes](false)): at a site that shares its key with
	// another, a version-1 code may be the other site's, and its card
	// number another patient's here. Print a new code for the patient.
	ErrLegacyCode = errors.New("e-card code of format version 1 refused")
	// ErrRevoked is for callers whose store reports the card (or this code's
	// nonce) as revoked after a successful Open. This package never returns it.
	ErrRevoked = errors.New("e-card revoked")
)

// Errors returned for card numbers by [NumberRule.Check], [NumberRule.Format]
// and [Sealer.Seal].
var (
	// ErrWrongPrefix means the number does not start with the rule's prefix,
	// for example because it is a temporary-card number.
	ErrWrongPrefix = errors.New("card number has the wrong prefix")
	// ErrWrongLength means the number has the wrong number of characters.
	ErrWrongLength = errors.New("card number has the wrong length")
	// ErrBadCharacter means the number contains a character that is not
	// allowed in that position.
	ErrBadCharacter = errors.New("card number has an invalid character")
	// ErrBadCheckDigit means the check character does not match the rest of
	// the number, usually because of a typo.
	ErrBadCheckDigit = errors.New("card number check character does not match")
	// ErrSequenceExhausted means the sequence no longer fits the rule's width.
	ErrSequenceExhausted = errors.New("card number sequence exhausted")
	// ErrInvalidRule means a [NumberRule] is misconfigured.
	ErrInvalidRule = errors.New("invalid card number rule")
	// ErrInvalidConfig means [NewSealer] was given unusable keys or options.
	ErrInvalidConfig = errors.New("invalid e-card sealer config")
)

// ExpiredError is returned by [Sealer.Open] for an authentic code whose
// validity has ended. It matches [ErrExpired] with [errors.Is].
type ExpiredError struct {
	// ExpiresAt is the first instant at which the code is no longer valid.
	ExpiresAt time.Time
	// Now is the time the scan was checked against.
	Now time.Time
}

// Error implements error.
func (e *ExpiredError) Error() string {
	return fmt.Sprintf("e-card code expired at %s (%s ago); ask the patient to refresh or reprint the code",
		e.ExpiresAt.UTC().Format(time.RFC3339), e.Now.Sub(e.ExpiresAt).Round(time.Second))
}

// Is reports whether target is [ErrExpired].
func (e *ExpiredError) Is(target error) bool { return target == ErrExpired }

// NotECardError is returned by [Sealer.Open] when the text is not a hospital
// e-card code. It matches [ErrNotECard] with [errors.Is].
type NotECardError struct {
	// Kind is what the text looks like instead, for example
	// KindNationalHealthCard. It is KindECard when the text has the e-card
	// prefix but a bad shape or an unsupported version.
	Kind Kind
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *NotECardError) Error() string {
	switch e.Kind {
	case KindNationalHealthCard:
		return "not a hospital e-card code: it is a national health card (电子健康卡) code; verify it with the health-card platform"
	case KindResidentID:
		return "not a hospital e-card code: it is a resident ID number (居民身份证号); look the patient up by ID number instead"
	case KindTraceCode:
		return "not a hospital e-card code: it is a drug trace code (追溯码); scan it at the dispensing step"
	}
	return "not a hospital e-card code: " + e.Reason
}

// Is reports whether target is [ErrNotECard].
func (e *NotECardError) Is(target error) bool { return target == ErrNotECard }
