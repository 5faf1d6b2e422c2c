// Package transforms turns the messages a hospital's integration platform
// sends — its own JSON, or HL7 v2 (ADT^A01 admission, ADT^A03 discharge,
// DFT^P03 charges) — into the inputs of the external transactions the
// adapters send, with declarative, per-site mapping files.
//
// A mapping file, <site>/<format>/<type>.yaml (for example
// demo/hl7v2/workinjury.GYU102.yaml), says for each target field of the
// transaction's schema where its value comes from: a JSON path in the
// payload or an HL7 v2 location (segment, field, repetition, component),
// optionally converted by an expression (github.com/expr-lang/expr) from a
// library of date/time, exact decimal, code-table and text functions, with
// defaults, conditions and repeated groups (one fee line per FT1 segment).
// Code tables (<site>/tables/<name>.yaml) translate hospital codes into
// national ones; a site may supply its own at run time.
//
// [Load] reads and checks mapping files strictly against the target schemas
// and reports every problem at once, each naming file, line and field.
// [Embedded] holds the built-in mappings; [Set.Overlay] lets a site replace
// or add mappings and tables from a directory without rebuilding.
// [Set.Find] picks the mapping for a site, input format and message type,
// and [Mapping.Apply] runs it, returning the transaction input or every
// [Problem] found, each naming the mapping, the source and the target field
// so that adapters can reply `invalid`.
//
// HL7 v2 parsing and MLLP framing are in the hl7 subpackage. See README.md
// in this directory for the file format, the functions and how to test a
// mapping.
package transforms
