package sdkhost

import (
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestPluginNameIsOneMedgateCanRun: medgate runs a plugin only under a
// name its configuration accepts (plugins[].name, which must equal the
// Describe answer's Name). A Name medgate can never be configured with
// (empty, capitals, a dot) is refused by CheckDescription, and so by
// sdktest.Configure, in one error that says what a name may be, instead
// of passing a vendor's tests and failing only in medgate.yaml; an empty
// Name is that one error, not one "must start with ".”" per operation.
func TestPluginNameIsOneMedgateCanRun(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		name string
		want []string // every error, by a part of its text; none: accepted
	}{
		"lowercase":         {name: "acme"},
		"digits and dashes": {name: "acme-lab_2"},
		"empty":             {name: "", want: []string{"DescribeResponse.Name is empty"}},
		"capitals":          {name: "Acme", want: []string{`plugin name "Acme" is not one medgate runs`}},
		"dot":               {name: "acme.lab", want: []string{`plugin name "acme.lab" is not one medgate runs`}},
		"starts with digit": {name: "1acme", want: []string{`plugin name "1acme" is not one medgate runs`}},
		"longer than 32":    {name: strings.Repeat("a", 33), want: []string{"is not one medgate runs"}},
		"space":             {name: "acme lab", want: []string{`plugin name "acme lab" is not one medgate runs`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := &sdk.DescribeResponse{Name: tc.name, Operations: []sdk.Operation{{Type: tc.name + ".ping"}, {Type: tc.name + ".pong"}}}
			errs := CheckDescription(d)
			if len(errs) != len(tc.want) {
				t.Fatalf("CheckDescription(Name %q) = %v; want %d error(s) %q", tc.name, errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				msg := errs[i].Error()
				if !strings.Contains(msg, w) || !strings.Contains(msg, "plugins[].name") || !strings.Contains(msg, "lowercase letters, digits") {
					t.Errorf("error %d = %q; want it to contain %q, say what a name may be and that plugins[].name must equal it", i, msg, w)
				}
			}
		})
	}
}

// TestJobNameCanBeRun: a job is run and shown by its id PLUGIN/SITE/JOB
// (medgate job run, POST /admin/jobs/{plugin}/{site}/{job}/run, the
// console's Run now). A job whose name is empty or holds a slash, a space
// or another character a path cannot carry as it is could be declared but
// never run by hand: CheckDescription refuses it, saying what a job name
// may be.
func TestJobNameCanBeRun(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		job  string
		want string // part of the one error; "": accepted
	}{
		"dashes":        {job: "forget-old"},
		"capitals":      {job: "GYU009"},
		"dot and under": {job: "fetch_results.v2"},
		"empty":         {job: "", want: "a job has no Name"},
		"slash":         {job: "fetch/results", want: `job "fetch/results": the name must be`},
		"space":         {job: "fetch results", want: `job "fetch results": the name must be`},
		"question mark": {job: "fetch?", want: `job "fetch?": the name must be`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := &sdk.DescribeResponse{Name: "acme", Jobs: []sdk.Job{{Name: tc.job, Interval: time.Minute}}}
			errs := CheckDescription(d)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("CheckDescription(job %q) = %v; want it accepted", tc.job, errs)
			case tc.want == "":
			case len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.Contains(errs[0].Error(), "medgate job run"):
				t.Fatalf("CheckDescription(job %q) = %v; want one error containing %q that names medgate job run", tc.job, errs, tc.want)
			}
		})
	}
}

