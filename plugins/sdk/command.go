package sdk

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Command is a command-line verb a plugin offers, run as
//
//	medgate <plugin> <command> [-site S] [-name value …] [positional]
//
// The host generates the command's help from this declaration, checks the
// arguments against it and shows the result as Result says. A remote command
// sends Operation through the running medgate, like any platform message,
// with the arguments as its JSON payload. A Local command runs in the plugin
// binary on the operator's machine (the host checks the binary's checksum,
// starts it and passes the site's settings): for work whose data must not
// travel through Kafka, such as importing key material. A plugin with local
// commands implements [CommandRunner].
type Command struct {
	// Name is one word, lowercase, with dashes: "import-keys".
	Name string `json:"name"`
	// Summary is one line for the command list.
	Summary string `json:"summary"`
	// Description is the help text: what the command does, what it needs.
	Description string `json:"description,omitempty"`
	// Arguments are the command's inputs, typed like settings.
	Arguments []Argument `json:"arguments,omitempty"`
	// Operation is the message type a remote command sends,
	// "<plugin>.<operation>", one of the plugin's declared Operations (the
	// host refuses a plugin whose command sends another); empty for a
	// local command.
	Operation string `json:"operation,omitempty"`
	// Local runs the command in the plugin binary on this machine.
	Local bool `json:"local,omitempty"`
	// Timeout is how long the host waits for the reply by default; the
	// operator may change it with -timeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Result says how the reply is shown.
	Result Display `json:"result"`
	// Role is the least role of the medgate user who may run a remote
	// command, as Form.Role: empty or RoleOperator, or RoleAdmin. The
	// command line has the running medgate check the user's role
	// (MEDGATE_USER, else the admin token) before it sends anything, and
	// shows the role in the command's help. Local commands run on the
	// operator's machine with its configuration and take no Role.
	Role string `json:"role,omitempty"`
}

