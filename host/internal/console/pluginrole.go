package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/plugins/sdk"
)

// This file enforces the role a plugin declares on a form or a row action
// (sdk.Form.Role, sdk.Action.Role) on top of the route's own (operator):
// the host knows no plugin by name, only what each declares.

// declaredRole is the console role a plugin's declared role (sdk.RoleOf)
// needs; a role the host does not know (refused at launch,
// sdkhost.CheckDescription) needs an admin, never less.
func declaredRole(role string) access.Role {
	need, err := access.ParseRole(sdk.RoleOf(role))
	if err != nil || need < access.Operator {
		return access.Admin
	}
	return need
}

// formRoutes are the patterns of a plugin form's page and its post.
var formRoutes = map[string]bool{"GET " + Prefix + "form/{plugin}/{form}": true, "POST " + Prefix + "form/{plugin}/{form}": true}

// formNeed is the role the form at path (/console/form/<plugin>/<form>)
// declares; ok is false when no running plugin declares it.
func (c *Console) formNeed(path string) (access.Role, bool) {
	rest, found := strings.CutPrefix(path, Prefix+"form/")
	plugin, form, two := strings.Cut(rest, "/")
	if !found || !two {
		return 0, false
	}
	plugin, err1 := url.PathUnescape(plugin)
	form, err2 := url.PathUnescape(form)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	_, f := c.findForm(plugin, form)
	if f == nil {
		return 0, false
	}
	return declaredRole(f.Role), true
}

// allowDeclared lets r's user through to a form or row action (what)
// whose plugin declares role need; otherwise it answers 403 naming the
// role and, for a post, records the refusal. Nothing is sent then.
func (c *Console) allowDeclared(w http.ResponseWriter, r *http.Request, what string, need access.Role) bool {
	u := userOf(r)
	if u.Role.Allows(need) {
		return true
	}
	c.o.Logger.Warn("console: refused: the plugin declares a higher role", "user", u.Name, "role", u.Role.String(), "need", need.String(), "target", what)
	if !safeMethod(r.Method) {
		recordUndone(r, audit.Refused, "需要角色 "+need.String()+"，当前为 "+u.Role.String()+"。needs role "+need.String()+", has "+u.Role.String()+"; not sent")
	}
	c.fail(w, r, http.StatusForbidden, "需要角色 "+need.String()+" (needs the role "+need.String()+")",
		"插件声明："+what+" 需要角色 "+need.Label()+"；您的角色是 "+u.Role.Label()+"，未发送任何内容。The plugin declares that "+what+" needs the role "+need.String()+"; you have the role "+u.Role.String()+", nothing was sent.",
		"请管理员办理，或请管理员调整您的角色（medgate user role "+u.Name+" "+need.String()+"）。Ask an administrator to do it, or to give you the role (medgate user role "+u.Name+" "+need.String()+").")
	return false
}

// deniedActions maps each row action of v that u's role may not use to
// the role it needs, for the work list to show it disabled and say why.
func deniedActions(u access.User, v sdk.WorkListView) map[string]string {
	var out map[string]string
	for _, a := range v.Actions {
		if need := declaredRole(a.Role); !u.Role.Allows(need) {
			if out == nil {
				out = map[string]string{}
			}
			out[a.Name] = need.String()
		}
	}
	return out
}
