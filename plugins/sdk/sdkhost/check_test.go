package sdkhost

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestSecretDefaultsAreNeverResolved: a secret reaches a plugin only from
// the site's configuration. A plugin that declares a default reference
// for a secret setting ("env:MEDGATE_ADMIN_TOKEN", "file:" of another
// plugin's key) would otherwise have the host read that secret and hand
// it over in Configure (or to a command). CheckSettings leaves such a
// default unread, and CheckDescription refuses the declaration.
func TestSecretDefaultsAreNeverResolved(t *testing.T) {
	t.Parallel()
	isRef := func(v string) bool { return strings.HasPrefix(v, "env:") || strings.HasPrefix(v, "file:") }
	var asked []string
	resolve := func(ref string) (string, error) {
		asked = append(asked, ref)
		return "the host's secret", nil
	}
	cases := map[string]struct {
		decl     sdk.Setting
		given    map[string]string
		want     string // the value handed to the plugin
		problems int
	}{
		"optional, unset": {
			decl: sdk.Setting{Name: "token", Type: sdk.SettingSecret, Default: "env:MEDGATE_ADMIN_TOKEN"},
			want: "",
		},
		"required, unset": {
			decl:     sdk.Setting{Name: "token", Type: sdk.SettingSecret, Required: true, Default: "file:/etc/medgate/keys/other/private.pem"},
			want:     "",
			problems: 1,
		},
		"set in the configuration": {
			decl:  sdk.Setting{Name: "token", Type: sdk.SettingSecret, Default: "env:MEDGATE_ADMIN_TOKEN"},
			given: map[string]string{"token": "env:ACME_TOKEN"},
			want:  "the host's secret",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			asked = nil
			out, ps := CheckSettings([]sdk.Setting{tc.decl}, tc.given, "/etc/medgate", isRef, resolve)
			if out["token"] != tc.want || len(ps) != tc.problems {
				t.Errorf("CheckSettings = %q, %+v; want %q and %d problems", out["token"], ps, tc.want, tc.problems)
			}
			for _, ref := range asked {
				if ref == tc.decl.Default {
					t.Errorf("the plugin's default %q was resolved", ref)
				}
			}
		})
	}
	errs := CheckDescription(&sdk.DescribeResponse{Name: "p", Settings: []sdk.Setting{{Name: "token", Type: sdk.SettingSecret, Default: "env:MEDGATE_ADMIN_TOKEN"}}})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `setting "token"`) || !strings.Contains(errs[0].Error(), "Default") {
		t.Errorf("CheckDescription = %v; want one error saying the secret setting may have no Default", errs)
	}
}

// TestDeclaredTwiceSaysHowToFix: a name declared twice is refused at
// launch (and by sdktest.Configure) with what is wrong and what to do
// about it, for every kind of declaration a vendor names.
func TestDeclaredTwiceSaysHowToFix(t *testing.T) {
	t.Parallel()
	op := sdk.Operation{Type: "p.a"}
	list := sdk.WorkList{Name: "l", ListOperation: "p.a"}
	doc := sdk.DocumentView{Name: "d", Title: "D", List: "l", ItemField: "id", Get: "p.a", IDField: "id", Lines: "lines", LineKey: "k",
		Adjust: sdk.DocumentAdjust{Operation: "p.a", Changes: "changes", Kind: "kind"}}
	cases := map[string]struct {
		d    sdk.DescribeResponse
		want []string // what is wrong, then how to fix it
	}{
		"operation": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op, op}},
			[]string{`operation "p.a" is declared twice`, "list each operation once"}},
		"job": {sdk.DescribeResponse{Name: "p", Jobs: []sdk.Job{{Name: "j", Interval: time.Minute}, {Name: "j", Interval: time.Hour}}},
			[]string{`job "j" is declared twice`, "give each job its own Name"}},
		"setting": {sdk.DescribeResponse{Name: "p", Settings: []sdk.Setting{{Name: "url"}, {Name: "url"}}},
			[]string{`setting "url" is declared twice`, "declare each setting once"}},
		"command": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Commands: []sdk.Command{{Name: "run", Operation: "p.a"}, {Name: "run", Operation: "p.a"}}},
			[]string{`command "run" is declared twice`, "give each command its own Name"}},
		"form": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Forms: []sdk.Form{{Name: "f", Operation: "p.a"}, {Name: "f", Operation: "p.a"}}},
			[]string{`form "f" is declared twice`, "give each form its own Name"}},
		"work list": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list, list}},
			[]string{`work list "l" is declared twice`, "give each work list its own Name"}},
		"work list view of no list": {sdk.DescribeResponse{Name: "p", WorkListViews: []sdk.WorkListView{{List: "l"}}},
			[]string{`work list view "l": no work list of that name is declared`, "declare it in WorkLists"}},
		"document view": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			Documents: []sdk.DocumentView{doc, doc}},
			[]string{`document view "d" is declared twice`, "give each document view its own Name"}},
		"edit": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			Documents: []sdk.DocumentView{func() sdk.DocumentView { d := doc; d.Edits = []sdk.Edit{{Name: "e"}, {Name: "e"}}; return d }()}},
			[]string{`edit "e" is unnamed or declared twice`, "give every edit its own Name"}},
		"command argument": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Commands: []sdk.Command{{Name: "run", Operation: "p.a", Arguments: []sdk.Argument{{Name: "n"}, {Name: "n"}}}}},
			[]string{`argument "n" is declared twice`, "rename it"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&tc.d)
			if len(errs) != 1 {
				t.Fatalf("CheckDescription = %v; want one problem", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0].Error(), w) {
					t.Errorf("error %q does not say %q", errs[0], w)
				}
			}
		})
	}
}

