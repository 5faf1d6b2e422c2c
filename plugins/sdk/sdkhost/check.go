package sdkhost

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// The host's checks of what a plugin declares and of a site's settings,
// here so that sdktest applies the same rules in a vendor's tests.

// settingTypes are the setting types the host checks.
var settingTypes = []string{sdk.SettingString, sdk.SettingInt, sdk.SettingBool, sdk.SettingDuration, sdk.SettingURL, sdk.SettingSecret, sdk.SettingPath}

// MinJobInterval is the shortest Interval a plugin may declare for a job:
// every run takes a lease in the store and calls the plugin once per
// site, which more often than this would be load, not work.
const MinJobInterval = time.Second

// pluginNameRE is what medgate's configuration takes as a plugin's name
// (plugins[].name), which must equal the plugin's DescribeResponse.Name.
var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// ValidPluginName reports whether name may name a plugin: lowercase
// letters, digits, '-' and '_', starting with a letter, at most 32
// characters. medgate's configuration accepts no other plugins[].name, and
// a plugin runs only under the name its Describe answers.
func ValidPluginName(name string) bool { return pluginNameRE.MatchString(name) }

// formNameRE is what sdk.Form.Name documents: one word, lowercase, with
// dashes (the rule of command and document view names).
var formNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// jobNameRE is what a job's name may be: it is the last part of the job's
// id PLUGIN/SITE/JOB, which `medgate job run`, the admin API's path
// /admin/jobs/{plugin}/{site}/{job}/run and the console carry as written.
var jobNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// nameProblem reports a Name medgate cannot run the plugin under.
func nameProblem(name string) error {
	const rule = "a plugin name is lowercase letters, digits, '-' and '_', starting with a letter, at most 32 characters, " +
		"and medgate.yaml's plugins[].name must equal it"
	if name == "" {
		return fmt.Errorf("DescribeResponse.Name is empty: give the plugin its name (%s; message types are \"<name>.<operation>\")", rule)
	}
	return fmt.Errorf("plugin name %q is not one medgate runs: %s; rename it (and the \"<name>.\" of its operations)", name, rule)
}

// CheckDescription returns what is wrong with a plugin's declarations,
// every problem (none: the host launches it): a Name medgate's
// configuration cannot give (ValidPluginName), operations outside its name
// or declared both query and upload, operations whose Schema names no
// schema document the plugin declares (DescribeResponse.Schemas), names
// declared twice, settings of a type the host does not know (an empty type
// is a string), inputs of commands, forms, row actions and edits of a type
// the SDK does not define or named as an input the console posts itself
// (consoleNames), results whose File names no field (fileField), jobs
// whose name a job id cannot carry, jobs without an interval of at least MinJobInterval or
// with a MaxRun under it, secret settings with a Default, work lists
// served by no declared operation, and commands and views that cannot
// work, among them forms, row actions, remote commands and document pages
// that send an operation the plugin does not declare, roles the host does
// not know or that differ between the entry points of one operation
// (roles), and columns whose
// Codes give an empty meaning or mask nothing (columnCodes). These are the rules
// for a plugin of the latest protocol (see CheckDescriptionAt).
func CheckDescription(d *sdk.DescribeResponse) []error {
	return CheckDescriptionAt(d, ProtocolLatest)
}

