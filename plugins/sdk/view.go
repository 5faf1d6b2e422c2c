package sdk

// Console views. A plugin declares what the console shows for it; the
// host renders every view the same way and shows in its navigation only
// the views of plugins enabled at some site. Everything a view does is a
// message through the pipeline, like any platform message.

// Form is a console page: fields the operator fills in, an operation sent
// with them as its JSON payload (typed as for command arguments), and the
// reply shown as Result says. A form can be opened prefilled from a work
// list cell (Column.Form).
//
// The host maps every JSON message of a type a site has a mapping for,
// a form's, a row action's and a command's too: an operation that sites
// map from their platform's messages is not one for a form to send (its
// fields are not the platform's); give the form an operation of its own.
type Form struct {
	// Name is one word, lowercase, with dashes; the page is
	// /console/form/<plugin>/<name>.
	Name string `json:"name"`
	// Title names the page and its navigation entry.
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Operation is the message type sent, "<plugin>.<operation>", one of
	// the plugin's declared Operations (the host refuses a plugin whose
	// form sends another).
	Operation string `json:"operation"`
	// Fields are the inputs, typed like command arguments. ArgumentFile
	// fields are uploads.
	Fields []Argument `json:"fields,omitempty"`
	// Fixed holds payload fields sent as they are.
	Fixed map[string]any `json:"fixed,omitempty"`
	// Key names the field whose value is the message's business key.
	Key string `json:"key,omitempty"`
	// Result says how the reply is shown.
	Result Display `json:"result"`
	// Scanner makes the page a scanning counter: the first field takes a
	// USB scanner's keyboard input (the characters, then Enter), Enter
	// sends the form, and the reply shows above the form with the field
	// empty and focused again for the next scan.
	Scanner bool `json:"scanner,omitempty"`
	// Role is the least role that may open and send the form: empty or
	// RoleOperator, or RoleAdmin. The console leaves a form its user may
	// not send out of the navigation and answers its page 403, naming the
	// role. See RoleOperator.
	Role string `json:"role,omitempty"`
}

// WorkListView adds columns and row actions to a declared [WorkList] of
// the same name. Without it the console shows every field of the items.
type WorkListView struct {
	// List is the WorkList's Name.
	List    string   `json:"list"`
	Columns []Column `json:"columns,omitempty"`
	Actions []Action `json:"actions,omitempty"`
}

// Action is a button on every row of a work list. It sends Operation with
// a payload built from the row (Row maps payload fields to item fields),
// the operator's name (in the payload field Operator, when set) and the
// Fields the operator fills in. Operation is one of the plugin's declared
// Operations, as for a Form.
type Action struct {
	Name      string            `json:"name"`
	Label     string            `json:"label"`
	Operation string            `json:"operation"`
	Row       map[string]string `json:"row"`
	Operator  string            `json:"operator,omitempty"`
	Fields    []Argument        `json:"fields,omitempty"`
	// Confirm, when set, is the question the operator confirms first.
	Confirm string `json:"confirm,omitempty"`
	// Role is the least role that may use the action, as Form.Role.
	Role string `json:"role,omitempty"`
}

// Views are a plugin's console declarations, as the host passes them on.
type Views struct {
	Forms         []Form         `json:"forms,omitempty"`
	WorkListViews []WorkListView `json:"workListViews,omitempty"`
	Documents     []DocumentView `json:"documents,omitempty"`
}

// Views returns the console declarations of d.
func (d *DescribeResponse) Views() Views {
	return Views{Forms: d.Forms, WorkListViews: d.WorkListViews, Documents: d.Documents}
}