// TestArgumentTypesAreChecked: an input of a command, form, row action or
// document edit whose Type the host does not know was taken as text: a
// misspelt sdk.ArgumentFile sent the operator's path instead of the file,
// a misspelt int a string the plugin's payload check refused at every use.
// The host refuses the declaration at launch, as it does a setting's, and
// says which types there are.
func TestArgumentTypesAreChecked(t *testing.T) {
	t.Parallel()
	op := sdk.Operation{Type: "p.a"}
	list := sdk.WorkList{Name: "l", ListOperation: "p.a"}
	doc := func(e sdk.Edit, shared ...sdk.Argument) sdk.DocumentView {
		return sdk.DocumentView{Name: "d", Title: "D", List: "l", ItemField: "id", Get: "p.a", IDField: "id", Lines: "lines", LineKey: "k",
			Adjust: sdk.DocumentAdjust{Operation: "p.a", Changes: "changes", Kind: "kind", Shared: shared}, Edits: []sdk.Edit{e}}
	}
	cases := map[string]struct {
		d    sdk.DescribeResponse
		want string // "": accepted
	}{
		"command argument": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Commands: []sdk.Command{{Name: "run", Operation: "p.a", Arguments: []sdk.Argument{{Name: "list", Type: "flie"}}}}},
			`command "run": argument "list": type "flie" is not one of`},
		"command argument of a number": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Commands: []sdk.Command{{Name: "run", Operation: "p.a", Arguments: []sdk.Argument{{Name: "qty", Type: sdk.ArgumentNumber}}}}},
			`command "run": argument "qty": type "number" is not one of`},
		"form field": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Forms: []sdk.Form{{Name: "f", Operation: "p.a", Fields: []sdk.Argument{{Name: "n", Type: "integer"}}}}},
			`form "f": field "n": type "integer" is not one of`},
		"row action field": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			WorkListViews: []sdk.WorkListView{{List: "l", Actions: []sdk.Action{{Name: "x", Operation: "p.a", Fields: []sdk.Argument{{Name: "why", Type: "text"}}}}}}},
			`work list "l": action "x": field "why": type "text" is not one of`},
		"edit field": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			Documents: []sdk.DocumentView{doc(sdk.Edit{Name: "e", Fields: []sdk.Argument{{Name: "qty", Type: "nummber"}}})}},
			`document view "d": edit "e": field "qty": type "nummber" is not one of`},
		"shared field of the edits": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			Documents: []sdk.DocumentView{doc(sdk.Edit{Name: "e"}, sdk.Argument{Name: "reason", Type: "strng"})}},
			`document view "d": Adjust's shared field "reason": type "strng" is not one of`},
		"every known type": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			Commands:  []sdk.Command{{Name: "run", Operation: "p.a", Arguments: []sdk.Argument{{Name: "a"}, {Name: "b", Type: sdk.SettingInt}, {Name: "c", Type: sdk.ArgumentFile}, {Name: "d", Type: sdk.ArgumentList}, {Name: "e", Type: sdk.SettingDuration}}}},
			Forms:     []sdk.Form{{Name: "f", Operation: "p.a", Fields: []sdk.Argument{{Name: "n", Type: sdk.ArgumentNumber}, {Name: "u", Type: sdk.ArgumentFile}, {Name: "b", Type: sdk.SettingBool}}}},
			Documents: []sdk.DocumentView{doc(sdk.Edit{Name: "e", Fields: []sdk.Argument{{Name: "qty", Type: sdk.ArgumentNumber}, {Name: "codes", Type: sdk.ArgumentList}}})}},
			""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&tc.d)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("CheckDescription = %v; want none", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.Contains(errs[0].Error(), "sdk.") {
				t.Fatalf("CheckDescription = %v; want one problem saying %q and naming the sdk constants to use", errs, tc.want)
			}
		})
	}
}