// CheckDescriptionAt is CheckDescription for a plugin speaking protocol
// version protocol (Client.Version): a version-1 plugin cannot declare
// schema documents, so its operations' Schema names are not checked
// against them (they are shown as given).
func CheckDescriptionAt(d *sdk.DescribeResponse, protocol int) []error {
	var errs []error
	if !ValidPluginName(d.Name) {
		errs = append(errs, nameProblem(d.Name))
	}
	ops := map[string]bool{}
	for _, op := range d.Operations {
		if op.Schema != "" && protocol >= ProtocolV2 {
			errs = append(errs, undeclaredSchema(d, op)...)
		}
		if ops[op.Type] {
			errs = append(errs, fmt.Errorf("operation %q is declared twice; list each operation once in Operations (register it once with sdk.Mux): the host routes a message type to one handler", op.Type))
		}
		ops[op.Type] = true
		// Without a name, every operation would be told to start with "."
		// after the one error that says so.
		switch {
		case d.Name != "" && !strings.HasPrefix(op.Type, d.Name+"."):
			errs = append(errs, fmt.Errorf("operation %q must start with %q", op.Type, d.Name+"."))
		case d.Name != "" && strings.TrimSpace(op.Type[len(d.Name)+1:]) == "":
			errs = append(errs, fmt.Errorf("operation %q names no operation after %q: messages name it as their type, %q; give it a name", op.Type, d.Name+".", d.Name+".<operation>"))
		}
		if op.Query && op.Upload {
			errs = append(errs, fmt.Errorf("operation %q is declared both Query and Upload: an upload has an external effect, so it is no query; drop Query", op.Type))
		}
	}
	jobs := map[string]bool{}
	for _, j := range d.Jobs {
		if jobs[j.Name] {
			errs = append(errs, fmt.Errorf("job %q is declared twice; give each job its own Name (the host schedules and runs jobs by name: medgate job run PLUGIN/SITE/JOB) or remove the copy", j.Name))
		}
		jobs[j.Name] = true
		switch {
		case j.Name == "":
			errs = append(errs, fmt.Errorf("a job has no Name: give it one of letters, digits, '.', '-' and '_' (it is run by hand as medgate job run PLUGIN/SITE/JOB)"))
		case !jobNameRE.MatchString(j.Name):
			errs = append(errs, fmt.Errorf("job %q: the name must be letters, digits, '.', '-' and '_', starting with a letter or digit: "+
				"it is the last part of the job's id PLUGIN/SITE/JOB, which medgate job run and the admin API's path /admin/jobs/{plugin}/{site}/{job}/run could not carry; rename it", j.Name))
		}
		switch {
		case j.Interval <= 0:
			// The scheduler leaves such a job out: it would never run,
			// not even by `medgate job run`.
			errs = append(errs, fmt.Errorf("job %q has no Interval (at least %s): a job without one never runs; give it how often it runs", j.Name, MinJobInterval))
		case j.Interval < MinJobInterval:
			errs = append(errs, fmt.Errorf("plugin %q: job %q: Interval %s is below the minimum of %s (sdkhost.MinJobInterval): "+
				"each run of a job takes a lease in the store and calls the plugin for every site, so runs that often would keep the store and the plugin busy with nothing else; "+
				"declare an Interval of at least %s (a job that must react at once belongs in Handle, driven by messages)", d.Name, j.Name, j.Interval, MinJobInterval, MinJobInterval))
		}
		// MaxRun may be shorter than Interval: the scheduler never runs
		// a job twice at once whatever its bound, and a bound under the
		// interval is the useful case (a hang found before the next run
		// is due). Under MinJobInterval it would cancel every run before
		// a plugin call with its store round trips could finish, each
		// cancellation an ALERT.
		switch {
		case j.MaxRun < 0:
			errs = append(errs, fmt.Errorf("plugin %q: job %q: MaxRun is negative or longer than a time.Duration holds: leave it 0 for the default (three Intervals) or give the longest a run may last", d.Name, j.Name))
		case j.MaxRun > 0 && j.MaxRun < MinJobInterval:
			errs = append(errs, fmt.Errorf("plugin %q: job %q: MaxRun %s is below the minimum of %s (sdkhost.MinJobInterval): every run would be cancelled before it could finish, each with an ALERT; "+
				"give the longest a run may last, at least %s, or 0 for the default (three Intervals)", d.Name, j.Name, j.MaxRun, MinJobInterval, MinJobInterval))
		}
	}
	settings := map[string]bool{}
	for _, st := range d.Settings {
		if settings[st.Name] {
			errs = append(errs, fmt.Errorf("setting %q is declared twice; declare each setting once (a site gives one value per name)", st.Name))
		}
		settings[st.Name] = true
		if strings.TrimSpace(st.Name) == "" {
			errs = append(errs, fmt.Errorf("a setting (type %q, %q) has no Name: a site gives a setting's value under its name (sites[].plugins.<plugin>.settings.<name>); give it one", st.Type, st.Description))
		}
		// A type the host does not know is checked as nothing: a
		// misspelled secret would be taken in clear and never resolved.
		if st.Type != "" && !slices.Contains(settingTypes, st.Type) {
			errs = append(errs, fmt.Errorf("setting %q: type %q is not one of %s; use an sdk.Setting* constant", st.Name, st.Type, strings.Join(settingTypes, ", ")))
		}
		// A default reference would have the host read a secret the
		// site never gave the plugin (its tokens, another plugin's key).
		if st.Type == sdk.SettingSecret && st.Default != "" {
			errs = append(errs, fmt.Errorf("setting %q: a secret may have no Default: the host reads secrets only from the references the site's configuration writes; remove the Default and show the reference as Example", st.Name))
		}
		// A Default its own declaration refuses would refuse every site
		// that leaves the setting unset, with a value the site never wrote.
		if st.Type != sdk.SettingSecret && st.Default != "" {
			if msg := checkValue(st, st.Default, nil); msg != "" {
				errs = append(errs, fmt.Errorf("setting %q: its Default is refused by its own declaration: %s; every site that leaves the setting unset would be refused for a value it never wrote: correct the Default to one its Type and Enum accept", st.Name, msg))
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range d.Commands {
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("command %q is declared twice; give each command its own Name (medgate <plugin> <command> runs one) or remove the copy", c.Name))
		}
		seen[c.Name] = true
		errs = append(errs, argumentTypes(fmt.Sprintf("command %q: argument", c.Name), c.Arguments, false)...)
		errs = append(errs, fileField(fmt.Sprintf("command %q", c.Name), c.Result)...)
		if cerrs := c.Check(d.Name); len(cerrs) > 0 {
			errs = append(errs, cerrs...)
		} else if !c.Local {
			errs = append(errs, undeclared(ops, fmt.Sprintf("command %q: operation", c.Name), c.Operation)...)
		}
	}
	forms := map[string]bool{}
	for _, f := range d.Forms {
		if forms[f.Name] {
			errs = append(errs, fmt.Errorf("form %q is declared twice; give each form its own Name (its page is /console/form/<plugin>/<name>) or remove the copy", f.Name))
		}
		forms[f.Name] = true
		if !formNameRE.MatchString(f.Name) {
			errs = append(errs, fmt.Errorf("form %q: the name must be lowercase letters, digits and dashes, starting with a letter, at most 40 characters: "+
				"it is the last part of the form's page, /console/form/<plugin>/<name>, which the navigation bar and work-list cells link to; rename it (and the Form of the columns that open it)", f.Name))
		}
		errs = append(errs, argumentTypes(fmt.Sprintf("form %q: field", f.Name), f.Fields, true)...)
		errs = append(errs, consoleNames(fmt.Sprintf("form %q: field", f.Name), f.Fields, formInputs)...)
		errs = append(errs, fileField(fmt.Sprintf("form %q", f.Name), f.Result)...)
		if !strings.HasPrefix(f.Operation, d.Name+".") {
			errs = append(errs, fmt.Errorf("form %q: operation %q must start with %q", f.Name, f.Operation, d.Name+"."))
		} else {
			errs = append(errs, undeclared(ops, fmt.Sprintf("form %q: operation", f.Name), f.Operation)...)
		}
	}
	lists := map[string]bool{}
	for _, wl := range d.WorkLists {
		if lists[wl.Name] {
			errs = append(errs, fmt.Errorf("work list %q is declared twice; give each work list its own Name (views and document pages name it) or remove the copy", wl.Name))
		}
		lists[wl.Name] = true
		if strings.TrimSpace(wl.Name) == "" {
			errs = append(errs, fmt.Errorf("a work list (title %q) has no Name: its view, its document pages and its page's filter name it; give it one", wl.Title))
		}
		if wl.ListOperation == "" {
			errs = append(errs, fmt.Errorf("work list %q has no ListOperation: the console reads the list's items by sending that operation, so the page could only show an error; "+
				"register the operation that answers {\"items\": [...]} (sdk.Mux, declared Query) and name it in ListOperation", wl.Name))
		}
		if wl.ListOperation != "" && !ops[wl.ListOperation] {
			errs = append(errs, fmt.Errorf("work list %q: its ListOperation %q is not among the operations; register it (sdk.Mux) or fix the name", wl.Name, wl.ListOperation))
		}
	}
	views := map[string]bool{}
	for _, v := range d.WorkListViews {
		// The console finds the view of a list, and the row action a
		// button sends, by name: of two, one would show or send the
		// other's columns and operation.
		if views[v.List] {
			errs = append(errs, fmt.Errorf("work list view %q is declared twice; declare one WorkListView per work list, with all its columns and actions (the console would show only one and send the other's actions)", v.List))
		}
		views[v.List] = true
		actions := map[string]bool{}
		for _, a := range v.Actions {
			switch {
			case a.Name == "":
				errs = append(errs, fmt.Errorf("work list %q: a row action (label %q) has no Name; give each row action a Name of its own: the console finds the action a button sends by its name", v.List, a.Label))
			case actions[a.Name]:
				errs = append(errs, fmt.Errorf("work list %q: action %q is declared twice; give each row action its own Name: the console finds the action a button sends by its name, so both buttons would send the operation of one of them", v.List, a.Name))
			}
			actions[a.Name] = true
		}
		if !lists[v.List] {
			errs = append(errs, fmt.Errorf("work list view %q: no work list of that name is declared; declare it in WorkLists or set List to the Name of a declared work list", v.List))
		}
		for _, c := range v.Columns {
			if c.Form != "" && !forms[c.Form] {
				errs = append(errs, fmt.Errorf("work list %q: column %q opens form %q, which is not declared", v.List, c.Field, c.Form))
			}
			if c.Form != "" && c.Personal {
				errs = append(errs, fmt.Errorf("work list %q: column %q is Personal and opens form %q: the cell's link would carry the value unmasked in its URL (browser history, proxy and access logs, Referer); open the form from a column that is not personal (a card or document number, as the e-card plugin's cardNo) or drop Form", v.List, c.Field, c.Form))
			}
		}
		for _, a := range v.Actions {
			errs = append(errs, argumentTypes(fmt.Sprintf("work list %q: action %q: field", v.List, a.Name), a.Fields, true)...)
			errs = append(errs, consoleNames(fmt.Sprintf("work list %q: action %q: field", v.List, a.Name), a.Fields, actionInputs)...)
			if !strings.HasPrefix(a.Operation, d.Name+".") {
				errs = append(errs, fmt.Errorf("work list %q: action %q: operation %q must start with %q", v.List, a.Name, a.Operation, d.Name+"."))
			} else {
				errs = append(errs, undeclared(ops, fmt.Sprintf("work list %q: action %q: operation", v.List, a.Name), a.Operation)...)
			}
		}
	}
	docs := map[string]bool{}
	for _, v := range d.Documents {
		if docs[v.Name] {
			errs = append(errs, fmt.Errorf("document view %q is declared twice; give each document view its own Name (its page is /console/document/<plugin>/<name>) or remove the copy", v.Name))
		}
		docs[v.Name] = true
		errs = append(errs, argumentTypes(fmt.Sprintf("document view %q: Adjust's shared field", v.Name), v.Adjust.Shared, true)...)
		errs = append(errs, consoleNames(fmt.Sprintf("document view %q: Adjust's shared field", v.Name), v.Adjust.Shared, documentInputs)...)
		for _, e := range v.Edits {
			errs = append(errs, argumentTypes(fmt.Sprintf("document view %q: edit %q: field", v.Name, e.Name), e.Fields, true)...)
			errs = append(errs, consoleNames(fmt.Sprintf("document view %q: edit %q: field", v.Name, e.Name), e.Fields, documentInputs)...)
		}
		if verrs := v.Check(d.Name, lists); len(verrs) > 0 {
			errs = append(errs, verrs...)
			continue
		}
		what := fmt.Sprintf("document view %q:", v.Name)
		errs = append(errs, undeclared(ops, what+" Get operation", v.Get)...)
		if len(v.Edits) > 0 {
			errs = append(errs, undeclared(ops, what+" Adjust operation", v.Adjust.Operation)...)
		}
		if v.Confirm != nil {
			errs = append(errs, undeclared(ops, what+" Confirm operation", v.Confirm.Operation)...)
		}
	}
	errs = append(errs, roles(d)...)
	errs = append(errs, columnCodes(d)...)
	return errs
}

// roles reports each form and row action of d whose Role the host does
// not know (commands check theirs, sdk.Command.Check), and each operation
// that entry points requiring different roles send: the lower role would
// be a way around the higher one.
func roles(d *sdk.DescribeResponse) []error {
	var errs []error
	type entry struct{ what, role string }
	var order []string
	byOp := map[string][]entry{}
	add := func(op, what, role string) {
		if !sdk.KnownRole(role) {
			return // reported on its own
		}
		if _, ok := byOp[op]; !ok {
			order = append(order, op)
		}
		byOp[op] = append(byOp[op], entry{what, sdk.RoleOf(role)})
	}
	known := func(what, role string) {
		if !sdk.KnownRole(role) {
			errs = append(errs, fmt.Errorf("%s: role %q is not one of %s, %s; leave it empty for %s", what, role, sdk.RoleOperator, sdk.RoleAdmin, sdk.RoleOperator))
		}
	}
	for _, f := range d.Forms {
		what := fmt.Sprintf("form %q", f.Name)
		known(what, f.Role)
		add(f.Operation, what, f.Role)
	}
	for _, v := range d.WorkListViews {
		for _, a := range v.Actions {
			what := fmt.Sprintf("work list %q: action %q", v.List, a.Name)
			known(what, a.Role)
			add(a.Operation, what, a.Role)
		}
	}
	for _, c := range d.Commands {
		if !c.Local {
			add(c.Operation, fmt.Sprintf("command %q", c.Name), c.Role)
		}
	}
	for _, op := range order {
		es := byOp[op]
		differ := false
		for _, e := range es[1:] {
			differ = differ || e.role != es[0].role
		}
		if !differ {
			continue
		}
		parts := make([]string, len(es))
		for i, e := range es {
			parts[i] = e.what + " " + e.role
		}
		errs = append(errs, fmt.Errorf("operation %q is sent by entry points requiring different roles (%s): the lower role would be a way around the higher; declare the same Role on each", op, strings.Join(parts, ", ")))
	}
	return errs
}

// columnCodes reports each column of d (command and form results, work
// list views, document pages) whose Codes declare an empty meaning, which
// would show a code as " (code)", or whose Codes sit on a Personal column,
// where a meaning would tell the operator the value the mask hides. Codes
// are reported in order, so the errors read the same on every launch.
func columnCodes(d *sdk.DescribeResponse) []error {
	var errs []error
	check := func(where string, cols ...sdk.Column) {
		for _, c := range cols {
			if len(c.Codes) == 0 {
				continue
			}
			if c.Personal {
				errs = append(errs, fmt.Errorf("%s: column %q is Personal and declares Codes: a code's meaning would show the value the console masks; drop Codes or Personal", where, c.Field))
			}
			codes := make([]string, 0, len(c.Codes))
			for code := range c.Codes {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				if strings.TrimSpace(c.Codes[code]) == "" {
					errs = append(errs, fmt.Errorf("%s: column %q: code %q has an empty meaning; give its text, Chinese first (\"二维码已过期 expired\"), or remove the code (it is then shown as it is)", where, c.Field, code))
				}
			}
		}
	}
	display := func(where string, r sdk.Display) {
		check(where+" result", slices.Concat(r.Fields, r.Columns, r.Images)...)
	}
	for _, c := range d.Commands {
		display(fmt.Sprintf("command %q", c.Name), c.Result)
	}
	for _, f := range d.Forms {
		display(fmt.Sprintf("form %q", f.Name), f.Result)
	}
	for _, v := range d.WorkListViews {
		check(fmt.Sprintf("work list %q", v.List), v.Columns...)
	}
	for _, v := range d.Documents {
		where := fmt.Sprintf("document view %q", v.Name)
		check(where+" header", v.Header...)
		check(where+" line", v.LineColumns...)
		if v.LineItems != nil {
			check(where+" line items", *v.LineItems)
		}
		if v.History != nil {
			display(where+" history", *v.History)
		}
		if v.Confirm != nil {
			display(where+" confirm", v.Confirm.Result)
		}
	}
	return errs
}

// The inputs the console posts beside a form's, a row action's and a
// document change's declared fields (host/internal/console: formSubmit,
// action, documentAdjust and documentConfirm). A row action also posts each
// row value as "row.<item field>".
var (
	formInputs     = []string{"csrf", "site"}
	actionInputs   = []string{"csrf", "site", "plugin", "list", "action"}
	documentInputs = []string{"csrf", "site", "id", "edit", "line", "version"}
)

// fileField reports a result that carries a file but names no payload
// field for its artifact's id: the console could never offer it, nor the
// command line copy it.
func fileField(what string, d sdk.Display) []error {
	if d.File == nil || d.File.ArtifactField != "" {
		return nil
	}
	return []error{fmt.Errorf("%s: Result.File names no ArtifactField, so the file could never be offered (the console would answer every use \"unexpected reply\"); "+
		"name the payload field that holds the id sdk.PutArtifact returned, or drop File", what)}
}

// consoleNames reports each field of args named as an input the console
// posts itself (names): its value would be the console's, not the
// operator's, or would break the post.
func consoleNames(what string, args []sdk.Argument, names []string) []error {
	var errs []error
	for _, a := range args {
		if slices.Contains(names, a.Name) || strings.HasPrefix(a.Name, "row.") && slices.Contains(names, "action") {
			own := strings.Join(names, ", ")
			if slices.Contains(names, "action") {
				own += ", row.<field>"
			}
			errs = append(errs, fmt.Errorf("%s %q: the name is one of the console's own inputs on that page (%s), so the console would send its value, not the operator's; rename the field (the payload takes its name)", what, a.Name, own))
		}
	}
	return errs
}

// argumentTypes reports each of args, the inputs what names, whose Type
// the host does not know: the command line and the console would send its
// value as text (a misspelt sdk.ArgumentFile the operator's path instead
// of the file). sdk.ArgumentNumber is a type of the console's inputs only
// (number false: a command's argument), which the command line does not
// send as a number.
func argumentTypes(what string, args []sdk.Argument, number bool) []error {
	known := append(slices.Clone(settingTypes), sdk.ArgumentFile, sdk.ArgumentList)
	use := "an sdk.Setting* constant, sdk.ArgumentFile or sdk.ArgumentList (empty: a string)"
	if number {
		known = append(known, sdk.ArgumentNumber)
		use = "an sdk.Setting* constant, sdk.ArgumentFile, sdk.ArgumentList or sdk.ArgumentNumber (empty: a string)"
	}
	var errs []error
	for _, a := range args {
		if msg := argumentDefault(a); msg != "" {
			errs = append(errs, fmt.Errorf("%s %q: its Default %s, so the input would start with a value its own declaration refuses; correct the Default (or the Enum)", what, a.Name, msg))
		}
		if a.Type == "" || slices.Contains(known, a.Type) {
			continue
		}
		hint := ""
		if a.Type == sdk.ArgumentNumber {
			hint = " (sdk.ArgumentNumber is for console forms, row actions and document edits: the command line sends no JSON numbers; declare it sdk.SettingInt or a string)"
		}
		errs = append(errs, fmt.Errorf("%s %q: type %q is not one of %s, so its value would be sent as text; use %s%s", what, a.Name, a.Type, strings.Join(known, ", "), use, hint))
	}
	return errs
}

// argumentDefault says what is wrong with a's Default ("" when nothing
// is, or there is none): a value outside its Enum (each item of a list),
// or one its type cannot read (a whole number, true or false, a duration,
// an http(s) URL, a number), as a setting's value is checked. A file or
// secret input's Default is a path or reference, not checked here.
func argumentDefault(a sdk.Argument) string {
	v := a.Default
	switch {
	case v == "" || a.Type == sdk.ArgumentFile || a.Type == sdk.SettingSecret:
		return ""
	case a.Type == sdk.ArgumentList:
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); len(a.Enum) > 0 && !slices.Contains(a.Enum, item) {
				return fmt.Sprintf("lists %q, which is not allowed (one of: %s)", item, strings.Join(a.Enum, ", "))
			}
		}
		return ""
	case a.Type == sdk.ArgumentNumber:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("%q is not a number", v)
		}
	}
	if msg := checkValue(sdk.Setting{Type: a.Type, Enum: a.Enum}, v, nil); msg != "" {
		return msg
	}
	return ""
}

