package card

import "strings"

// Kind is what a scanned text looks like.
type Kind int

// Kinds returned by [Classify].
const (
	// KindUnknown is any text that matches none of the other kinds.
	KindUnknown Kind = iota
	// KindECard is a hospital e-card code with the expected prefix. It says
	// nothing about whether the code is authentic; call [Sealer.Open] for that.
	KindECard
	// KindNationalHealthCard is a national resident health card (电子健康卡)
	// QR text: 64 hex characters, optionally followed by ":1" (static) or
	// ":0:<32 hex>" (dynamic) and an optional ":<issuer code>".
	KindNationalHealthCard
	// KindResidentID is an 18-character resident ID number (居民身份证号)
	// with a valid check character.
	KindResidentID
	// KindTraceCode is a 20-digit drug trace code (追溯码) starting with 8.
	KindTraceCode
)

// String returns a short human-readable name for k.
func (k Kind) String() string {
	switch k {
	case KindECard:
		return "hospital e-card code"
	case KindNationalHealthCard:
		return "national health card (电子健康卡) code"
	case KindResidentID:
		return "resident ID number (居民身份证号)"
	case KindTraceCode:
		return "drug trace code (追溯码)"
	}
	return "unknown code"
}

// Classify tells what text looks like, assuming the default e-card prefix
// [DefaultPrefix]. Use [Sealer.Classify] for a hospital-specific prefix.
// Surrounding whitespace, such as a scanner's CR/LF, is ignored.
func Classify(text string) Kind { return classify(text, DefaultPrefix) }

func classify(text, prefix string) Kind {
	text = strings.TrimSpace(text)
	switch {
	case looksLikeECard(text, prefix):
		return KindECard
	case isNationalHealthCard(text):
		return KindNationalHealthCard
	case isResidentIDShape(text):
		return KindResidentID
	case len(text) == 20 && text[0] == '8' && isDigits(text):
		return KindTraceCode
	}
	return KindUnknown
}

// looksLikeECard checks the prefix, a version digit and a base32 body of
// plausible length, without decoding. It accepts any version so that a
// newer code is still recognised as an e-card.
func looksLikeECard(text, prefix string) bool {
	if !strings.HasPrefix(text, prefix) || len(text) < len(prefix)+1 {
		return false
	}
	if v := text[len(prefix)]; v < '1' || v > '9' {
		return false
	}
	body := text[len(prefix)+1:]
	if len(body) < 16 || len(body) > 200 {
		return false
	}
	for i := 0; i < len(body); i++ {
		if !isBase32Char(body[i]) {
			return false
		}
	}
	return true
}

func isBase32Char(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7') }

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// isNationalHealthCard matches <64 hex>, <64 hex>:1, <64 hex>:0:<32 hex> and
// <64 hex>:0:<32 hex>:<issuer>, the forms seen in public integrations.
func isNationalHealthCard(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) > 4 || len(parts[0]) != 64 || !isHex(parts[0]) {
		return false
	}
	switch len(parts) {
	case 1:
		return true
	case 2:
		return parts[1] == "0" || parts[1] == "1"
	}
	if parts[1] != "0" || len(parts[2]) != 32 || !isHex(parts[2]) {
		return false
	}
	return len(parts) == 3 || (len(parts[3]) <= 32 && isAlnum(parts[3]))
}

// isResidentIDShape reports whether s is 17 digits plus a valid MOD 11-2
// check character (a lowercase x is accepted).
func isResidentIDShape(s string) bool {
	if len(s) != 18 {
		return false
	}
	want, ok := mod11_2(s[:17])
	if !ok {
		return false
	}
	got := s[17]
	if got == 'x' {
		got = 'X'
	}
	return got == want
}

// ResidentIDCheckFails reports whether text (surrounding whitespace
// ignored) has the shape of an 18-character resident ID number — 17
// digits and a check character 0–9 or X — whose GB 11643 (ISO 7064
// MOD 11-2) check character is wrong: a misread or mistyped ID number,
// which [Classify] reports as [KindUnknown].
func ResidentIDCheckFails(text string) bool {
	s := strings.TrimSpace(text)
	if len(s) != 18 {
		return false
	}
	want, ok := mod11_2(s[:17])
	if !ok {
		return false
	}
	got := s[17]
	if got == 'x' {
		got = 'X'
	}
	return (got == 'X' || got >= '0' && got <= '9') && got != want
}