// TestDocumentViewProblemsSayHowToFix: a document page that cannot work
// is refused saying what is wrong and how to fix it.
func TestDocumentViewProblemsSayHowToFix(t *testing.T) {
	t.Parallel()
	op := sdk.Operation{Type: "p.a"}
	view := sdk.DocumentView{Name: "d", Title: "D", List: "l", ItemField: "id", Get: "p.a", IDField: "id", Lines: "lines", LineKey: "k",
		Adjust: sdk.DocumentAdjust{Operation: "p.a", Changes: "changes", Kind: "kind"}}
	picks := view
	picks.Edits = []sdk.Edit{{Name: "remove", Pick: "codes"}}
	cases := map[string]struct {
		d    sdk.DescribeResponse
		want []string // what is wrong, then how to fix it
	}{
		"a work list not declared": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, Documents: []sdk.DocumentView{view}},
			[]string{`document view "d": work list "l" is not declared`, "declare it in WorkLists"}},
		"picks without line items": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{{Name: "l", ListOperation: "p.a"}}, Documents: []sdk.DocumentView{picks}},
			[]string{`edit "remove" picks line items, but LineItems is not declared`, "declare LineItems"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&tc.d)
			if len(errs) != 1 {
				t.Fatalf("CheckDescription = %v; want one problem", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0].Error(), w) {
					t.Errorf("error %q does not say %q", errs[0], w)
				}
			}
		})
	}
}

// TestColumnCodesAreChecked: a code declared with an empty meaning would
// show as " (code)", and codes on a Personal column would tell the
// operator the value the console masks. The host refuses either at
// launch, wherever the column is declared, naming it and the code.
func TestColumnCodesAreChecked(t *testing.T) {
	t.Parallel()
	op := sdk.Operation{Type: "p.a"}
	list := sdk.WorkList{Name: "l", ListOperation: "p.a"}
	good := map[string]string{"expired": "二维码已过期 expired"}
	doc := func(header ...sdk.Column) sdk.DocumentView {
		return sdk.DocumentView{Name: "d", Title: "D", List: "l", ItemField: "id", Get: "p.a", IDField: "id", Lines: "lines", LineKey: "k", Header: header}
	}
	cases := map[string]struct {
		d    sdk.DescribeResponse
		want string // "": accepted
	}{
		"form result, empty meaning": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Forms: []sdk.Form{{Name: "scan", Operation: "p.a", Result: sdk.Display{Fields: []sdk.Column{{Field: "result", Codes: map[string]string{"expired": "二维码已过期", "tampered": ""}}}}}}},
			`form "scan" result: column "result": code "tampered" has an empty meaning`},
		"work list column, blank meaning": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			WorkListViews: []sdk.WorkListView{{List: "l", Columns: []sdk.Column{{Field: "status", Codes: map[string]string{"open": "  "}}}}}},
			`work list "l": column "status": code "open" has an empty meaning`},
		"command result table": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Commands: []sdk.Command{{Name: "run", Operation: "p.a", Result: sdk.Display{Rows: "rows", Columns: []sdk.Column{{Field: "s", Codes: map[string]string{"x": ""}}}}}}},
			`command "run" result: column "s": code "x" has an empty meaning`},
		"document header": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			Documents: []sdk.DocumentView{doc(sdk.Column{Field: "status", Codes: map[string]string{"open": ""}})}},
			`document view "d" header: column "status": code "open" has an empty meaning`},
		"personal column": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Forms: []sdk.Form{{Name: "scan", Operation: "p.a", Result: sdk.Display{Fields: []sdk.Column{{Field: "name", Personal: true, Codes: good}}}}}},
			`form "scan" result: column "name" is Personal and declares Codes`},
		"meanings given": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op}, WorkLists: []sdk.WorkList{list},
			Forms:         []sdk.Form{{Name: "scan", Operation: "p.a", Result: sdk.Display{Fields: []sdk.Column{{Field: "result", Codes: good}}}}},
			WorkListViews: []sdk.WorkListView{{List: "l", Columns: []sdk.Column{{Field: "status", Codes: good}}}},
			Documents:     []sdk.DocumentView{doc(sdk.Column{Field: "status", Codes: good})}},
			""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&tc.d)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("CheckDescription = %v; want none", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("CheckDescription = %v; want one problem saying %q", errs, tc.want)
			}
		})
	}
}

