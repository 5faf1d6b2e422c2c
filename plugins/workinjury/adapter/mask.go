package adapter

import (
	"regexp"
	"strings"

	"github.com/medgate/medgate/plugins/hsa"
)

// institutionCode is an institution code as the national system writes
// it (akb020: a capital letter and 11 digits, the region first), with no
// digit or Latin letter glued to it.
var institutionCode = regexp.MustCompile(`(?:^|[^0-9A-Za-z])([A-Z]\d{11})(?:$|[^0-9A-Za-z])`)

// nationalText masks the personal data a free text of the national system
// (a refusal's message, GYD053's orig_result_message, a line's
// fail_reason, GYR005's message) may quote: the worker's ID or
// social-security number, phone, and a name, card number or birth date
// after its label – hsa.MaskText, as the self-pay adapter masks its
// platform's err_msg. Every such text is masked where it leaves the
// national answer, so no reply, diagnostic, event, log line, journal
// error or stored outcome carries it whole. Serials, visit, settlement,
// batch and filing numbers stay readable (their digit runs are longer
// than any personal number), and so do institution codes: hsa.MaskText
// reads a letter-glued 11-digit run starting 13–19 as a mobile number,
// which an institution of Hebei, Shanxi or Inner Mongolia (H13…, H14…,
// H15…) is, so those are kept out of it.
func nationalText(s string) string {
	if s == "" {
		return s
	}
	locs := institutionCode.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return hsa.MaskText(s)
	}
	var b strings.Builder
	at := 0
	for _, l := range locs {
		b.WriteString(hsa.MaskText(s[at:l[2]]))
		b.WriteString(s[l[2]:l[3]])
		at = l[3]
	}
	b.WriteString(hsa.MaskText(s[at:]))
	return b.String()
}
