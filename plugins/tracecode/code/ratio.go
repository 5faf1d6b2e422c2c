package code

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// RatioMode says how the numbers of a package ratio are read. The public
// record (码上放心 API comments) gives the example "1:5:10" for three
// levels without saying which reading applies, so it is a site setting.
type RatioMode string

// Ratio modes.
const (
	// RatioCumulative: each number counts packages of that level in one
	// largest package. "1:5:50" = 1 case holds 5 middle packs and 50
	// smallest units (10 per middle pack).
	RatioCumulative RatioMode = "cumulative"
	// RatioPerLevel: each number counts packages of that level in one
	// package of the level above. "1:5:10" = 1 case holds 5 middle packs,
	// each holding 10 smallest units (50 per case).
	RatioPerLevel RatioMode = "per-level"
)

// ParseRatioMode parses a mode name.
func ParseRatioMode(s string) (RatioMode, error) {
	switch m := RatioMode(s); m {
	case RatioCumulative, RatioPerLevel:
		return m, nil
	}
	return "", fmt.Errorf("package ratio mode %q is not known; use cumulative or per-level", s)
}

// ErrRatio: a package ratio is malformed.
var ErrRatio = errors.New("package ratio is malformed")

// maxRatioPart bounds each number of a ratio, and maxSmallest the smallest
// units of one package, so arithmetic never overflows.
const (
	maxRatioPart = 1_000_000
	maxSmallest  = 10_000_000
)

// Ratio is a parsed package ratio (包装比例) such as "1:5:50".
type Ratio struct {
	parts []int
	mode  RatioMode
}

// ParseRatio parses "a:b:c" (full-width colons are accepted) in the given
// mode. One number ("1") is a single-level package.
func ParseRatio(s string, mode RatioMode) (Ratio, error) {
	if _, err := ParseRatioMode(string(mode)); err != nil {
		return Ratio{}, err
	}
	t := strings.ReplaceAll(strings.TrimSpace(s), "：", ":")
	if t == "" {
		return Ratio{}, fmt.Errorf("%w: empty; expected numbers separated by colons such as 1:5:50", ErrRatio)
	}
	fields := strings.Split(t, ":")
	if len(fields) > 9 {
		return Ratio{}, fmt.Errorf("%w: %q has %d levels, at most 9 are supported", ErrRatio, s, len(fields))
	}
	r := Ratio{mode: mode, parts: make([]int, len(fields))}
	for i, f := range fields {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxRatioPart {
			return Ratio{}, fmt.Errorf("%w: %q: level %d is %q, expected a whole number from 1 to %d", ErrRatio, s, i+1, f, maxRatioPart)
		}
		r.parts[i] = n
	}
	if r.parts[0] != 1 {
		return Ratio{}, fmt.Errorf("%w: %q must start with 1 (one largest package)", ErrRatio, s)
	}
	total := 1
	for i := 1; i < len(r.parts); i++ {
		switch mode {
		case RatioCumulative:
			if r.parts[i]%r.parts[i-1] != 0 {
				return Ratio{}, fmt.Errorf("%w: %q read cumulatively: %d packages of level %d cannot be split evenly into %d of level %d; check the ratio or set packRatioMode to per-level", ErrRatio, s, r.parts[i], i+1, r.parts[i-1], i)
			}
			total = r.parts[i]
		case RatioPerLevel:
			total *= r.parts[i]
		}
		if total > maxSmallest {
			return Ratio{}, fmt.Errorf("%w: %q means more than %d smallest units per package", ErrRatio, s, maxSmallest)
		}
	}
	return r, nil
}

// Levels returns the number of packaging levels.
func (r Ratio) Levels() int { return len(r.parts) }

// String returns the ratio in canonical form, "1:5:50".
func (r Ratio) String() string {
	s := make([]string, len(r.parts))
	for i, p := range r.parts {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ":")
}

// SmallestPer returns how many smallest units one package at the display
// level holds (1 = the largest package, Levels() = the smallest, which
// holds 1).
func (r Ratio) SmallestPer(displayLevel int) (int, error) {
	n := len(r.parts)
	if n == 0 {
		return 0, fmt.Errorf("%w: the ratio is empty", ErrRatio)
	}
	if displayLevel < 1 || displayLevel > n {
		return 0, fmt.Errorf("%w: level %d does not exist in %s (levels 1 to %d)", ErrRatio, displayLevel, r, n)
	}
	switch r.mode {
	case RatioPerLevel:
		total := 1
		for i := displayLevel; i < n; i++ {
			total *= r.parts[i]
		}
		return total, nil
	default:
		return r.parts[n-1] / r.parts[displayLevel-1], nil
	}
}

// DisplayLevel converts a pack level (1 = smallest) to a display level
// (1 = largest).
func (r Ratio) DisplayLevel(packLevel int) int { return len(r.parts) - packLevel + 1 }