// TestConsoleInputsKeepTheConsolesNames: the console posts a form, a row
// action and a document change with inputs of its own beside the
// declared fields (the site chosen, the CSRF token, the action's plugin,
// list and name, the row's values as row.<field>, the document's id, line,
// version and edit). A declared field of the same name would get the
// console's value instead of the operator's (a form field "site" is sent
// as the site code) or break the post, so CheckDescription refuses it,
// naming the field and the console's names.
func TestConsoleInputsKeepTheConsolesNames(t *testing.T) {
	t.Parallel()
	op := sdk.Operation{Type: "p.a"}
	form := func(field string) sdk.DescribeResponse {
		return sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Forms: []sdk.Form{{Name: "f", Title: "F", Operation: "p.a", Fields: []sdk.Argument{{Name: field}}}}}
	}
	action := func(field string) sdk.DescribeResponse {
		return sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{{Name: "l", ListOperation: "p.a"}},
			WorkListViews: []sdk.WorkListView{{List: "l", Actions: []sdk.Action{{Name: "x", Label: "X", Operation: "p.a", Fields: []sdk.Argument{{Name: field}}}}}}}
	}
	edit := func(field, shared string) sdk.DescribeResponse {
		d := sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{{Name: "l", ListOperation: "p.a"}},
			Documents: []sdk.DocumentView{{Name: "d", Title: "D", List: "l", ItemField: "id", Get: "p.a", IDField: "id", Lines: "lines", LineKey: "k",
				Adjust: sdk.DocumentAdjust{Operation: "p.a", Changes: "changes", Kind: "kind", Shared: []sdk.Argument{{Name: shared}}},
				Edits:  []sdk.Edit{{Name: "setQty", Label: "Qty", PerLine: true, Fields: []sdk.Argument{{Name: field}}}}}}}
		return d
	}
	cases := map[string]struct {
		d    sdk.DescribeResponse
		want string // part of the one error; "": accepted
	}{
		"form field":                {d: form("specimen")},
		"form field site":           {d: form("site"), want: `form "f": field "site"`},
		"form field csrf":           {d: form("csrf"), want: `form "f": field "csrf"`},
		"action field":              {d: action("reason")},
		"action field site":         {d: action("site"), want: `work list "l": action "x": field "site"`},
		"action field list":         {d: action("list"), want: `work list "l": action "x": field "list"`},
		"action field row.":         {d: action("row.id"), want: `work list "l": action "x": field "row.id"`},
		"edit field":                {d: edit("qty", "reason")},
		"edit field version":        {d: edit("version", "reason"), want: `document view "d": edit "setQty": field "version"`},
		"edit field line":           {d: edit("line", "reason"), want: `document view "d": edit "setQty": field "line"`},
		"adjust shared field id":    {d: edit("qty", "id"), want: `document view "d": Adjust's shared field "id"`},
		"adjust shared field other": {d: edit("qty", "note")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&tc.d)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("CheckDescription = %v; want it accepted", errs)
			case tc.want == "":
			case len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.Contains(errs[0].Error(), "the console's own"):
				t.Fatalf("CheckDescription = %v; want one error containing %q that says the console uses the name", errs, tc.want)
			}
		})
	}
}

// TestFileResultNamesItsField: a result that carries a file (Display.File)
// names the payload field holding the artifact's id; without it the
// console answers every use "unexpected reply" (field "" does not name a
// file medgate holds) and the command line has nothing to copy with -out,
// while the file is made and never offered. CheckDescription refuses it.
func TestFileResultNamesItsField(t *testing.T) {
	t.Parallel()
	op := sdk.Operation{Type: "p.a"}
	cases := map[string]struct {
		file *sdk.FileResult
		want string // part of each error; "": accepted
	}{
		"named":   {file: &sdk.FileResult{ArtifactField: "artifact"}},
		"no file": {file: nil},
		"unnamed": {file: &sdk.FileResult{}, want: "Result.File names no ArtifactField"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := &sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
				Forms:    []sdk.Form{{Name: "f", Title: "F", Operation: "p.a", Result: sdk.Display{File: tc.file}}},
				Commands: []sdk.Command{{Name: "c", Summary: "C", Operation: "p.a", Result: sdk.Display{File: tc.file}}}}
			errs := CheckDescription(d)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("CheckDescription = %v; want it accepted", errs)
				}
				return
			}
			if len(errs) != 2 || !strings.Contains(errs[0].Error()+errs[1].Error(), `form "f"`) || !strings.Contains(errs[0].Error()+errs[1].Error(), `command "c"`) {
				t.Fatalf("CheckDescription = %v; want one error for the form and one for the command", errs)
			}
			for _, err := range errs {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q lacks %q", err, tc.want)
				}
			}
		})
	}
}
