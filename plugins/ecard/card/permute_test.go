package card

import (
	"errors"
	"testing"
)

var permSecret = []byte("4f6c0d1e9a2b8c7d5e3f1a0b9c8d7e6f")

// TestPermutationIsABijection maps every number of small widths and checks
// that no two collide and that Invert undoes Apply.
func TestPermutationIsABijection(t *testing.T) {
	t.Parallel()
	for width := 1; width <= 4; width++ {
		p, err := NewPermutation(permSecret, width)
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[int64]int64, p.Capacity())
		for x := range p.Capacity() {
			y, err := p.Apply(x)
			if err != nil {
				t.Fatal(err)
			}
			if y < 0 || y >= p.Capacity() {
				t.Fatalf("width %d: %d maps out of range to %d", width, x, y)
			}
			if prev, dup := seen[y]; dup {
				t.Fatalf("width %d: %d and %d both map to %d", width, prev, x, y)
			}
			seen[y] = x
			if back, err := p.Invert(y); err != nil || back != x {
				t.Fatalf("width %d: Invert(Apply(%d)) = %d, %v", width, x, back, err)
			}
		}
	}
}

func TestPermutationHidesOrder(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		width int
		first int64
	}{
		"width 10 from 1":         {10, 1},
		"width 14 from a million": {14, 1_000_000},
		"odd width 7":             {7, 1},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := NewPermutation(permSecret, tc.width)
			if err != nil {
				t.Fatal(err)
			}
			other, _ := NewPermutation([]byte("another-secret-of-32-characters!"), tc.width)
			prev, _ := p.Apply(tc.first)
			adjacent, same := 0, 0
			for x := tc.first + 1; x < tc.first+1000; x++ {
				y, _ := p.Apply(x)
				if d := y - prev; d == 1 || d == -1 {
					adjacent++
				}
				if o, _ := other.Apply(x); o == y {
					same++
				}
				if back, err := p.Invert(y); err != nil || back != x {
					t.Fatalf("Invert(Apply(%d)) = %d, %v", x, back, err)
				}
				prev = y
			}
			if adjacent > 5 {
				t.Errorf("%d of 999 consecutive sequence numbers gave adjacent card numbers", adjacent)
			}
			if same > 5 {
				t.Errorf("%d of 999 numbers are the same under another key", same)
			}
		})
	}
}

func TestPermutationErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewPermutation([]byte("short"), 10); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
	for _, w := range []int{0, 16} {
		if _, err := NewPermutation(permSecret, w); err == nil {
			t.Errorf("width %d was accepted", w)
		}
	}
	p, _ := NewPermutation(permSecret, 3)
	for _, x := range []int64{-1, 1000} {
		if _, err := p.Apply(x); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Apply(%d) = %v, want ErrOutOfRange", x, err)
		}
		if _, err := p.Invert(x); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Invert(%d) = %v, want ErrOutOfRange", x, err)
		}
	}
	rule := NumberRule{Prefix: "7", Width: 3, CheckDigit: CheckLuhn}
	if _, err := rule.FormatShuffled(1000, p); !errors.Is(err, ErrSequenceExhausted) {
		t.Errorf("FormatShuffled(1000) with width 3 = %v, want ErrSequenceExhausted", err)
	}
	wrong, _ := NewPermutation(permSecret, 4)
	if _, err := rule.FormatShuffled(1, wrong); err == nil {
		t.Error("a permutation of another width was accepted")
	}
	n, err := rule.FormatShuffled(1, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := rule.Check(n); err != nil {
		t.Errorf("shuffled number %s fails the rule: %v", n, err)
	}
	y, _ := p.Apply(1)
	if seq, _ := rule.Sequence(n); seq != y {
		t.Errorf("number %s holds %d, want the shuffled %d", n, seq, y)
	}
}
