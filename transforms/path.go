package transforms

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/transforms/hl7"
)

// Input formats a mapping reads.
const (
	FormatJSON  = "json"
	FormatHL7v2 = "hl7v2"
)

var errPath = errors.New("bad source path")

// jsonStep is one step of a JSON path: a key, an index or [*].
type jsonStep struct {
	key   string
	index int
	kind  byte // 'k' key, 'i' index, '*' every item
}

// jsonPath is a parsed JSON path: $.a.b[0].c, $["a b"], @.x (relative to
// the current item of an each group), $.fees[*].qty.
type jsonPath struct {
	text     string
	relative bool
	steps    []jsonStep
	wildcard bool
}

func parseJSONPath(s string) (*jsonPath, error) {
	bad := func(format string, args ...any) (*jsonPath, error) {
		return nil, fmt.Errorf("%w %q: %s; write it like $.patient.name, $.fees[0].qty, $[\"key with spaces\"] or @.qty inside each", errPath, s, fmt.Sprintf(format, args...))
	}
	p := &jsonPath{text: s}
	switch {
	case strings.HasPrefix(s, "$"):
	case strings.HasPrefix(s, "@"):
		p.relative = true
	default:
		return bad("a JSON path starts with $ (the payload) or @ (the current item)")
	}
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			i := 0
			for i < len(rest) {
				r := rune(rest[i])
				size := 1
				if r >= 0x80 {
					r, size = utf8.DecodeRuneInString(rest[i:])
				}
				if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
					break
				}
				i += size
			}
			if i == 0 {
				return bad("a key must follow the dot; quote unusual keys as [\"…\"]")
			}
			p.steps = append(p.steps, jsonStep{kind: 'k', key: rest[:i]})
			rest = rest[i:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if strings.HasPrefix(rest, `["`) {
				end = strings.Index(rest, `"]`)
				if end < 0 {
					return bad(`a quoted key ["… is not closed with "]`)
				}
				key, err := strconv.Unquote(rest[1 : end+1])
				if err != nil || key == "" {
					return bad("the quoted key %s is not a valid string", rest[1:end+1])
				}
				p.steps = append(p.steps, jsonStep{kind: 'k', key: key})
				rest = rest[end+2:]
				continue
			}
			if end < 0 {
				return bad("a [ is not closed")
			}
			in := rest[1:end]
			rest = rest[end+1:]
			if in == "*" {
				p.steps = append(p.steps, jsonStep{kind: '*'})
				p.wildcard = true
				continue
			}
			n, err := strconv.Atoi(in)
			if err != nil || n < 0 || strconv.Itoa(n) != in {
				return bad("[%s] must be an index from 0, * or a quoted key", in)
			}
			p.steps = append(p.steps, jsonStep{kind: 'i', index: n})
		default:
			return bad("unexpected %q", rest)
		}
	}
	return p, nil
}

// get follows the path from root (or from item for a relative path). It
// returns the value and the concrete path it was found at; found is false
// when a step is missing. A wildcard path returns the first value found.
func (p *jsonPath) get(root any, item any, itemPath string) (v any, at string, found bool) {
	var vs []any
	var ats []string
	p.walk(root, item, itemPath, func(v any, at string) bool {
		vs, ats = append(vs, v), append(ats, at)
		return false
	})
	if len(vs) == 0 {
		return nil, p.start(itemPath), false
	}
	return vs[0], ats[0], true
}

// all returns every value the path reaches (following [*] into each item).
func (p *jsonPath) all(root any, item any, itemPath string) (vs []any, ats []string) {
	p.walk(root, item, itemPath, func(v any, at string) bool {
		vs, ats = append(vs, v), append(ats, at)
		return true
	})
	return vs, ats
}

func (p *jsonPath) start(itemPath string) string {
	if p.relative {
		return itemPath + p.text[1:]
	}
	return p.text
}

func (p *jsonPath) walk(root, item any, itemPath string, yield func(any, string) bool) {
	cur, at := root, "$"
	if p.relative {
		cur, at = item, itemPath
	}
	p.step(cur, at, 0, yield)
}

func (p *jsonPath) step(cur any, at string, i int, yield func(any, string) bool) bool {
	if i == len(p.steps) {
		return yield(cur, at)
	}
	s := p.steps[i]
	switch s.kind {
	case 'k':
		m, ok := cur.(map[string]any)
		if !ok {
			return true
		}
		v, ok := m[s.key]
		if !ok {
			return true
		}
		return p.step(v, at+keyPath(s.key), i+1, yield)
	case 'i':
		a, ok := cur.([]any)
		if !ok || s.index >= len(a) {
			return true
		}
		return p.step(a[s.index], at+"["+strconv.Itoa(s.index)+"]", i+1, yield)
	default:
		a, ok := cur.([]any)
		if !ok {
			return true
		}
		for j, v := range a {
			if !p.step(v, at+"["+strconv.Itoa(j)+"]", i+1, yield) {
				return false
			}
		}
		return true
	}
}

// keyPath writes one key step as .key, or ["key"] when it needs quoting.
func keyPath(k string) string {
	for _, r := range k {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			return "[" + strconv.Quote(k) + "]"
		}
	}
	return "." + k
}

// source is where a value comes from: a JSON path or an HL7 location.
type source struct {
	text string
	json *jsonPath
	hl7  *hl7.Location
}

// parseSource parses a source path for the given input format.
func parseSource(format, s string) (*source, error) {
	if format == FormatJSON {
		p, err := parseJSONPath(s)
		if err != nil {
			return nil, err
		}
		return &source{text: s, json: p}, nil
	}
	if strings.HasPrefix(s, "$") || strings.HasPrefix(s, "@") {
		return nil, fmt.Errorf("%w %q: an hl7v2 mapping reads HL7 locations such as PID-5.1, not JSON paths", errPath, s)
	}
	l, err := hl7.ParseLocation(s)
	if err != nil {
		return nil, err
	}
	return &source{text: s, hl7: &l}, nil
}

// multi reports whether the source can name several values.
func (s *source) multi() bool {
	if s.json != nil {
		return s.json.wildcard
	}
	return s.hl7.Repetition == hl7.AllRepetitions
}
