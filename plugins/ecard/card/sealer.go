package card

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// Format constants of the sealed QR text; see the package documentation.
const (
	// DefaultPrefix is the e-card text prefix used unless WithPrefix says
	// otherwise.
	DefaultPrefix = "MGE"
	// FormatVersion is the version digit written after the prefix of every
	// code Seal produces. Version 2 seals the site into the code. Open also
	// reads version 1 (no site), the version printed before sites were
	// sealed in; see the package documentation.
	FormatVersion = 2
	// LegacyFormatVersion is the older version that Open still reads: its
	// codes name no site and open at every site that holds their key.
	LegacyFormatVersion = 1
	// DefaultValidity is the validity used when Seal is given 0.
	DefaultValidity = 72 * time.Hour
	// MaxValidity is the longest validity Seal accepts.
	MaxValidity = 90 * 24 * time.Hour
	// DefaultSkew is how far in the future an issue time may be before Open
	// reports ErrNotYetValid.
	DefaultSkew = 60 * time.Second
	// MaxSkew is the largest skew WithSkew accepts.
	MaxSkew = 10 * time.Minute
)

const (
	nonceLen   = 12
	tagLen     = 16
	siteTagLen = 4
	// body = kid + nonce + payload(pv, issued, validity 1–4, [site 4,] card 1–8) + tag
	minBodyLen   = 1 + nonceLen + 1 + 4 + 1 + 1 + tagLen
	maxBodyLen   = 1 + nonceLen + 1 + 4 + 4 + siteTagLen + MaxCardNoLen/2 + tagLen
	minBodyChars = (minBodyLen*8 + 4) / 5
	maxBodyChars = (maxBodyLen*8 + 4) / 5
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Key is one site key for sealing e-card codes.
type Key struct {
	// ID names the key inside every code. It is one character, 0–9 or A–Z.
	// A single character keeps the QR text at 85 characters or fewer. IDs may
	// be reused once every code sealed under the old key has expired (at most
	// MaxValidity later).
	ID string
	// Secret is the SM4 key. Generate it from a CSPRNG and keep it only on
	// the gateway.
	Secret [16]byte
}

// Claims are the authenticated contents of an e-card code.
type Claims struct {
	// Version is the format version: FormatVersion, or LegacyFormatVersion
	// for a code sealed before sites were sealed in (it names no site).
	Version int
	// KeyID is the ID of the key that sealed the code.
	KeyID string
	// CardNo is the e-card number.
	CardNo string
	// IssuedAt is when the code was sealed, to the second, in UTC.
	IssuedAt time.Time
	// ExpiresAt is the first second at which the code is no longer valid, in
	// UTC.
	ExpiresAt time.Time
	// Nonce is the code's random GCM nonce. It is unique per code and may be
	// used for a single-use cache.
	Nonce [nonceLen]byte
}

// Option changes a [Sealer] built by [NewSealer].
type Option func(*Sealer)

// WithPrefix sets the text prefix: 2–4 uppercase letters A–Z, not all in
// A–F (so it cannot be mistaken for hex). The default is DefaultPrefix.
func WithPrefix(prefix string) Option { return func(s *Sealer) { s.prefix = prefix } }

// WithSkew sets how far in the future an issue time may be (0 to MaxSkew).
// The default is DefaultSkew.
func WithSkew(d time.Duration) Option { return func(s *Sealer) { s.skew = d } }

// WithSite binds the Sealer to a site: the codes it seals carry the site's
// tag (see [SiteTag]), and Open refuses with [ErrOtherSite] a code whose tag
// is another site's, even when that site seals with the same keys. The
// default is the empty site "", which is a site like any other.
func WithSite(site string) Option { return func(s *Sealer) { s.site = site } }

// SiteTag returns the 4-byte tag that format version 2 seals into a code
// to name site: the first 4 bytes of SM3("medgate-ecard-site" || 0x00 ||
// site). Two sites whose tags are equal (a chance of 1 in 2^32 per pair)
// accept each other's codes when they also share a key.
func SiteTag(site string) [siteTagLen]byte {
	h := sm3.New()
	h.Write([]byte("medgate-ecard-site\x00"))
	h.Write([]byte(site))
	var t [siteTagLen]byte
	copy(t[:], h.Sum(nil))
	return t
}

// WithLegacyCodes sets whether Open accepts codes of format version 1
// (LegacyFormatVersion), which name no site and so open at every site that
// holds their key. The default is true, so codes printed before the upgrade
// to version 2 keep working until they expire; with false, Open refuses an
// authentic version-1 code with [ErrLegacyCode]. Turn it off once every
// version-1 code has expired (at most MaxValidity after the upgrade), or
// at once where sites share keys and cannot tolerate another site's codes.
func WithLegacyCodes(accept bool) Option { return func(s *Sealer) { s.legacy = accept } }

// WithRand sets the source of nonces. The default is crypto/rand.Reader.
// Tests may pass a fixed reader. Production must not, because a repeated
// nonce breaks GCM.
func WithRand(r io.Reader) Option { return func(s *Sealer) { s.rand = r } }

type sealKey struct {
	id   byte
	aead cipher.AEAD
	// aad is the AAD per format version: aad[0] for LegacyFormatVersion,
	// aad[1] for FormatVersion.
	aad [2][]byte
}

// Sealer seals card numbers into QR text and opens them again. It is safe for
// concurrent use.
type Sealer struct {
	prefix string
	site   string
	tag    [siteTagLen]byte
	skew   time.Duration
	legacy bool // Open accepts format version 1 (WithLegacyCodes)
	rand   io.Reader
	now    func() time.Time
	keys   map[byte]*sealKey
	active *sealKey
}

// NewSealer builds a Sealer that seals with the key whose ID is active and
// opens codes sealed under any of keys. A nil now means time.Now. Every
// problem with the arguments is reported, each wrapping [ErrInvalidConfig].
func NewSealer(keys []Key, active string, now func() time.Time, opts ...Option) (*Sealer, error) {
	s := &Sealer{
		prefix: DefaultPrefix,
		skew:   DefaultSkew,
		legacy: true,
		rand:   rand.Reader,
		now:    now,
		keys:   make(map[byte]*sealKey, len(keys)),
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, o := range opts {
		o(s)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if err := checkPrefix(s.prefix); err != "" {
		bad("prefix %q %s", s.prefix, err)
	}
	if s.skew < 0 || s.skew > MaxSkew {
		bad("skew %s must be between 0 and %s", s.skew, MaxSkew)
	}
	if s.rand == nil {
		bad("random source is nil; omit WithRand to use crypto/rand")
	}
	if len(keys) == 0 {
		bad("no keys; configure at least one key with an ID and a random 16-byte secret")
	}
	for i, k := range keys {
		if len(k.ID) != 1 || !(k.ID[0] >= '0' && k.ID[0] <= '9' || k.ID[0] >= 'A' && k.ID[0] <= 'Z') {
			bad("keys[%d]: id %q must be one character 0–9 or A–Z", i, k.ID)
			continue
		}
		id := k.ID[0]
		if _, dup := s.keys[id]; dup {
			bad("keys[%d]: id %q is used twice; give each key its own id", i, k.ID)
			continue
		}
		if k.Secret == ([16]byte{}) {
			bad("keys[%d] (id %q): secret is all zero; generate 16 random bytes", i, k.ID)
			continue
		}
		block, err := sm4.NewCipher(k.Secret[:])
		if err != nil {
			bad("keys[%d] (id %q): %v", i, k.ID, err)
			continue
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			bad("keys[%d] (id %q): %v", i, k.ID, err)
			continue
		}
		s.keys[id] = &sealKey{id: id, aead: aead, aad: [2][]byte{
			[]byte(s.prefix + string(rune('0'+LegacyFormatVersion)) + k.ID),
			[]byte(s.prefix + string(rune('0'+FormatVersion)) + k.ID),
		}}
	}
	s.tag = SiteTag(s.site)
	if len(active) == 1 {
		s.active = s.keys[active[0]]
	}
	if s.active == nil && len(keys) > 0 {
		bad("active key %q is not among the configured keys; set it to one of their ids", active)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func checkPrefix(p string) string {
	if len(p) < 2 || len(p) > 4 {
		return "must be 2–4 letters A–Z"
	}
	allHex := true
	for i := 0; i < len(p); i++ {
		if p[i] < 'A' || p[i] > 'Z' {
			return "must be 2–4 letters A–Z"
		}
		if p[i] > 'F' {
			allHex = false
		}
	}
	if allHex {
		return "uses only A–F and could be mistaken for hex; include a letter from G–Z"
	}
	return ""
}

// Prefix returns the text prefix, without the version digit.
func (s *Sealer) Prefix() string { return s.prefix }

// Site returns the site the Sealer is bound to (see [WithSite]).
func (s *Sealer) Site() string { return s.site }

// Classify is like [Classify] but uses this Sealer's prefix.
func (s *Sealer) Classify(text string) Kind { return classify(text, s.prefix) }

// Seal returns the QR text for cardNo, valid for validity from now, and the
// expiry time. A validity of 0 means DefaultValidity. It is truncated to whole
// seconds and must be between 1 s and MaxValidity. cardNo must be 1–16 digits,
// optionally ending in X. Seal does not check it against a [NumberRule], so
// temporary-card numbers can be sealed too.
func (s *Sealer) Seal(cardNo string, validity time.Duration) (string, time.Time, error) {
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < time.Second || validity > MaxValidity {
		return "", time.Time{}, fmt.Errorf("validity %s must be between 1s and %s; choose a shorter validity", validity, MaxValidity)
	}
	secs := uint64(validity / time.Second)
	var card [MaxCardNoLen / 2]byte
	n, err := packCardNo(card[:], cardNo)
	if err != nil {
		return "", time.Time{}, err
	}
	issued := s.now().Unix()
	if issued < 0 || uint64(issued)+secs > math.MaxUint32 {
		return "", time.Time{}, fmt.Errorf("clock reads %d (Unix seconds), outside the 1970–2106 range of format version %d; fix the system clock",
			issued, FormatVersion)
	}

	var buf [maxBodyLen]byte
	body := append(buf[:0], s.active.id)
	body = body[:1+nonceLen]
	if _, err := io.ReadFull(s.rand, body[1:]); err != nil {
		return "", time.Time{}, fmt.Errorf("read nonce: %w", err)
	}
	var pt [maxBodyLen]byte
	p := append(pt[:0], FormatVersion)
	p = binary.BigEndian.AppendUint32(p, uint32(issued))
	p = binary.AppendUvarint(p, secs)
	p = append(p, s.tag[:]...)
	p = append(p, card[:n]...)
	body = s.active.aead.Seal(body, body[1:1+nonceLen], p, s.active.aad[1])

	var sb strings.Builder
	sb.Grow(len(s.prefix) + 1 + b32.EncodedLen(len(body)))
	sb.WriteString(s.prefix)
	sb.WriteByte('0' + FormatVersion)
	sb.WriteString(b32.EncodeToString(body))
	return sb.String(), time.Unix(issued+int64(secs), 0).UTC(), nil
}

// Open authenticates text and returns its claims. Surrounding whitespace is
// ignored, and so is letter case when the text, in upper case, starts with
// the prefix: the text's alphabet (the prefix A–Z, the version digit and
// base32 A–Z 2–7) has no lower-case letter, so a code typed in lower case
// by a keyboard-wedge scanner with Caps Lock on reads as the code it is,
// and the authentication decides as for any text. It reads format versions 2 and 1 (version 1 unless
// [WithLegacyCodes](false)); a version-2 code must carry this Sealer's site
// tag. Errors match, in order of checking: [ErrNotECard] (as a
// *[NotECardError]), [ErrUnknownKey], [ErrTampered], [ErrLegacyCode],
// [ErrOtherSite],
// [ErrNotYetValid] and [ErrExpired] (as an *[ExpiredError]). For the last
// two, the returned Claims are authentic and filled in, so the caller can
// say which card's code is stale. For all other errors the Claims are zero:
// the card number of another site's code means nothing here.
func (s *Sealer) Open(text string) (Claims, error) {
	text = strings.TrimSpace(text)
	if u := asciiUpper(text); u != text && strings.HasPrefix(u, s.prefix) {
		text = u
	}
	if !strings.HasPrefix(text, s.prefix) {
		return Claims{}, &NotECardError{Kind: classify(text, s.prefix), Reason: fmt.Sprintf("it does not start with %q", s.prefix)}
	}
	if len(text) == len(s.prefix) || text[len(s.prefix)] < '0' || text[len(s.prefix)] > '9' {
		return Claims{}, &NotECardError{Reason: fmt.Sprintf("no version digit after %q", s.prefix)}
	}
	version := int(text[len(s.prefix)] - '0')
	if version != FormatVersion && version != LegacyFormatVersion {
		return Claims{}, &NotECardError{Kind: KindECard,
			Reason: fmt.Sprintf("format version %d is not supported (this build reads versions %d and %d); upgrade the gateway",
				version, LegacyFormatVersion, FormatVersion)}
	}
	enc := text[len(s.prefix)+1:]
	if len(enc) < minBodyChars || len(enc) > maxBodyChars {
		return Claims{}, &NotECardError{Kind: KindECard,
			Reason: fmt.Sprintf("body has %d characters, want %d–%d; the code was cut off or padded", len(enc), minBodyChars, maxBodyChars)}
	}
	if r := len(enc) % 8; r == 1 || r == 3 || r == 6 {
		return Claims{}, &NotECardError{Kind: KindECard, Reason: fmt.Sprintf("body length %d is impossible for base32; the code was cut off", len(enc))}
	}
	var buf [maxBodyLen]byte
	n, err := b32.Decode(buf[:], []byte(enc))
	if err != nil {
		return Claims{}, &NotECardError{Kind: KindECard, Reason: "body is not base32 (A–Z, 2–7); the code was misread or retyped"}
	}
	body := buf[:n]
	var canon [maxBodyChars]byte
	if b32.Encode(canon[:], body); string(canon[:b32.EncodedLen(n)]) != enc {
		return Claims{}, fmt.Errorf("%w: non-canonical base32 ending", ErrTampered)
	}
	if n < minBodyLen {
		return Claims{}, &NotECardError{Kind: KindECard, Reason: "body is too short; the code was cut off"}
	}
	if kid := body[0]; !(kid >= '0' && kid <= '9') && !(kid >= 'A' && kid <= 'Z') {
		// No key can have this id (0–9, A–Z): the code was misread or
		// altered, not sealed with a key removed since. Scanning again
		// helps; reprinting, which ErrUnknownKey asks for, does not.
		return Claims{}, &NotECardError{Kind: KindECard,
			Reason: fmt.Sprintf("its key id byte %#02x is no key id (0–9, A–Z); the code was misread or altered", kid)}
	}
	k, ok := s.keys[body[0]]
	if !ok {
		return Claims{}, fmt.Errorf("%w: key id %q is not configured; ask the patient to refresh the code, or configure the key again",
			ErrUnknownKey, body[0])
	}
	var pt [maxBodyLen]byte
	p, err := k.aead.Open(pt[:0], body[1:1+nonceLen], body[1+nonceLen:], k.aad[version-LegacyFormatVersion])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: the code was altered, misread or forged (key id %q)", ErrTampered, k.id)
	}
	c, tag, err := parsePayload(p, version)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: authentic but malformed payload under key id %q: %w", ErrTampered, k.id, err)
	}
	if version == LegacyFormatVersion && !s.legacy {
		return Claims{}, fmt.Errorf("%w: the code is authentic but of format version 1, printed before codes named their site, "+
			"and site %q no longer accepts such codes (key id %q); print a new code for the patient", ErrLegacyCode, s.site, k.id)
	}
	if version == FormatVersion && tag != s.tag {
		return Claims{}, fmt.Errorf("%w: the code is authentic but was issued for another site than %q (key id %q); "+
			"scan it at the site that printed it, or print a code for the patient at this site", ErrOtherSite, s.site, k.id)
	}
	c.KeyID = string(k.id)
	copy(c.Nonce[:], body[1:1+nonceLen])

	now := s.now()
	if c.IssuedAt.After(now.Add(s.skew)) {
		return c, fmt.Errorf("%w: issued at %s, %s ahead of this server's clock (allowed skew %s); check both servers' clocks",
			ErrNotYetValid, c.IssuedAt.Format(time.RFC3339), c.IssuedAt.Sub(now).Round(time.Second), s.skew)
	}
	if !now.Before(c.ExpiresAt) {
		return c, &ExpiredError{ExpiresAt: c.ExpiresAt, Now: now}
	}
	return c, nil
}

// parsePayload reads the payload of a code of the given format version,
// whose payload version byte must equal it, and returns the claims and the
// site tag (zero for version 1).
func parsePayload(p []byte, version int) (Claims, [siteTagLen]byte, error) {
	var tag [siteTagLen]byte
	if len(p) < 1+4+1+1 || int(p[0]) != version {
		return Claims{}, tag, errors.New("unknown payload version or short payload")
	}
	issued := int64(binary.BigEndian.Uint32(p[1:5]))
	secs, n := binary.Uvarint(p[5:])
	if n <= 0 || secs < 1 || secs > uint64(MaxValidity/time.Second) {
		return Claims{}, tag, errors.New("bad validity")
	}
	rest := p[5+n:]
	if version == FormatVersion {
		if len(rest) < siteTagLen {
			return Claims{}, tag, errors.New("short site tag")
		}
		copy(tag[:], rest)
		rest = rest[siteTagLen:]
	}
	cardNo, err := unpackCardNo(rest)
	if err != nil {
		return Claims{}, tag, err
	}
	return Claims{
		Version:   version,
		CardNo:    cardNo,
		IssuedAt:  time.Unix(issued, 0).UTC(),
		ExpiresAt: time.Unix(issued+int64(secs), 0).UTC(),
	}, tag, nil
}

// packCardNo writes cardNo as packed BCD into dst and returns the bytes used.
func packCardNo(dst []byte, cardNo string) (int, error) {
	if len(cardNo) < 1 || len(cardNo) > MaxCardNoLen {
		return 0, fmt.Errorf("%w: card number %q has %d characters; it must have 1–%d", ErrWrongLength, cardNo, len(cardNo), MaxCardNoLen)
	}
	for i := 0; i < len(cardNo); i++ {
		c := cardNo[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c == 'X' && i == len(cardNo)-1:
			v = 0xA
		default:
			return 0, fmt.Errorf("%w: card number %q must be digits, optionally ending in X", ErrBadCharacter, cardNo)
		}
		if i%2 == 0 {
			dst[i/2] = v<<4 | 0xF
		} else {
			dst[i/2] = dst[i/2]&0xF0 | v
		}
	}
	return (len(cardNo) + 1) / 2, nil
}

// unpackCardNo is the inverse of packCardNo and rejects anything packCardNo
// cannot produce.
func unpackCardNo(b []byte) (string, error) {
	if len(b) < 1 || len(b) > MaxCardNoLen/2 {
		return "", errors.New("bad card number length")
	}
	nib := 2 * len(b)
	if b[len(b)-1]&0xF == 0xF {
		nib--
	}
	out := make([]byte, nib)
	for i := range nib {
		v := b[i/2] >> 4
		if i%2 == 1 {
			v = b[i/2] & 0xF
		}
		switch {
		case v <= 9:
			out[i] = '0' + v
		case v == 0xA && i == nib-1:
			out[i] = 'X'
		default:
			return "", errors.New("bad card number digit")
		}
	}
	return string(out), nil
}

// asciiUpper returns s with the ASCII letters a–z in upper case and every
// other byte as it is (unlike strings.ToUpper, which also changes other
// letters and may change the length).
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
