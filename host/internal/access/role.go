// Package access is who may use medgate's console and admin API: roles,
// users with argon2id password hashes, the sign-in lockout, and identities
// a trusted reverse proxy vouches for.
//
// Roles are ordered: viewer < operator < admin. A viewer reads (overview,
// messages with personal data masked, work lists); an operator also acts
// (replay, run jobs, work-list actions, the cashier desk, draft receipts);
// an admin also manages sites, plugins, keys and reads the audit log.
// Every route of the console and the admin API names the least role it
// needs (README: "Console access").
//
// A user may also be limited to sites (User.Sites, "medgate user add …
// -sites"): the console and the admin API then show and act on only
// those sites, answer another site's item as one that does not exist,
// and refuse their routes of the whole instance. An admin is never
// limited to sites (CheckScope): an admin manages the whole instance.
package access

import (
	"fmt"
	"strings"
)

// Role is a user's role; a higher role may do everything a lower one may.
type Role int32

// The roles, lowest first. Public marks routes that need no sign-in (the
// sign-in page, static files); it is never a user's role.
const (
	Public Role = iota
	Viewer
	Operator
	Admin
)

// Roles lists the roles users can have, lowest first.
var Roles = []Role{Viewer, Operator, Admin}

func (r Role) String() string {
	switch r {
	case Public:
		return "public"
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// Label is the role's name for pages, Chinese first.
func (r Role) Label() string {
	switch r {
	case Viewer:
		return "查看员 viewer"
	case Operator:
		return "操作员 operator"
	case Admin:
		return "管理员 admin"
	}
	return "公开 public"
}

// Allows reports whether a user with role r may use a route that needs need.
func (r Role) Allows(need Role) bool { return r >= need && r != Public }

// ParseRole reads "viewer", "operator" or "admin" (any case).
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "viewer":
		return Viewer, nil
	case "operator":
		return Operator, nil
	case "admin":
		return Admin, nil
	}
	return Public, fmt.Errorf("%q is not a role: use viewer, operator or admin", s)
}
