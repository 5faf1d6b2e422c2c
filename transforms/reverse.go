package transforms

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// reverseError: a value is not an entry of a table, or the entry of
// several codes, so reverseLookup cannot tell its code (RuleUnmapped or
// RuleTable).
type reverseError struct {
	table, value string
	codes        []string // the codes with this entry; none when absent
}

func (e *reverseError) Error() string {
	if len(e.codes) == 0 {
		return fmt.Sprintf("%q is not an entry of code table %q", e.value, e.table)
	}
	return fmt.Sprintf("%q is the entry of several codes of code table %q (%s), so its code is ambiguous", e.value, e.table, strings.Join(e.codes, ", "))
}

// reversed notes that the mapping looks a table up in reverse, to check
// that the table's entries are unique.
func (c *compiler) reversed(n *yaml.Node, table string) {
	if c.reverse == nil {
		c.reverse = map[string]*yaml.Node{}
	}
	if c.reverse[table] == nil {
		c.reverse[table] = n
	}
}

// checkReversed reports every entry shared by several codes in the site's
// table files looked up in reverse: such a value has no single code.
func (c *compiler) checkReversed() {
	for _, name := range slices.Sorted(maps.Keys(c.reverse)) {
		t, ok := c.m.tables[name]
		if !ok {
			continue
		}
		for _, dup := range duplicates(t) {
			c.add(c.reverse[name], "reverseLookup", fmt.Sprintf("code table %q maps codes %s to the same entry %q, so reverseLookup cannot tell which code %q stands for", name, strings.Join(dup.codes, ", "), dup.value, dup.value),
				fmt.Sprintf("give each code its own entry in %s/tables/%s.yaml, or add a separate table for the reverse direction and use lookup: on it", c.m.Site, name))
		}
	}
}

// duplicates lists the entries of t shared by several codes.
func duplicates(t map[string]string) []*reverseError {
	by := map[string][]string{}
	for code, v := range t {
		by[v] = append(by[v], code)
	}
	var out []*reverseError
	for _, v := range slices.Sorted(maps.Keys(by)) {
		if codes := by[v]; len(codes) > 1 {
			slices.Sort(codes)
			out = append(out, &reverseError{value: v, codes: codes})
		}
	}
	return out
}

// reverseCode returns the code whose entry in table is value.
func (r *run) reverseCode(table string, value any) (any, error) {
	t, ok := r.table(table)
	if !ok {
		return nil, &tableError{table: table}
	}
	s, _ := toText(value)
	var codes []string
	for code, v := range t {
		if v == s {
			codes = append(codes, code)
		}
	}
	switch len(codes) {
	case 1:
		return codes[0], nil
	case 0:
		return nil, &reverseError{table: table, value: s}
	}
	slices.Sort(codes)
	return nil, &reverseError{table: table, value: s, codes: codes}
}

// reverseFunc implements reverseLookup(table, value) for expressions.
func (r *run) reverseFunc(table, value any) any {
	if empty(value) {
		return nil
	}
	v, err := r.reverseCode(tableArg("reverseLookup", table), value)
	if err != nil {
		panic(err)
	}
	return v
}