// TestPersonalColumnOpensNoForm: a work list cell that opens a form puts
// its value in the link's URL, so a Personal column may not: the launch
// check refuses it, naming the column and what to do; a column that is
// not personal may open the same form.
func TestPersonalColumnOpensNoForm(t *testing.T) {
	t.Parallel()
	describe := func(cols ...sdk.Column) *sdk.DescribeResponse {
		return &sdk.DescribeResponse{Name: "p",
			Operations:    []sdk.Operation{{Type: "p.list"}, {Type: "p.print"}},
			WorkLists:     []sdk.WorkList{{Name: "cards", Title: "cards", ListOperation: "p.list"}},
			WorkListViews: []sdk.WorkListView{{List: "cards", Columns: cols}},
			Forms: []sdk.Form{{Name: "print", Title: "print", Operation: "p.print",
				Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString}, {Name: "name", Type: sdk.SettingString}}}},
		}
	}
	errs := CheckDescription(describe(sdk.Column{Field: "cardNo", Title: "card", Form: "print"}, sdk.Column{Field: "name", Title: "name", Personal: true}))
	if len(errs) > 0 {
		t.Fatalf("a form opened from a column that is not personal: CheckDescription = %v; want none", errs)
	}
	errs = CheckDescription(describe(sdk.Column{Field: "name", Title: "name", Personal: true, Form: "print"}))
	if len(errs) != 1 {
		t.Fatalf("a Personal column that opens a form: CheckDescription = %v; want one error", errs)
	}
	for _, want := range []string{`work list "cards": column "name" is Personal and opens form "print"`, "URL", "not personal"} {
		if !strings.Contains(errs[0].Error(), want) {
			t.Errorf("error %q does not say %q", errs[0], want)
		}
	}
}

// TestArgumentDefaultsAreChecked: an input's Default is checked against
// its own declaration as a setting's value is (Enum, type), for every
// kind of input: a command argument, a form field, a row action's field.
func TestArgumentDefaultsAreChecked(t *testing.T) {
	t.Parallel()
	op := sdk.Operation{Type: "p.a"}
	command := func(a sdk.Argument) *sdk.DescribeResponse {
		return &sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Commands: []sdk.Command{{Name: "run", Operation: "p.a", Arguments: []sdk.Argument{a}}}}
	}
	tests := map[string]struct {
		d    *sdk.DescribeResponse
		want string // "": accepted
	}{
		"outside its enum": {command(sdk.Argument{Name: "state", Default: "open", Enum: []string{"draft", "confirmed"}}),
			`argument "state": its Default "open" is not allowed; use one of: draft, confirmed`},
		"list item outside its enum": {command(sdk.Argument{Name: "sheets", Type: sdk.ArgumentList, Default: "stock, codes", Enum: []string{"stock", "trace"}}),
			`argument "sheets": its Default lists "codes", which is not allowed (one of: stock, trace)`},
		"not a whole number": {command(sdk.Argument{Name: "days", Type: sdk.SettingInt, Default: "7d"}),
			`argument "days": its Default "7d" is not a whole number`},
		"not a duration": {command(sdk.Argument{Name: "within", Type: sdk.SettingDuration, Default: "3 days"}),
			`argument "within": its Default "3 days" is not a duration`},
		"not true or false": {command(sdk.Argument{Name: "all", Type: sdk.SettingBool, Default: "yes"}),
			`argument "all": its Default "yes" is not true or false`},
		"form field not a number": {&sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{op},
			Forms: []sdk.Form{{Name: "f", Title: "f", Operation: "p.a", Fields: []sdk.Argument{{Name: "qty", Type: sdk.ArgumentNumber, Default: "one"}}}}},
			`field "qty": its Default "one" is not a number`},
		"good defaults": {command(sdk.Argument{Name: "sheets", Type: sdk.ArgumentList, Default: "stock,trace", Enum: []string{"stock", "trace"}}), ""},
		"good int":      {command(sdk.Argument{Name: "days", Type: sdk.SettingInt, Default: "7"}), ""},
		"no default":    {command(sdk.Argument{Name: "state", Enum: []string{"draft"}}), ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(tc.d)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("CheckDescription = %v; want none", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.Contains(errs[0].Error(), "correct the Default") {
				t.Fatalf("CheckDescription = %v; want one error saying %q and what to do", errs, tc.want)
			}
		})
	}
}

