package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
)

// Key is a data key for encryption at rest: an id, stored with every value
// it encrypts, and 32 secret bytes (AES-256).
type Key struct {
	ID     string
	Secret []byte
}

// Option configures Open.
type Option func(*options)

type options struct {
	keys          []Key
	refusePlain   bool
	refuseUnbound bool
	// busyTimeout replaces sqliteBusyTimeout when set (tests).
	busyTimeout time.Duration
	// refusals is told of refused writes (WithRefusals).
	refusals func(err error)
	// walLimit replaces sqliteWALLimit when set (tests).
	walLimit int64
}

// withBusyTimeout sets how long SQLite waits for another connection's lock
// (tests; the default is sqliteBusyTimeout).
func withBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// withWALLimit sets the size SQLite cuts its WAL file back to (tests;
// the default is sqliteWALLimit).
func withWALLimit(n int64) Option {
	return func(o *options) { o.walLimit = n }
}

// optionsFrom applies opts.
func optionsFrom(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithKeys encrypts what the store writes of personal data — message
// requests and replies, journal bodies, plugin state values and download
// batch payloads — with AES-256-GCM under keys[0]; every key decrypts
// what was written with it. Values written before encryption was turned
// on stay readable (unless WithRefusePlain). Rotate by putting a new key
// first, then run Rekey before dropping the old one. Each value is bound
// to its row: a message's to its id, a state value to its namespace and
// key, a batch payload to its batch, a journal body to its entry (see
// WithRefuseUnboundJournal).
func WithKeys(keys ...Key) Option {
	return func(o *options) { o.keys = append(o.keys, keys...) }
}

// WithRefusePlain makes every read of a value stored without encryption
// fail with [ErrPlain] instead of returning it: a plain value or one only
// compressed (as SQLite stores large values of a store without keys). Turn
// it on once Rekey has encrypted every row written before encryption was
// turned on (it answers 0); from then on a value put into a row behind the
// store's back, which no key authenticates, is never taken for genuine.
// Open refuses it without WithKeys. Rekey then re-encrypts only values
// encrypted with another key: a plain value makes it fail with ErrPlain
// too, rather than encrypt (and so vouch for) what nobody authenticated.
func WithRefusePlain() Option {
	return func(o *options) { o.refusePlain = true }
}

// WithRefuseUnboundJournal makes every read of a journal body (an
// exchange's request or response) that is not bound to its row fail with
// [ErrUnbound] instead of returning it. Since schema version 7 every
// journal entry written with a key has a random seal id, and its bodies
// are encrypted bound to that id and to all its other columns (message,
// plugin, site, system, code, serial, status, error, duration, time): a
// body moved into another entry, or an entry whose status or time was
// changed, does not decrypt. An entry written before is bound only to its
// message, plugin, site, code and serial, so a body of another call with
// the same ones (a resend, a plugin's token calls) could have been moved
// into it; it stays readable unless this option is set. Turn it on once
// Rekey, run without it, has bound every older entry (it answers 0).
// Rekey then refuses such an entry too. Open refuses it without WithKeys.
func WithRefuseUnboundJournal() Option {
	return func(o *options) { o.refuseUnbound = true }
}

// ErrUnbound is returned, with WithRefuseUnboundJournal, when a journal
// body was written before journal entries were bound to their row. The
// error names the entry and column, never the content.
var ErrUnbound = errors.New("stored journal entry is not bound to its row")

// ErrPlain is returned, with WithRefusePlain, when a stored value is not
// encrypted. The error names the value's column and row, never its content.
var ErrPlain = errors.New("stored value is not encrypted")

// ErrKey is returned when a stored value cannot be decrypted: its key is
// not configured, or the value or key is wrong.
var ErrKey = errors.New("cannot decrypt stored data")

// sealMagic starts every encrypted value. Plain values are JSON, HL7 or
// other text that never starts with a NUL byte. sealMagicS2 starts a value
// that was compressed with S2 (klauspost/compress/s2, block format) before
// it was encrypted: a large value that compresses well (the 250 KB request
// of a 500-line fee upload, replies, plugin state) is written in a fraction
// of the bytes, which SQLite writes twice (WAL, then checkpoint). The
// format is bound into the additional data, so a value's magic cannot be
// switched to the other one.
//
// zipMagic starts a value compressed the same way but not encrypted: the
// SQLite store compresses large values whether or not it has keys. A
// value stored plain never starts with a NUL byte (one that does, as a
// plugin's opaque state value may, is stored compressed: see
// unmistakable), so the three cannot be confused.
const (
	sealMagic   = "\x00MGS1"
	sealMagicS2 = "\x00MGS2"
	zipMagic    = "\x00MGZ1"
)

// sealCompressMin is the smallest value seal tries to compress; a value
// is kept compressed only when that saves at least an eighth of it
// (ciphertext in base64, as the work-injury journal holds, does not
// compress, and is written as it is).
const sealCompressMin = 4 << 10

// compresses reports whether sample, the start of a value, saves an
// eighth compressed: a value that starts with text that does not (base64
// of ciphertext) is not tried whole.
func compresses(sample []byte) bool {
	var buf [2 * sealCompressMin]byte // more than s2.MaxEncodedLen(sealCompressMin)
	return len(s2.Encode(buf[:], sample)) <= len(sample)-len(sample)/8
}

// s2Buffers holds the buffers values are compressed into before they are
// encrypted (a compressed value lives only until it is sealed).
var s2Buffers = sync.Pool{New: func() any { return new([]byte) }}

// s2AAD starts the additional data of a compressed value (that of a value
// not compressed starts with its table and column name).
const s2AAD = "s2\x00"

// sealedPrefix reports whether b starts like an encrypted value (both
// magics have the same length).
func sealedPrefix(b []byte) bool {
	return bytes.HasPrefix(b, []byte(sealMagic)) || bytes.HasPrefix(b, []byte(sealMagicS2))
}

// sealer encrypts and decrypts column values. A nil *sealer writes plain
// values and refuses encrypted ones.
type sealer struct {
	current string // "" without keys: the sealer only compresses
	aeads   map[string]cipher.AEAD
	// refusePlain makes open refuse a value that is not encrypted (see
	// WithRefusePlain).
	refusePlain bool
	// refuseUnbound makes openExchange refuse a journal body that is not
	// bound to its row (see WithRefuseUnboundJournal).
	refuseUnbound bool
	// compress lets seal compress large values (sealMagicS2). Only the
	// SQLite store sets it: an older medgate refuses its database once
	// the schema is at version 5, so no older binary ever reads such a
	// value. PostgreSQL instances of two versions may run side by side
	// during an upgrade, and there an older one would take the value for
	// plain text; every version opens both formats.
	compress bool
}

// newSealer builds a sealer from keys (nil without keys).
func newSealer(keys []Key) (*sealer, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	s := &sealer{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if k.ID == "" || len(k.ID) > 255 {
			return nil, fmt.Errorf("encryption key %d: the id must be 1 to 255 bytes", i)
		}
		if _, dup := s.aeads[k.ID]; dup {
			return nil, fmt.Errorf("encryption key %d: id %q is used twice", i, k.ID)
		}
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("encryption key %q: %d bytes, want 32 (AES-256)", k.ID, len(k.Secret))
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", k.ID, err)
		}
		s.aeads[k.ID] = aead
	}
	return s, nil
}

