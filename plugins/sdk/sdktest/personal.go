package sdktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/medgate/medgate/plugins/sdk/pii"
)

// Unmasked returns the JSON paths ("$.patient.fullName", "$.lines[2]") of
// the strings in payload, a reply's JSON, that quote one of values (a
// person's name, ID or phone number the test sent) where medgate shows
// them unmasked: under no key that pii.PersonalKey accepts, at any depth.
// A plugin's test calls it on each reply that may quote personal data and
// fails on any path: the console's message page, GET /admin/messages,
// medgate send and medgate's log would show the value as it is. Resident
// ID and mobile numbers are masked wherever they are, but a test that
// passes them too also finds them in a sentence of another kind of text.
// A payload that is not JSON is one path, "$", if it quotes a value.
func Unmasked(payload []byte, values ...string) []string {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		v = string(payload)
	}
	var out []string
	unmasked(v, "$", false, values, &out)
	sort.Strings(out)
	return out
}

func unmasked(v any, at string, personal bool, values []string, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			unmasked(e, at+"."+k, personal || pii.PersonalKey(k), values, out)
		}
	case []any:
		for i, e := range x {
			unmasked(e, fmt.Sprintf("%s[%d]", at, i), personal, values, out)
		}
	case string:
		if personal {
			return
		}
		for _, val := range values {
			if val != "" && strings.Contains(x, val) {
				*out = append(*out, at)
				return
			}
		}
	}
}