// TestSettingDefaultsAreChecked: a setting's Default is checked against its
// own declaration (Type, Enum) at launch. It used to be accepted, and every
// site that left the setting unset was then refused for a value it never
// wrote ("7d" is not a duration), which the hospital could not correct.
func TestSettingDefaultsAreChecked(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		s    sdk.Setting
		want string // "": accepted
	}{
		"duration in days":   {sdk.Setting{Name: "keep", Type: sdk.SettingDuration, Default: "7d"}, `setting "keep": its Default is refused by its own declaration: "7d" is not a duration`},
		"outside its enum":   {sdk.Setting{Name: "mode", Default: "fast", Enum: []string{"test", "live"}}, `setting "mode": its Default is refused by its own declaration: "fast" is not allowed; use one of: test, live`},
		"not a whole number": {sdk.Setting{Name: "retries", Type: sdk.SettingInt, Default: "three"}, `"three" is not a whole number`},
		"not true or false":  {sdk.Setting{Name: "on", Type: sdk.SettingBool, Default: "yes"}, `"yes" is not true or false`},
		"url without scheme": {sdk.Setting{Name: "endpoint", Type: sdk.SettingURL, Default: "lab.example/api"}, `"lab.example/api" is not an http(s) URL`},
		"good duration":      {sdk.Setting{Name: "keep", Type: sdk.SettingDuration, Default: "168h"}, ""},
		"good enum":          {sdk.Setting{Name: "mode", Default: "test", Enum: []string{"test", "live"}}, ""},
		"good path":          {sdk.Setting{Name: "dir", Type: sdk.SettingPath, Default: "exports"}, ""},
		"no default":         {sdk.Setting{Name: "mode", Enum: []string{"test"}}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&sdk.DescribeResponse{Name: "p", Settings: []sdk.Setting{tc.s}})
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("CheckDescription = %v; want none", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.Contains(errs[0].Error(), "correct the Default") {
				t.Fatalf("CheckDescription = %v; want one error saying %q and what to do", errs, tc.want)
			}
		})
	}
}

// TestFormNamesAreChecked: a form's Name is what sdk.Form documents, one
// lowercase word with dashes, as command and document view names are; it
// used to be taken as it came, and a form without a Name launched with a
// navigation entry linking to /console/form/<plugin>/, a page that does not
// exist.
func TestFormNamesAreChecked(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{"": false, "Lookup": false, "order lookup": false, "a/b": false, "1st": false,
		"lookup": true, "order-lookup": true, "desk2": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{{Type: "p.a"}},
				Forms: []sdk.Form{{Name: name, Title: "t", Operation: "p.a"}}})
			if want {
				if len(errs) > 0 {
					t.Fatalf("form %q: CheckDescription = %v; want none", name, errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), fmt.Sprintf("form %q: the name must be lowercase letters", name)) || !strings.Contains(errs[0].Error(), "rename it") {
				t.Fatalf("form %q: CheckDescription = %v; want one error naming the form, the rule and the fix", name, errs)
			}
		})
	}
}