// undeclaredSchema reports op's Schema when it names no schema document
// d declares: a transaction schema "<system>/<code>" is the document
// "<system>/<code>.yaml" of d.Schemas (code tables, <system>/codes/…, are
// none).
func undeclaredSchema(d *sdk.DescribeResponse, op sdk.Operation) []error {
	if _, ok := d.Schemas[op.Schema+".yaml"]; ok && strings.Count(op.Schema, "/") == 1 {
		return nil
	}
	var declared, elsewhere []string
	for p := range d.Schemas {
		name, ok := strings.CutSuffix(p, ".yaml")
		switch {
		case ok && strings.Count(name, "/") == 1:
			declared = append(declared, name)
		case ok && strings.Count(name, "/") == 2 && strings.Split(name, "/")[1] == "codes":
			// a code table, <system>/codes/<name>.yaml
		default:
			elsewhere = append(elsewhere, strconv.Quote(p))
		}
	}
	slices.Sort(elsewhere)
	// Documents keyed by another path (the embedded directory's own name
	// in front, or no system directory) are declared, but not where the
	// host looks: say so rather than that there are none.
	misplaced := ""
	if len(elsewhere) > 0 {
		misplaced = fmt.Sprintf("; the Schemas also hold %s, which is no path <system>/<code>.yaml: key each document by its path under the schema root "+
			"(fs.Sub the embedded directory first, as plugins/sdk/example's schemaDocuments does), so that this one is %q", strings.Join(elsewhere, ", "), op.Schema+".yaml")
	}
	if len(declared) == 0 {
		if misplaced != "" {
			return []error{fmt.Errorf("operation %q: its schema %q is not declared: the plugin declares no document at a path <system>/<code>.yaml, so medgate plugins would show a schema that does not exist%s",
				op.Type, op.Schema, misplaced)}
		}
		return []error{fmt.Errorf("operation %q: its schema %q is not declared: the plugin declares no schema documents, so medgate plugins would show a schema that does not exist; "+
			"declare the document %q in DescribeResponse.Schemas (schemas.Documents, or your own files), or leave Schema empty", op.Type, op.Schema, op.Schema+".yaml")}
	}
	slices.Sort(declared)
	return []error{fmt.Errorf("operation %q: its schema %q is not among the schema documents the plugin declares (%s), so medgate plugins would show a schema that does not exist; "+
		"fix the name, or declare the document %q in DescribeResponse.Schemas%s", op.Type, op.Schema, strings.Join(declared, ", "), op.Schema+".yaml", misplaced)}
}