// seal encrypts plain under the current key, bound to aad (the table,
// column and the row's identifying columns, so a value cannot be moved to
// another row), compressing it first when compress is set and it is large
// and compresses. nil stays nil; without a sealer the value stays plain;
// without a key (current "") it is only compressed (zipMagic) or left plain.
func (s *sealer) seal(aad string, plain []byte) ([]byte, error) {
	if s == nil || plain == nil {
		return unmistakable(plain), nil
	}
	z, release := s.compressed(plain)
	defer release()
	if s.current == "" {
		if z == nil {
			return unmistakable(plain), nil
		}
		return append([]byte(zipMagic), z...), nil
	}
	aead := s.aeads[s.current]
	magic := sealMagic
	if z != nil {
		magic, plain, aad = sealMagicS2, z, s2AAD+aad
	}
	out := make([]byte, 0, len(magic)+1+len(s.current)+aead.NonceSize()+len(plain)+aead.Overhead())
	out = append(out, magic...)
	out = append(out, byte(len(s.current)))
	out = append(out, s.current...)
	// The nonce is drawn straight into its place in out.
	n := len(out)
	out = out[:n+aead.NonceSize()]
	nonce := out[n:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return aead.Seal(out, nonce, plain, []byte(aad)), nil
}

// unmistakable returns a value to be stored plain as it is, unless it
// starts with a NUL byte, as the store's own formats do (a plugin's state
// value is opaque bytes and may): such a value is stored compressed
// (zipMagic), which open reads back whole, so that it is not taken for a
// compressed or encrypted value.
func unmistakable(plain []byte) []byte {
	if len(plain) == 0 || plain[0] != 0 {
		return plain
	}
	out := make([]byte, len(zipMagic)+s2.MaxEncodedLen(len(plain)))
	copy(out, zipMagic)
	z := s2.Encode(out[len(zipMagic):], plain)
	return out[:len(zipMagic)+len(z)]
}

// compressed returns plain compressed with S2 when compress is set and it
// is worth it (see sealCompressMin), else nil. z lives in a pooled buffer
// until release is called.
func (s *sealer) compressed(plain []byte) (z []byte, release func()) {
	if !s.compress || len(plain) < sealCompressMin || !compresses(plain[:sealCompressMin]) {
		return nil, func() {}
	}
	zp := s2Buffers.Get().(*[]byte)
	if n := s2.MaxEncodedLen(len(plain)); cap(*zp) < n {
		*zp = make([]byte, n)
	}
	release = func() {
		if cap(*zp) <= 1<<20 { // a rare large value's buffer is not kept
			s2Buffers.Put(zp)
		}
	}
	if z = s2.Encode((*zp)[:cap(*zp)], plain); len(z) > len(plain)-len(plain)/8 {
		return nil, release
	}
	return z, release
}

// keyID returns the id of the key a stored value was encrypted with, and
// false for a plain value.
func keyID(b []byte) (string, bool) {
	if !sealedPrefix(b) || len(b) < len(sealMagic)+1 {
		return "", false
	}
	n := int(b[len(sealMagic)])
	if len(b) < len(sealMagic)+1+n {
		return "", false
	}
	return string(b[len(sealMagic)+1 : len(sealMagic)+1+n]), true
}

// open decrypts a stored value; a plain value (written before encryption
// was turned on) is returned as it is, unless refusePlain is set. nil (SQL
// NULL: no value) is returned as it is.
func (s *sealer) open(aad string, b []byte) ([]byte, error) {
	id, sealed := keyID(b)
	if !sealed {
		if sealedPrefix(b) {
			return nil, fmt.Errorf("%w: the value is truncated", ErrKey)
		}
		if s != nil && s.refusePlain && b != nil {
			return nil, plainError(aad)
		}
		if z, ok := bytes.CutPrefix(b, []byte(zipMagic)); ok {
			plain, err := s2.Decode(nil, z)
			if err != nil {
				return nil, fmt.Errorf("a stored compressed value is corrupt: %v", err)
			}
			return plain, nil
		}
		return b, nil
	}
	if s == nil || len(s.aeads) == 0 {
		return nil, fmt.Errorf("%w: it was encrypted with key %q and no store.encryption key is configured; configure that key", ErrKey, id)
	}
	aead, ok := s.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: it was encrypted with key %q, which is not among store.encryption.keys; add that key back (after the current one)", ErrKey, id)
	}
	rest := b[len(sealMagic)+1+len(id):]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: the value encrypted with key %q is truncated", ErrKey, id)
	}
	compressed := bytes.HasPrefix(b, []byte(sealMagicS2))
	if compressed {
		aad = s2AAD + aad
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q does not authenticate it (a different key under the same id, or the data was altered)", ErrKey, id)
	}
	if compressed {
		z := plain
		if plain, err = s2.Decode(nil, z); err != nil {
			// Authenticated, so written by medgate: not expected.
			return nil, fmt.Errorf("%w: the value encrypted with key %q does not decompress: %v", ErrKey, id, err)
		}
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}