// TestWorkListsNameTheirListOperation: a work list the console can read
// names the operation that answers its items. One without a ListOperation
// used to launch (check-config said OK), and its console page said only
// that the plugin declares an operation of another plugin, "".
func TestWorkListsNameTheirListOperation(t *testing.T) {
	t.Parallel()
	d := func(list string) *sdk.DescribeResponse {
		return &sdk.DescribeResponse{Name: "lab", Operations: []sdk.Operation{{Type: "lab.pending", Query: true}},
			WorkLists: []sdk.WorkList{{Name: "pending", Title: "Pending", ListOperation: list}}}
	}
	if errs := CheckDescription(d("lab.pending")); len(errs) > 0 {
		t.Fatalf("a work list with its ListOperation: %v", errs)
	}
	errs := CheckDescription(d(""))
	if len(errs) != 1 {
		t.Fatalf("a work list without ListOperation: %v; want one problem", errs)
	}
	for _, w := range []string{`work list "pending" has no ListOperation`, `{"items": [...]}`, "name it in ListOperation"} {
		if !strings.Contains(errs[0].Error(), w) {
			t.Errorf("problem %q lacks %q", errs[0], w)
		}
	}
}

// TestRowActionsAndViewsAreDeclaredOnce: the console finds a work list's
// view and the row action a button sends by name. Two actions of one name
// (copied, then given another label and operation) used to launch, and the
// button of the first sent the operation of the second; two views of one
// list showed one and sent the other's actions. Each is refused now, as is
// a row action without a name.
func TestRowActionsAndViewsAreDeclaredOnce(t *testing.T) {
	t.Parallel()
	ops := []sdk.Operation{{Type: "lab.pending", Query: true}, {Type: "lab.resend"}, {Type: "lab.cancel"}}
	resend := sdk.Action{Name: "resend", Label: "Resend", Operation: "lab.resend"}
	cancel := sdk.Action{Name: "cancel", Label: "Cancel", Operation: "lab.cancel"}
	copied := sdk.Action{Name: "resend", Label: "Cancel", Operation: "lab.cancel"}
	unnamed := sdk.Action{Label: "Cancel", Operation: "lab.cancel"}
	cases := map[string]struct {
		views []sdk.WorkListView
		want  string // "": accepted
	}{
		"actions of their own names": {[]sdk.WorkListView{{List: "pending", Actions: []sdk.Action{resend, cancel}}}, ""},
		"an action name twice":       {[]sdk.WorkListView{{List: "pending", Actions: []sdk.Action{resend, copied}}}, `work list "pending": action "resend" is declared twice`},
		"an action without a name":   {[]sdk.WorkListView{{List: "pending", Actions: []sdk.Action{resend, unnamed}}}, `work list "pending": a row action (label "Cancel") has no Name`},
		"a list's view twice": {[]sdk.WorkListView{{List: "pending", Actions: []sdk.Action{resend}}, {List: "pending", Actions: []sdk.Action{cancel}}},
			`work list view "pending" is declared twice`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&sdk.DescribeResponse{Name: "lab", Operations: ops,
				WorkLists: []sdk.WorkList{{Name: "pending", Title: "Pending", ListOperation: "lab.pending"}}, WorkListViews: tc.views})
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("CheckDescription = %v; want none", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("CheckDescription = %v; want one problem saying %q", errs, tc.want)
			}
		})
	}
}

// TestNamesAreNotEmpty: an operation with nothing after "<plugin>.", a
// setting and a work list without a name used to launch: every site was
// then refused for a setting it could not name (": is required"), and the
// message type "lab." was offered to the platform. Each is refused, saying
// what the name is for.
func TestNamesAreNotEmpty(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		d    sdk.DescribeResponse
		want string
	}{
		"operation":           {sdk.DescribeResponse{Name: "lab", Operations: []sdk.Operation{{Type: "lab."}}}, `operation "lab." names no operation after "lab."`},
		"operation of spaces": {sdk.DescribeResponse{Name: "lab", Operations: []sdk.Operation{{Type: "lab. "}}}, `operation "lab. " names no operation`},
		"setting":             {sdk.DescribeResponse{Name: "lab", Settings: []sdk.Setting{{Type: sdk.SettingSecret, Required: true, Description: "API key"}}}, `a setting (type "secret", "API key") has no Name`},
		"work list": {sdk.DescribeResponse{Name: "lab", Operations: []sdk.Operation{{Type: "lab.pending"}}, WorkLists: []sdk.WorkList{{Title: "Pending", ListOperation: "lab.pending"}}},
			`a work list (title "Pending") has no Name`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDescription(&tc.d)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("CheckDescription = %v; want one problem saying %q", errs, tc.want)
			}
		})
	}
}
