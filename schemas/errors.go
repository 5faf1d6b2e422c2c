package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is wrapped by errors about a schema that does not exist in a
// set.
var ErrNotFound = errors.New("not found")

// Problem is one thing wrong with a file being loaded: a schema or code
// table file here, a mapping or code table file in the transforms package.
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
func (e *LoadError) Error() string { return FormatProblems("loading schemas", e.Problems) }

// Unwrap returns the problems as errors, for errors.As.
func (e *LoadError) Unwrap() []error { return ProblemErrors(e.Problems) }

// FormatProblems formats the text of an error carrying problems: the
// header and the number of problems ("loading schemas: 2 problem(s)"),
// then every problem on a line of its own. Load errors of other packages
// use it, so that they all read alike.
func FormatProblems(header string, problems []Problem) string {
	lines := make([]string, 0, len(problems)+1)
	lines = append(lines, fmt.Sprintf("%s: %d problem(s)", header, len(problems)))
	for _, p := range problems {
		lines = append(lines, p.Error())
	}
	return strings.Join(lines, "\n")
}

// ProblemErrors returns the problems as errors, for the Unwrap method of an
// error carrying them, so that errors.As finds each one.
func ProblemErrors(problems []Problem) []error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errs
}
