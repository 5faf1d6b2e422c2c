package adapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/medgate/medgate/plugins/internal/jsonscan"
)

// uploadedAmong returns which of the detail numbers in nos a visit already
// has (revoked lines included), for the rule unique-detail-no. It reads
// the visit's maps (both layouts, see detailsKey) but keeps nothing of
// them: each map is scanned for its keys in one pass, without decoding
// its values, and each key is looked up among the call's numbers. A call
// therefore costs one pass over the stay's bytes and no allocation per
// line of the stay.
func (l *lifecycle) uploadedAmong(ykc700 string, nos map[string]struct{}) (map[string]bool, error) {
	base := detailsKey(ykc700)
	es, err := l.h.Scan(l.ctx, base, 0)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", base, err)
	}
	hits := map[string]bool{}
	see := func(k []byte) {
		if _, ok := nos[string(k)]; ok {
			hits[string(k)] = true
		}
	}
	for _, e := range es {
		if e.Key != base && !strings.HasPrefix(e.Key, base+"/") {
			continue // another visit whose number starts with this one
		}
		if objectKeys(e.Value, see) {
			continue
		}
		// Not in the form json.Marshal writes (escapes, other values):
		// encoding/json reads it, and refuses it if it is not JSON.
		var m map[string]struct{}
		if err := json.Unmarshal(e.Value, &m); err != nil {
			return nil, fmt.Errorf("state %s is not readable JSON: %w", e.Key, err)
		}
		for no := range m {
			see([]byte(no))
		}
	}
	return hits, nil
}

// objectKeys calls fn with each member name of b, a JSON object whose
// members are flat objects (a visitDetails as json.Marshal writes it), and
// reports true. It accepts only a subset of JSON: names and strings
// without escapes and in ASCII, member values that are objects of strings,
// numbers, true, false and null. For anything else it returns false
// (fn may have been called for some names), and the caller decodes b with
// encoding/json, which also rejects what is not JSON.
func objectKeys(b []byte, fn func(name []byte)) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for {
		name, j, ok := asciiString(b, i)
		if !ok {
			return false
		}
		if i = skipWS(b, j); i >= len(b) || b[i] != ':' {
			return false
		}
		if i, ok = flatObject(b, skipWS(b, i+1)); !ok {
			return false
		}
		fn(name)
		if i = skipWS(b, i); i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return skipWS(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// flatObject skips the object at b[i] whose members are scalars and returns
// the index after it.
func flatObject(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		_, j, ok := asciiString(b, i)
		if !ok {
			return 0, false
		}
		if i = skipWS(b, j); i >= len(b) || b[i] != ':' {
			return 0, false
		}
		if i = skipWS(b, i+1); i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '"':
			if _, i, ok = asciiString(b, i); !ok {
				return 0, false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if i, ok = jsonscan.NumberEnd(b, i); !ok {
				return 0, false
			}
		case bytes.HasPrefix(b[i:], []byte("true")), bytes.HasPrefix(b[i:], []byte("null")):
			i += 4
		case bytes.HasPrefix(b[i:], []byte("false")):
			i += 5
		default:
			return 0, false
		}
		if i = skipWS(b, i); i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// asciiString returns the contents of the JSON string at b[i] when it is
// printable ASCII without escapes, and the index after it.
func asciiString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c == '\\' || c >= 0x80:
			return nil, 0, false
		}
	}
	return nil, 0, false
}
