package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters, recorded with every hash so
// they can be raised later without invalidating older hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	KeyLen  uint32
}

// DefaultParams follow RFC 9106's second recommendation, scaled down to
// OWASP's minimum for argon2id memory (19 MiB, 2 passes, 1 lane) so a
// sign-in takes tens of milliseconds on a small server.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32}

// Password rules.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
)

// CheckPassword says what is wrong with a new password, or nil.
func CheckPassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8 text")
	case n < MinPasswordLen:
		return fmt.Errorf("the password has %d characters; use at least %d (a few unrelated words make a good one)", n, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("the password is longer than %d bytes; use a shorter one", MaxPasswordLen)
	}
	return nil
}

// Hash returns the PHC string of pw hashed with argon2id and a random
// 16-byte salt: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>.
func Hash(pw string, p Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("access: no randomness for a password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// maxMemory and maxTime bound the cost a stored hash may ask for (1 GiB,
// 100 passes), so a tampered row cannot exhaust the server.
const (
	maxMemory = 1 << 20
	maxTime   = 100
)

// Verify reports whether pw matches the PHC string hash, in constant time
// for the comparison. A malformed hash is an error (never a match).
func Verify(pw, hash string) (bool, error) { return verify(pw, hash, maxMemory, maxTime) }

func verify(pw, hash string, maxMem, maxT uint32) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("access: the stored password hash is not an argon2id PHC string; set the password again (medgate user passwd)")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, fmt.Errorf("access: argon2 version %q is not supported; set the password again", parts[2])
	}
	var p Params
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil ||
		p.Memory < 8 || p.Memory > maxMem || p.Time < 1 || p.Time > maxT || threads < 1 || threads > 255 {
		return false, fmt.Errorf("access: the stored password hash has bad parameters %q; set the password again", parts[3])
	}
	p.Threads = uint8(threads)
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 || len(want) > 128 {
		return false, errors.New("access: the stored password hash is damaged; set the password again")
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