// Argument is one input of a command, typed like a [Setting]. It is given
// as a flag, -Name value, unless it is Positional. A command's argument
// may not take the name of a flag the command line gives every plugin
// command (site, config, timeout, addr, out, brokers, json, reveal): the
// host refuses such a plugin (Command.Check). Nor may a console input take
// a name the console posts itself: site and csrf on a form; also plugin,
// list, action and row.… on a row action; also id, edit, line and version
// on a document edit.
type Argument struct {
	Name string `json:"name"`
	// Type is a Setting* constant, ArgumentFile or ArgumentList, and for
	// the console's inputs (form, row action and edit fields) also
	// ArgumentNumber; empty: a string. The host refuses to launch a plugin
	// declaring another.
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	// Default is the input's value when none is given. The host refuses to
	// launch a plugin whose Default its own Enum (each item, for an
	// ArgumentList) or Type refuses.
	Default     string   `json:"default,omitempty"`
	Description string   `json:"description,omitempty"`
	Example     string   `json:"example,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	// Positional arguments are given without a flag, in declaration order.
	Positional bool `json:"positional,omitempty"`
}

// ArgumentFile is an argument type for remote commands: the host reads the
// named file on the operator's machine and sends it in the payload as
// {"name": base name, "content": base64}. Local commands take SettingPath
// arguments and read the file themselves.
const ArgumentFile = "file"

// ArgumentList is an argument type for remote commands: comma-separated
// values, sent as a JSON array of strings.
const ArgumentList = "list"

// Display says how the host shows a reply, of a command on the command line
// or of a form in the console. Field names may be dotted paths into the
// payload ("label.lines"). With nothing set the payload is shown as JSON.
type Display struct {
	// JSON prints the whole reply (status, errors, external, payload) as
	// JSON on standard output, for scripts; other parts go to standard error.
	JSON bool `json:"json,omitempty"`
	// Headline names a string field of the payload shown as the first
	// line: printed first on the command line, shown above the Fields in
	// the console.
	Headline string `json:"headline,omitempty"`
	// Fields lists single payload fields printed as "Title: value" lines.
	// The console shows a form's Fields with a refused reply (invalid,
	// rejected) too, above its errors, where the payload has them.
	Fields []Column `json:"fields,omitempty"`
	// Rows names an array field of the payload shown as a table of Columns.
	Rows    string   `json:"rows,omitempty"`
	Columns []Column `json:"columns,omitempty"`
	// File marks a reply that carries an artifact; the host offers it for
	// download (console) or -out FILE (command line).
	File *FileResult `json:"file,omitempty"`
	// Progress follows the plugin's progress events while the command runs.
	Progress *Progress `json:"progress,omitempty"`
	// Images lists payload fields holding PNG images (base64 in JSON), shown
	// by the console with their titles.
	Images []Column `json:"images,omitempty"`
	// Lines names an array of strings shown under the images, as on a
	// printed label.
	Lines string `json:"lines,omitempty"`
	// Printable offers the console's print button for the result.
	Printable bool `json:"printable,omitempty"`
	// LabelTitle is printed at the top of a printable label (Images and
	// Lines), e.g. the hospital's card name.
	LabelTitle string `json:"labelTitle,omitempty"`
}

// HasPersonal reports whether d shows a field or column marked Personal,
// whose values the console and the CLI mask unless revealing is granted.
func (d Display) HasPersonal() bool {
	for _, cols := range [][]Column{d.Fields, d.Columns} {
		for _, c := range cols {
			if c.Personal {
				return true
			}
		}
	}
	return false
}

// Column is a payload field with its title. In a work list, Form names a
// form of the plugin the cell opens, prefilled with the site and with this
// field's value under the same name. The value travels in the link's URL,
// so the host refuses to launch a plugin whose Personal column has a Form:
// open the form from a column that is not personal (a card number).
type Column struct {
	Field string `json:"field"`
	Title string `json:"title"`
	Form  string `json:"form,omitempty"`
	// Personal marks personal data (a name, an ID or phone number): the
	// console and the command line mask it, whatever the plugin sent; the
	// command line shows it unmasked only with -reveal, which the running
	// medgate grants to an admin and records in its audit log. The host
	// also masks the field's values (by the last part of Field) in the
	// replies of the operation the list, form or command sends, where it
	// shows messages (the message page, GET /admin/messages, medgate
	// send), and in the plugin's log lines.
	Personal bool `json:"personal,omitempty"`
	// Codes gives the meaning of the field's code values (value → text,
	// Chinese first: {"expired": "二维码已过期 expired"}). The console and
	// the command line show a declared value as "meaning (value)", any
	// other value as it is; without Codes every value is shown as it is.
	// The host refuses to launch a plugin with an empty meaning, or with
	// Codes on a Personal column (a meaning would tell the value the mask
	// hides).
	Codes map[string]string `json:"codes,omitempty"`
}

// Shown is how the host shows value, a value of c's field as text, when
// the operator sees it as shown (masked, formatted): "meaning (shown)"
// when c.Codes declares value, shown otherwise.
func (c Column) Shown(value, shown string) string {
	if m, ok := c.Codes[value]; ok && m != "" && shown != "" {
		return m + " (" + shown + ")"
	}
	return shown
}

// FileResult names the payload field of a reply that holds the ID of an
// artifact (Host.PutArtifact); the console offers it for download, the
// command line copies it with -out. ArtifactField is required: the host
// refuses a form or command whose Result.File names none.
type FileResult struct {
	ArtifactField string `json:"artifactField"`
}

// Progress describes the events a command's operation publishes while it
// runs. Only events of type Event whose payload field Match equals the
// command's message id are shown: their Line field, printed on standard
// error, until one has its boolean Done field true.
type Progress struct {
	Event string `json:"event"`
	Match string `json:"match"`
	Line  string `json:"line"`
	Done  string `json:"done"`
}

// CommandRunner is implemented by plugins that declare local commands. A
// plugin that declares one (Command.Local) without implementing it is
// refused at launch, naming its local commands.
type CommandRunner interface {
	// RunCommand runs one local command for one site. Settings are the
	// site's settings, checked by the host as for Configure; Configure has
	// not been called in this process. Host services are not available.
	RunCommand(ctx context.Context, req *RunCommandRequest) (*RunCommandResponse, error)
}

// RunCommandRequest is one local command to run.
type RunCommandRequest struct {
	Site     string
	Command  string
	Settings map[string]string
	// Arguments hold the declared arguments, checked and with defaults
	// applied, as strings (paths made absolute, secrets resolved).
	Arguments map[string]string
}

// RunCommandResponse is what a local command did: Output is shown to the
// operator, Payload (JSON) as the command's Display says. Any error
// diagnostic makes the command fail.
type RunCommandResponse struct {
	Diagnostics Diagnostics
	Output      string
	Payload     []byte
}

var commandName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// Check reports what is wrong with the declaration of c, a command of
// plugin, in one error per problem.
func (c Command) Check(plugin string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("command %q: "+format, append([]any{c.Name}, args...)...))
	}
	if !commandName.MatchString(c.Name) {
		bad("the name must be lowercase letters, digits and dashes, starting with a letter")
	}
	switch {
	case c.Local && c.Operation != "":
		bad("a local command runs in the plugin and sends no operation; remove Operation or Local")
	case !c.Local && c.Operation == "":
		bad("give the Operation it sends, or mark it Local")
	case !c.Local && !hasPrefix(c.Operation, plugin+"."):
		bad("operation %q must be one of the plugin's own, %q", c.Operation, plugin+".<operation>")
	}
	switch {
	case c.Local && c.Role != "":
		bad("a local command runs on the operator's machine, where no running medgate checks a role; remove Role (or make it a remote command)")
	case !KnownRole(c.Role):
		bad("role %q is not one of %s, %s; leave it empty for %s", c.Role, RoleOperator, RoleAdmin, RoleOperator)
	}
	// The command line's own flags (runDeclared): an argument of the same
	// name could not be parsed.
	seen := map[string]bool{"site": true, "config": true, "timeout": true, "addr": true, "out": true, "brokers": true, "json": true, "reveal": true}
	for _, a := range c.Arguments {
		if seen[a.Name] {
			bad("argument %q is declared twice or is one the host reserves (site, config, timeout, addr, out, brokers, json, reveal: flags of every plugin command); rename it", a.Name)
		}
		seen[a.Name] = true
		if a.Type == ArgumentFile && c.Local {
			bad("argument %q: a local command reads files itself; declare it %q", a.Name, SettingPath)
		}
	}
	return errs
}

func hasPrefix(s, prefix string) bool { return len(s) > len(prefix) && s[:len(prefix)] == prefix }
