package sdk

import (
	"fmt"
	"strings"
)

// DocumentView is a console page kind for a document with lines that an
// operator reviews, corrects line by line and finally confirms, such as a
// draft receipt (protocol 2). The documents are the items of a declared
// [WorkList]; the cell of their ItemField opens the document's page,
// /console/document/<plugin>/<Name>?site=S&id=ID, and the navigation bar
// links the work list under Title.
//
// The page reads the document with Get and shows its Header fields, each
// line (LineColumns, and LineItems as a list) and its History. While the
// document is Editable it offers every Edit (a form on every line, or one
// for the document) and the Confirm button. Each edit sends Adjust's
// operation with one change; the operator's name and the version the page
// showed travel with every change and with the confirmation, so the plugin
// can record who changed what and refuse a change made against an old
// page. The host checks the inputs against the declared fields before it
// sends anything.
type DocumentView struct {
	// Name is one word, lowercase, with dashes.
	Name string `json:"name"`
	// Title names the page and its navigation entry.
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// List is the WorkList whose items are the documents; ItemField is the
	// item field holding a document's id.
	List      string `json:"list"`
	ItemField string `json:"itemField"`
	// Get is the operation that returns one document, sent as
	// {IDField: id}. Its reply is the document as a JSON object. Get,
	// Adjust's and Confirm's operations are declared Operations of the
	// plugin (the host refuses a plugin whose page sends another).
	Get     string `json:"get"`
	IDField string `json:"idField"`
	// Version names the document field holding its version, sent back as
	// VersionField with every change and the confirmation.
	Version      string `json:"version,omitempty"`
	VersionField string `json:"versionField,omitempty"`
	// Operator is the payload field that carries the name of the operator
	// who signed in, with every change and the confirmation.
	Operator string `json:"operator,omitempty"`
	// Editable, when set, says when the document may still change;
	// otherwise it is shown read-only. Without it, it may always change.
	Editable *Condition `json:"editable,omitempty"`
	// Status names a document field shown beside the title.
	Status string `json:"status,omitempty"`
	// Header lists the document's fields shown above its lines; empty
	// values are left out.
	Header []Column `json:"header,omitempty"`
	// Lines names the document's array of lines; LineKey the line field
	// that identifies a line (sent with a line's changes); LineTitle the
	// line field shown as its heading; LineColumns the fields shown.
	Lines       string   `json:"lines"`
	LineKey     string   `json:"lineKey"`
	LineTitle   string   `json:"lineTitle,omitempty"`
	LineColumns []Column `json:"lineColumns,omitempty"`
	// LineItems names an array of strings of a line (such as trace codes)
	// shown as a list; an Edit with Pick lets the operator tick them.
	LineItems *Column `json:"lineItems,omitempty"`
	// Adjust is how changes are sent.
	Adjust DocumentAdjust `json:"adjust"`
	// Edits are the changes an operator can make.
	Edits []Edit `json:"edits,omitempty"`
	// Confirm, when set, is the button that finishes the document.
	Confirm *DocumentConfirm `json:"confirm,omitempty"`
	// History shows an array of the document as a table (Rows, Columns),
	// such as the changes made so far.
	History *Display `json:"history,omitempty"`
}

// Condition holds when the document field Field equals Equals.
type Condition struct {
	Field  string `json:"field"`
	Equals string `json:"equals"`
}

// DocumentAdjust says how the console sends one change: Operation with the
// payload {IDField: id, Operator: name, VersionField: version, Shared
// fields…, Changes: [change]}, where change is {Kind: edit name, LineKey:
// line (for a line's edit), the edit's fields…}, or the edit's fields
// under its Into.
type DocumentAdjust struct {
	Operation string `json:"operation"`
	// Changes names the payload array that holds the change.
	Changes string `json:"changes"`
	// Kind names the change field that holds the edit's Name.
	Kind string `json:"kind"`
	// Shared are inputs offered with every edit and sent at the top of the
	// payload, such as the reason for a change.
	Shared []Argument `json:"shared,omitempty"`
}

// Edit is one kind of change of a document.
type Edit struct {
	// Name is sent as the change's kind, e.g. "setQty".
	Name  string `json:"name"`
	Label string `json:"label"`
	// PerLine offers the edit on every line and sends the line's key;
	// otherwise it is one form for the whole document.
	PerLine bool `json:"perLine,omitempty"`
	// Fields are the inputs, typed like command arguments (ArgumentNumber
	// is sent as a JSON number, ArgumentList as an array of strings; the
	// console splits lists on commas, semicolons, spaces and line breaks,
	// so scanned codes can be pasted). Fields with Prefill start with the
	// line's value of the same name.
	Fields []Argument `json:"fields,omitempty"`
	// Prefill fills the fields in from the line (PerLine edits).
	Prefill bool `json:"prefill,omitempty"`
	// Into, when set, sends the fields as an object under this change field.
	Into string `json:"into,omitempty"`
	// Pick names a list field of the edit that the operator may also fill
	// by ticking the line's items (LineItems).
	Pick string `json:"pick,omitempty"`
	// Confirm, when set, is the question the operator confirms first.
	Confirm string `json:"confirm,omitempty"`
	// Danger marks an edit that removes something.
	Danger bool `json:"danger,omitempty"`
}

// DocumentConfirm is the button that finishes a document: Operation is sent
// with {IDField, Operator, VersionField}, after the operator answered
// Question. Result's Fields are shown with the notice that it was done.
type DocumentConfirm struct {
	Label       string  `json:"label"`
	Operation   string  `json:"operation"`
	Question    string  `json:"question,omitempty"`
	Description string  `json:"description,omitempty"`
	Result      Display `json:"result"`
}

// ArgumentNumber is an argument type for document edits: a decimal number,
// sent as a JSON number.
const ArgumentNumber = "number"

// Check reports what is wrong with a document view of plugin, whose
// declared work lists are lists.
func (v DocumentView) Check(plugin string, lists map[string]bool) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("document view %q: "+format, append([]any{v.Name}, args...)...))
	}
	own := func(what, op string) {
		if !strings.HasPrefix(op, plugin+".") || len(op) == len(plugin)+1 {
			bad("%s operation %q must start with %q", what, op, plugin+".")
		}
	}
	if !commandName.MatchString(v.Name) {
		bad("the name must be lowercase letters, digits and dashes, starting with a letter")
	}
	if !lists[v.List] {
		bad("work list %q is not declared; declare it in WorkLists (its items are the documents) or set List to a declared work list's Name", v.List)
	}
	for what, f := range map[string]string{"ItemField": v.ItemField, "IDField": v.IDField, "Lines": v.Lines, "LineKey": v.LineKey} {
		if f == "" {
			bad("%s is empty; name the field", what)
		}
	}
	own("Get", v.Get)
	if len(v.Edits) > 0 {
		own("Adjust", v.Adjust.Operation)
		if v.Adjust.Changes == "" || v.Adjust.Kind == "" {
			bad("Adjust needs Changes and Kind, the payload fields of the change and of its kind")
		}
	}
	if v.Confirm != nil {
		own("Confirm", v.Confirm.Operation)
	}
	seen := map[string]bool{}
	for _, e := range v.Edits {
		if seen[e.Name] || e.Name == "" {
			bad("edit %q is unnamed or declared twice; give every edit its own Name (it is sent as the change's kind)", e.Name)
		}
		seen[e.Name] = true
		if e.Pick != "" && v.LineItems == nil {
			bad("edit %q picks line items, but LineItems is not declared; declare LineItems (the line's array of strings to tick) or remove Pick", e.Name)
		}
	}
	return errs
}
