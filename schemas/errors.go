package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is wrapped by errors about a schema that does not exist in a
// set.
var ErrNotFound = errors.New("not found")

// ErrImport is wrapped by every error [Import] returns.
var ErrImport = errors.New("import spec")

// Problem is one thing wrong with a schema or code table file.
type Problem struct {
	// File is the file's path inside the loaded file system (or the overlay
	// directory joined with it).
	File string
	// Line is the 1-based line the problem is on; 0 when unknown.
	Line int
	// Field is the dotted key path of the offending entry, for example
	// "input.fee.akc226.type"; empty for problems with the whole file.
	Field string
	// Reason says what is wrong.
	Reason string
	// Fix says how to fix it.
	Fix string
}

// Error formats the problem as `file:line: field "x": reason — how to fix`.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		fmt.Fprintf(&b, "field %q: ", p.Field)
	}
	b.WriteString(p.Reason)
	if p.Fix != "" {
		b.WriteString(" — ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// LoadError carries every problem found while loading schema files.
type LoadError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *LoadError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("loading schemas: %d problem(s)", len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, p.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems as errors, for errors.As.
func (e *LoadError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}
