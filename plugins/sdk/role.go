package sdk

// Roles a form, a row action or a command may require (Form.Role,
// Action.Role, Command.Role): the least role of the person who sends it,
// signed in to the console or behind the command line. Empty is
// RoleOperator, which every plugin form, row action and command needed
// before the field existed, so a plugin that declares nothing keeps that.
//
// The role binds people, not systems: a message of the same operation
// from the integration platform (Kafka) or an HIS client of the HTTP
// ingress (POST /v1/messages) carries no person and no role; those
// channels are bound by their own credentials (Kafka ACLs, the ingress
// clients' tokens and sites). Declare the same role on every form, row
// action and command that sends one operation: the host refuses to launch
// a plugin whose entry points to an operation differ, which would leave a
// way around the role. Hosts older than the field ignore it (operator).
const (
	// RoleOperator is the console's operator role (the cashier's desk,
	// exports, work-list rows): the default.
	RoleOperator = "operator"
	// RoleAdmin is the administrator role, for corrections of stored
	// records that staff at a desk should not make alone.
	RoleAdmin = "admin"
)

// RoleOf is role as the host reads it: RoleOperator when empty.
func RoleOf(role string) string {
	if role == "" {
		return RoleOperator
	}
	return role
}

// KnownRole reports whether role may be declared on a form, a row action
// or a command: empty, RoleOperator or RoleAdmin.
func KnownRole(role string) bool {
	return role == "" || role == RoleOperator || role == RoleAdmin
}
