package card

// Check-digit algorithms. No maintained Go module implements ISO 7064
// MOD 11-2 (github.com/digitorus/iso7064 only does MOD 97-10), and both
// algorithms are a few lines, so they live here.

// Check-digit algorithm names for [NumberRule.Check].
const (
	// CheckMod11_2 is ISO 7064 MOD 11-2, the algorithm of the 18-character
	// resident ID number. It catches every single-character error and every
	// adjacent transposition. The check character is 0–9 or X.
	CheckMod11_2 = "mod11-2"
	// CheckLuhn is the Luhn (mod 10) algorithm. It catches every
	// single-digit error and most adjacent transpositions (not 09↔90), and
	// stays all-numeric.
	CheckLuhn = "luhn"
)

// mod11_2 returns the ISO 7064 MOD 11-2 check character for a string of
// ASCII digits, and false if payload holds anything else.
func mod11_2(payload string) (byte, bool) {
	c := 0
	for i := 0; i < len(payload); i++ {
		d := payload[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		c = (c + int(d-'0')) * 2 % 11
	}
	r := (12 - c) % 11
	if r == 10 {
		return 'X', true
	}
	return byte('0' + r), true
}

// luhn returns the Luhn check digit for a string of ASCII digits, and false
// if payload holds anything else.
func luhn(payload string) (byte, bool) {
	sum := 0
	double := true // the rightmost payload digit is doubled
	for i := len(payload) - 1; i >= 0; i-- {
		d := payload[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		v := int(d - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return byte('0' + (10-sum%10)%10), true
}

// isDigits reports whether s is non-empty and all ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