// stale reports whether a stored value must be re-encrypted by Rekey: it
// is plain while a key is configured, or encrypted with another key.
func (s *sealer) stale(b []byte) bool {
	if s == nil || s.current == "" || b == nil {
		return false
	}
	id, sealed := keyID(b)
	return !sealed || id != s.current
}

// plainError is the error of a value refused by refusePlain, naming the
// column it was read from (the callers name the row).
func plainError(aad string) error {
	column, _, _ := strings.Cut(aad, "\x00")
	column = strings.TrimSuffix(column, rowBound)
	if column == "messages.request" {
		column += " (or message_requests.request, where a large request is kept)"
	}
	return fmt.Errorf("%w: the %s value is stored plain (or only compressed) and store.encryption.refusePlain refuses it, as it could have been written by anyone with access to the database; if the row was written before encryption was turned on, set refusePlain to false and run POST /admin/store/rekey until it answers 0, otherwise restore the row from a backup", ErrPlain, column)
}

// sealerFrom builds the sealer the options ask for.
func sealerFrom(opts []Option) (*sealer, error) {
	o := optionsFrom(opts)
	if o.refusePlain && len(o.keys) == 0 {
		return nil, errors.New("refusing plain values needs an encryption key (WithKeys); without one every value is stored plain")
	}
	if o.refuseUnbound && len(o.keys) == 0 {
		return nil, errors.New("refusing journal entries not bound to their row needs an encryption key (WithKeys); without one no entry is bound")
	}
	s, err := newSealer(o.keys)
	if s != nil {
		s.refusePlain, s.refuseUnbound = o.refusePlain, o.refuseUnbound
	}
	return s, err
}