// undeclared reports op, which the view or command what sends, when the
// plugin does not declare it: the host routes a message only to a declared
// operation, so every use would be answered "no operation".
func undeclared(ops map[string]bool, what, op string) []error {
	if ops[op] {
		return nil
	}
	return []error{fmt.Errorf("%s %q is not among the operations, so the host would answer every use with \"no operation\"; register it (sdk.Mux) or fix the name", what, op)}
}

// SettingProblem is one problem with a site's plugin settings.
type SettingProblem struct {
	Setting string
	Message string
}

// Resolver reads a secret reference ("env:NAME" / "file:PATH").
type Resolver func(ref string) (string, error)

// CheckSettings validates a site's settings against the plugin's declared
// fields: unknown names, missing required values, types, enums, and secret
// references (which are resolved). It returns the settings with defaults
// applied and secrets resolved, and every problem at once. A secret takes
// no default: only a reference in given is resolved.
//
// Relative values of path settings are resolved against baseDir (the
// directory of the configuration file).
func CheckSettings(decl []sdk.Setting, given map[string]string, baseDir string, isRef func(string) bool, resolve Resolver) (map[string]string, []SettingProblem) {
	var ps []SettingProblem
	known := map[string]sdk.Setting{}
	for _, d := range decl {
		known[d.Name] = d
	}
	names := make([]string, 0, len(given))
	for n := range given {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := known[n]; !ok {
			valid := make([]string, 0, len(decl))
			for _, d := range decl {
				valid = append(valid, d.Name)
			}
			ps = append(ps, SettingProblem{n, fmt.Sprintf("unknown setting; this plugin accepts: %s", strings.Join(valid, ", "))})
		}
	}
	out := map[string]string{}
	for _, d := range decl {
		def := d.Default
		if d.Type == sdk.SettingSecret {
			// Never a reference the plugin names (CheckDescription).
			def = ""
		}
		v, ok := given[d.Name]
		if !ok || v == "" {
			if d.Required && def == "" {
				ex := ""
				if d.Example != "" {
					ex = fmt.Sprintf(" (for example %q)", d.Example)
				}
				ps = append(ps, SettingProblem{d.Name, fmt.Sprintf("is required: %s%s", d.Description, ex)})
				continue
			}
			v = def
		}
		if v == "" {
			out[d.Name] = ""
			continue
		}
		if msg := checkValue(d, v, isRef); msg != "" {
			ps = append(ps, SettingProblem{d.Name, msg})
			continue
		}
		if d.Type == sdk.SettingPath && !filepath.IsAbs(v) {
			v = filepath.Join(baseDir, v)
		}
		if d.Type == sdk.SettingSecret {
			s, err := resolve(v)
			if err != nil {
				ps = append(ps, SettingProblem{d.Name, "cannot read the secret: " + err.Error()})
				continue
			}
			v = s
		}
		out[d.Name] = v
	}
	return out, ps
}

func checkValue(d sdk.Setting, v string, isRef func(string) bool) string {
	// A secret is checked for a reference first: a value that is none may
	// be the secret itself, and no other message may repeat it.
	if d.Type == sdk.SettingSecret && !isRef(v) {
		return `secrets are never written in the configuration; write "env:VARIABLE" or "file:/path/to/secret"`
	}
	if len(d.Enum) > 0 && !slices.Contains(d.Enum, v) {
		return fmt.Sprintf("%q is not allowed; use one of: %s", v, strings.Join(d.Enum, ", "))
	}
	switch d.Type {
	case sdk.SettingInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Sprintf("%q is not a whole number", v)
		}
	case sdk.SettingBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Sprintf("%q is not true or false", v)
		}
	case sdk.SettingDuration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Sprintf("%q is not a duration; write e.g. \"30m\"", v)
		}
	case sdk.SettingURL:
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("%q is not an http(s) URL", v)
		}
	}
	return ""
}
