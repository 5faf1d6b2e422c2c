package transforms

import (
	"errors"

	"github.com/medgate/medgate/schemas"
)

// ErrNotFound is wrapped by errors about a mapping that does not exist.
var ErrNotFound = errors.New("mapping not found")

// The rules a run-time [Problem] may name, besides the schema validator's
// (required, length, type, enum, format, batch, unknown; see the schemas
// package).
const (
	// RuleRequired: a source the target needs is missing or empty.
	RuleRequired = "required"
	// RuleUnmapped: a code is not in the code table a mapping looks it up in.
	RuleUnmapped = "unmapped"
	// RuleType: a value cannot be turned into the target's type, or the
	// message is not the type the mapping reads.
	RuleType = "type"
	// RuleFormat: the input is not a JSON object or HL7 v2 message that
	// can be read, or a date does not match its layout.
	RuleFormat = "format"
	// RuleExpression: an expression failed at run time.
	RuleExpression = "expression"
	// RuleMapping: an expression called fail(…) to reject the message.
	RuleMapping = "mapping"
	// RuleTable: a code table the mapping uses was not supplied.
	RuleTable = "table"
)

// Problem is one reason a message could not be mapped. Adapters turn each
// into an `invalid` diagnostic: Field is the diagnostic's field, and Message
// is "what is wrong; how to fix it".
type Problem struct {
	// Field is the JSON path of the target field, for example
	// "$.fee[3].ake001"; "$" for the message as a whole.
	Field string `json:"field"`
	// Rule is one of the Rule* constants or a schema validation rule.
	Rule string `json:"rule"`
	// Message says what is wrong, naming the mapping and the source, and
	// after "; " how to fix it.
	Message string `json:"message"`
	// Mapping is the name of the mapping, for example
	// "demo/hl7v2/workinjury.GYU102".
	Mapping string `json:"mapping,omitempty"`
	// Source is the source path the value came from, for example
	// "FT1[4]-7.1" or "$.fees[3].itemCode"; empty when unknown.
	Source string `json:"source,omitempty"`
}

// Error formats the problem as "field: rule: message".
func (p Problem) Error() string { return p.Field + ": " + p.Rule + ": " + p.Message }

// LoadProblem is one thing wrong with a mapping or code table file: its
// File (the path in the loaded file system, or joined with the overlay
// directory), Line (1-based; 0 when unknown), Field (the dotted path of the
// offending entry, for example "fields.fee.amount.expr"; empty for the
// whole file), Reason and Fix. It is the schemas package's Problem, and
// formats the same way: `file:line: field "x": reason — fix`.
type LoadProblem = schemas.Problem

// LoadError carries every problem found while loading mapping files.
type LoadError struct {
	Problems []LoadProblem
}

// Error lists every problem, one per line.
func (e *LoadError) Error() string { return schemas.FormatProblems("loading mappings", e.Problems) }

// Unwrap returns the problems as errors, for errors.As.
func (e *LoadError) Unwrap() []error { return schemas.ProblemErrors(e.Problems) }