// aad joins the parts that identify where a value is stored, each ended
// by a NUL byte.
func aad(parts ...string) string {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range parts {
		b.WriteString(p)
		b.WriteByte(0)
	}
	return b.String()
}

// rowBound ends the column name of the additional data of a journal body
// bound to its row, so that it never equals that of an entry written
// before (whatever its columns hold).
const rowBound = "@row"

// exchangeAAD binds a journal body to its entry. With a seal id (every
// entry written with a key since schema version 7) that is the id and
// every column of the entry but its row id, which is not known before the
// insert; the random seal id stands for it. Without one (an entry written
// before) it is the entry's message, plugin, site, code and serial only.
// Which bodies the entry has is bound too, so that one of them cannot be
// erased (set NULL) while the other is kept; an entry with neither has
// nothing encrypted to bind. e.At must be as stored (normTime), and
// e.Request and e.Response nil exactly when they are stored NULL.
func exchangeAAD(column, sealID string, e Exchange) string {
	if sealID == "" {
		return aad("exchanges."+column, e.MessageID, e.Plugin, e.Site, e.Code, e.Serial)
	}
	return aad("exchanges."+column+rowBound, sealID, e.MessageID, e.Plugin, e.Site, e.System, e.Code, e.Serial,
		e.Status, e.Error, strconv.FormatInt(e.DurationMS, 10), strconv.FormatInt(e.At.UnixMicro(), 10),
		strconv.FormatBool(e.Request != nil), strconv.FormatBool(e.Response != nil))
}

// newSealID returns a fresh seal id for a journal entry, or "" when the
// store does not encrypt (nothing to bind).
func (s *sealer) newSealID() (string, error) {
	if s == nil || s.current == "" {
		return "", nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("journal entry seal id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// openExchange decrypts the body column ("request" or "response") of the
// journal entry e, stored with sealID ("" before schema version 7).
func (s *sealer) openExchange(column, sealID string, e Exchange, b []byte) ([]byte, error) {
	if sealID == "" && b != nil && s != nil && s.refuseUnbound {
		return nil, fmt.Errorf("%w: the exchanges.%s value was written before journal entries were bound to their row (schema version 7), bound only to its message, plugin, site, code and serial, and store.WithRefuseUnboundJournal refuses it, as a body of another entry with the same ones could have been moved there; turn that option off and run POST /admin/store/rekey until it answers 0 (it binds every entry to its row), then turn it on again", ErrUnbound, column)
	}
	return s.open(exchangeAAD(column, sealID, e), b)
}
