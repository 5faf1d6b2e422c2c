package card

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
)

// permuteRounds is the number of Feistel rounds; FF1 (NIST SP 800-38G)
// uses 10 as well.
const permuteRounds = 10

// Permutation is a keyed, reversible shuffle of the sequence numbers
// 0 … 10^Width−1, used so that card numbers are not sequential: without the
// key, the number of the next (or any other) card cannot be derived from
// numbers seen, yet every sequence number still maps to exactly one card
// number, so numbers never collide and need no lookup table.
//
// It is a 10-round Feistel network over the decimal digits, split as in
// FF1 (the first ⌊Width/2⌋ digits and the rest), whose round function is
// HMAC-SM3 of the round, the width and the right half under a key derived
// from a site secret. It hides the order of numbers; it is not meant to
// encrypt anything, and a card number carries no personal data.
type Permutation struct {
	key      []byte
	width    int
	u, v     int    // digits of the left and right halves
	modU     uint64 // 10^u
	modV     uint64 // 10^v
	capacity int64  // 10^width
}

// NewPermutation derives a permutation of width-digit numbers (1 to 15)
// from secret, which must have at least 16 bytes.
func NewPermutation(secret []byte, width int) (*Permutation, error) {
	if len(secret) < minIdentitySecret {
		return nil, fmt.Errorf("card-number key secret has %d bytes; configure at least %d random bytes", len(secret), minIdentitySecret)
	}
	if width < 1 || width > MaxCardNoLen-1 {
		return nil, fmt.Errorf("width %d is out of range; use 1 to %d digits", width, MaxCardNoLen-1)
	}
	m := hmac.New(sm3.New, secret)
	m.Write([]byte("medgate/ecard/card-number-permutation/v1"))
	p := &Permutation{key: m.Sum(nil), width: width, u: width / 2, v: width - width/2}
	p.modU, p.modV = pow10(p.u), pow10(p.v)
	p.capacity = int64(pow10(width))
	return p, nil
}

// Capacity is the number of sequence numbers the permutation maps: 10^width.
func (p *Permutation) Capacity() int64 { return p.capacity }

// ErrOutOfRange is returned for a number outside 0 … Capacity−1.
var ErrOutOfRange = errors.New("number out of the permutation's range")

// Apply maps a sequence number to its shuffled number.
func (p *Permutation) Apply(x int64) (int64, error) {
	if x < 0 || x >= p.capacity {
		return 0, fmt.Errorf("%w: %d is not in 0 to %d", ErrOutOfRange, x, p.capacity-1)
	}
	a, b := uint64(x)/p.modV, uint64(x)%p.modV
	for i := range permuteRounds {
		m := p.mod(i)
		c := (a + p.round(i, b)%m) % m
		a, b = b, c
	}
	return int64(a*p.modV + b), nil
}

// Invert maps a shuffled number back to its sequence number.
func (p *Permutation) Invert(y int64) (int64, error) {
	if y < 0 || y >= p.capacity {
		return 0, fmt.Errorf("%w: %d is not in 0 to %d", ErrOutOfRange, y, p.capacity-1)
	}
	a, b := uint64(y)/p.modV, uint64(y)%p.modV
	for i := permuteRounds - 1; i >= 0; i-- {
		m := p.mod(i)
		c := b
		b = a
		a = (c + m - p.round(i, b)%m) % m
	}
	return int64(a*p.modV + b), nil
}

// mod is the modulus of round i: the left half's size in even rounds, the
// right half's in odd ones (the halves swap every round).
func (p *Permutation) mod(i int) uint64 {
	if i%2 == 0 {
		return p.modU
	}
	return p.modV
}

// round is the round function: 64 bits of HMAC-SM3(key, i, width, b).
func (p *Permutation) round(i int, b uint64) uint64 {
	var msg [10]byte
	msg[0], msg[1] = byte(i), byte(p.width)
	binary.BigEndian.PutUint64(msg[2:], b)
	m := hmac.New(sm3.New, p.key)
	m.Write(msg[:])
	return binary.BigEndian.Uint64(m.Sum(nil))
}

func pow10(n int) uint64 {
	r := uint64(1)
	for range n {
		r *= 10
	}
	return r
}

// FormatShuffled builds the card number of sequence seq like
// [NumberRule.Format], after shuffling seq with p. It fails with
// [ErrSequenceExhausted] when seq is not below 10^Width.
func (r NumberRule) FormatShuffled(seq int64, p *Permutation) (string, error) {
	if p == nil || p.width != r.Width {
		return "", fmt.Errorf("the permutation is for width %d, the rule has width %d; build it with NewPermutation(secret, rule.Width)", p.widthOrZero(), r.Width)
	}
	if seq >= p.capacity {
		return "", fmt.Errorf("%w: sequence %d does not fit %d digits; widen the rule or start a new prefix", ErrSequenceExhausted, seq, r.Width)
	}
	n, err := p.Apply(seq)
	if err != nil {
		return "", err
	}
	return r.Format(n)
}

func (p *Permutation) widthOrZero() int {
	if p == nil {
		return 0
	}
	return p.width
}
