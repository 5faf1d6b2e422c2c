package hl7

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// AllRepetitions is the Repetition of a location written with "(*)".
const AllRepetitions = -1

// ErrLocation is wrapped by [ParseLocation] errors.
var ErrLocation = errors.New("bad HL7 location")

// Location names a value in a message:
//
//	SEG[occurrence]-field(repetition).component.subcomponent
//
// Only the segment and the field are required; the other parts count from 1
// and default to the first. In place of an occurrence number, [f=v] picks
// the first segment whose field f (first component) is v; in place of a
// repetition number, (c=v) picks the first repetition whose component c is
// v, and (*) means every repetition. Examples: "PID-5.1", "PV1-19",
// "PID-3(2).1", "PID-3(5=SS).1", "DG1[2]-3.1", "DG1[6=A]-3.2",
// "FT1-22.1.1", "PID-3(*).1".
type Location struct {
	Segment      string
	Occurrence   int // 0 means the first
	SelectField  int // with SelectValue: [f=v]
	SelectValue  string
	Field        int
	Repetition   int // 0 means the first; AllRepetitions for (*)
	Component    int // 0 means the first
	Subcomponent int // 0 means the first
	// SelectComponent and SelectRepValue: (c=v).
	SelectComponent int
	SelectRepValue  string
}

const maxIndex = 9999

// ParseLocation parses a location such as "PID-3(5=SS).1".
func ParseLocation(s string) (Location, error) {
	var l Location
	bad := func(format string, args ...any) (Location, error) {
		return Location{}, fmt.Errorf("%w %q: %s; write it like PID-5.1, PID-3(2).1, PID-3(5=SS).1 or DG1[2]-3.1", ErrLocation, s, fmt.Sprintf(format, args...))
	}
	rest := s
	if len(rest) < 3 || !validName(rest[:3]) {
		return bad("it must start with a 3-character segment ID in capitals")
	}
	l.Segment, rest = rest[:3], rest[3:]
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("the [ after the segment ID is not closed")
		}
		sel := rest[1:end]
		rest = rest[end+1:]
		if f, v, ok := strings.Cut(sel, "="); ok {
			n, err := index(f)
			if err != nil {
				return bad("in [%s], %q is not a field number", sel, f)
			}
			if v == "" {
				return bad("in [%s], give the value to match after =", sel)
			}
			l.SelectField, l.SelectValue = n, v
		} else {
			n, err := index(sel)
			if err != nil {
				return bad("[%s] must be an occurrence number from 1 or field=value", sel)
			}
			l.Occurrence = n
		}
	}
	if !strings.HasPrefix(rest, "-") {
		return bad("the segment ID must be followed by - and a field number")
	}
	rest = rest[1:]
	num, after := digits(rest)
	n, err := index(num)
	if err != nil {
		return bad("%q is not a field number from 1", firstNonEmpty(num, rest))
	}
	rest = after
	l.Field = n
	if strings.HasPrefix(rest, "(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return bad("the ( after the field number is not closed")
		}
		sel := rest[1:end]
		rest = rest[end+1:]
		switch c, v, ok := strings.Cut(sel, "="); {
		case sel == "*":
			l.Repetition = AllRepetitions
		case ok:
			n, err := index(c)
			if err != nil {
				return bad("in (%s), %q is not a component number", sel, c)
			}
			if v == "" {
				return bad("in (%s), give the value to match after =", sel)
			}
			l.SelectComponent, l.SelectRepValue = n, v
		default:
			n, err := index(sel)
			if err != nil {
				return bad("(%s) must be a repetition number from 1, * or component=value", sel)
			}
			l.Repetition = n
		}
	}
	for i, dst := range []*int{&l.Component, &l.Subcomponent} {
		if rest == "" {
			break
		}
		if rest[0] != '.' {
			return bad("unexpected %q", rest)
		}
		num, after := digits(rest[1:])
		n, err := index(num)
		if err != nil {
			what := "component"
			if i == 1 {
				what = "subcomponent"
			}
			return bad("%q is not a %s number from 1", firstNonEmpty(num, rest[1:]), what)
		}
		rest = after
		*dst = n
	}
	if rest != "" {
		return bad("unexpected %q at the end", rest)
	}
	if l.Segment == "MSH" && l.Field <= 2 && (l.Component > 1 || l.Subcomponent > 1 || l.Repetition > 1) {
		return bad("MSH-1 and MSH-2 hold the delimiters and have no components")
	}
	return l, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func digits(s string) (string, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

func index(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxIndex || s != strconv.Itoa(n) {
		return 0, ErrLocation
	}
	return n, nil
}

// String formats the location in the syntax ParseLocation reads, leaving
// out defaults.
func (l Location) String() string {
	var b strings.Builder
	b.WriteString(l.Segment)
	switch {
	case l.SelectField > 0:
		fmt.Fprintf(&b, "[%d=%s]", l.SelectField, l.SelectValue)
	case l.Occurrence > 1:
		fmt.Fprintf(&b, "[%d]", l.Occurrence)
	}
	fmt.Fprintf(&b, "-%d", l.Field)
	switch {
	case l.Repetition == AllRepetitions:
		b.WriteString("(*)")
	case l.SelectComponent > 0:
		fmt.Fprintf(&b, "(%d=%s)", l.SelectComponent, l.SelectRepValue)
	case l.Repetition > 1:
		fmt.Fprintf(&b, "(%d)", l.Repetition)
	}
	if l.Component > 1 || l.Subcomponent > 1 {
		fmt.Fprintf(&b, ".%d", max(l.Component, 1))
	}
	if l.Subcomponent > 1 {
		fmt.Fprintf(&b, ".%d", l.Subcomponent)
	}
	return b.String()
}
