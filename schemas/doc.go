// Package schemas holds medgate's description of every external transaction
// and the generic machinery that uses it.
//
// One YAML file per transaction, at <system>/<code>.yaml, lists the business
// input and output fields (name, label, type, length and its unit, required,
// date layout, enum code table, pattern of a string, example, children). An input field may be
// marked platformOnly (a medgate extension the platform message carries and
// the adapter removes with [Schema.StripPlatformOnly] before sending) and a
// required field may name such a stand-in with requiredUnless. A field
// marked personal (ID and phone numbers, names, birth dates, addresses…)
// never has its value quoted by the validator's messages: they show it
// masked, as the logs do. Shared enum code tables
// live at <system>/codes/<name>.yaml. The files are embedded in the binary
// ([Embedded]); a site may overlay a directory of its own files ([Set.Overlay])
// so that a new official specification is a data change, not a code change.
//
// [Load] reads and checks schema files strictly and reports every problem at
// once as "file:line: field "x": reason — how to fix". [Schema.ValidateInput]
// and [Schema.ValidateOutput] check decoded JSON against a schema and return
// every error with its JSON path. [WriteYAML] writes a schema as a schema
// file. Turning the field tables of an official specification (CSV or XLSX)
// into schemas is package schemas/importer (`medgate import-spec`), kept
// apart so that validating does not link its spreadsheet readers.
//
// # For plugin vendors
//
// A plugin validates payloads against the schema documents it ships with
// this package, the validator medgate uses for mapped messages. These are
// kept stable for them: [FromDocuments] and [Load], [Set.Lookup] and
// [Set.Get], [Schema.ValidateInput] and [Schema.ValidateOutput] with
// [ValidateOptions], [FieldError] and the Rule* names, and the file format
// of README.md. The rest (the built-in schemas, overlays, [WriteYAML], the
// helpers other medgate loaders share) is medgate's own and may change. A
// program that never asks for the built-in schemas does not link them, and
// nothing here links a spreadsheet library.
//
//	set, err := schemas.FromDocuments(docs) // the documents of DescribeResponse.Schemas
//	s, err := set.Lookup("acme", "order")
//	dec := json.NewDecoder(bytes.NewReader(payload))
//	dec.UseNumber()
//	var doc any
//	err = dec.Decode(&doc)
//	for _, e := range s.ValidateInput(doc) {
//		ds = append(ds, sdk.Problem(e.Path, e.Rule, e.Message, "…"))
//	}
//
// Business rules (amount consistency, lifecycle preconditions) are not
// expressed here; they are Go code in the plugins. Schemas are read-only once
// loaded: callers must not modify a *Schema obtained from a [Set].
//
// See README.md in this directory for the file format.
package schemas
