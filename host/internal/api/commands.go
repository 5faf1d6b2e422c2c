package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/plugins/sdk"
)

// commandCheck serves POST /admin/commands/check?plugin=P&command=C
// &site=S&target=ID: may the caller run plugin P's command C, whose
// plugin declares the least role it needs (sdk.Command.Role, empty:
// operator)? The command line asks before it sends anything for a command
// that declares more than the operator role (medgate <plugin> <command>),
// and sends nothing on a refusal: 403 forbidden naming the role, audited
// refused. A granted check is audited ok (command.check, with the site
// and the message id the command line sends, target), so the audit log
// names the person behind the command's message. 404 for a command no
// running plugin declares. The host knows no plugin by name: the role is
// the plugin's declaration (sites.Info.Commands).
func (s *server) commandCheck(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	plugin, name, site, target := q.Get("plugin"), q.Get("command"), q.Get("site"), q.Get("target")
	if len(target) > 200 || strings.ContainsAny(target, "\r\n") || len(site) > 200 || strings.ContainsAny(site, "\r\n") {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", refused: true,
			Message: "target and site are one line of at most 200 characters each: the command's message id (target=) and its site code (site=)"}
	}
	var c *sdk.Command
	if infos, ok := s.b.Plugins().([]sites.Info); ok {
		for _, in := range infos {
			if in.Name != plugin {
				continue
			}
			for i := range in.Commands {
				if in.Commands[i].Name == name && !in.Commands[i].Local {
					c = &in.Commands[i]
				}
			}
		}
	}
	what := plugin + " " + name
	if c == nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", refused: true,
			Message: fmt.Sprintf("no running plugin %s declares a command %s that the running medgate sends (plugin=, command=); check the names with medgate %s -h, and that the running medgate has the same plugin version", plugin, name, plugin)}
	}
	role := sdk.RoleOf(c.Role)
	need, err := access.ParseRole(role)
	if err != nil || need < access.Operator {
		need = access.Admin // refused at launch; never less than admin
	}
	u := caller(r)
	if !u.Role.Allows(need) {
		if err := audit.Record(r.Context(), audit.Entry{Action: "command.check", Target: what + " " + target, Site: site, Outcome: audit.Refused,
			Detail: "需要角色 " + need.String() + "，当前为 " + u.Role.String() + "，未发送。needs role " + need.String() + ", has " + u.Role.String() + "; not sent"}); err != nil {
			s.o.Logger.Error("admin API: audit entry not recorded", "action", "command.check", "err", err)
		}
		return &Error{Status: http.StatusForbidden, Code: "forbidden", refused: true,
			Message: fmt.Sprintf("%s needs the role %s (the plugin declares it); %s has the role %s, so nothing is sent (an admin may change it with: medgate user role %s %s)",
				what, need, u.Name, u.Role, u.Name, need)}
	}
	if err := audit.Record(r.Context(), audit.Entry{Action: "command.check", Target: what + " " + target, Site: site, Outcome: audit.OK,
		Detail: "命令行命令，角色 " + u.Role.String() + "。command-line command, role " + u.Role.String()}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"plugin": plugin, "command": name, "role": need.String()})
	return nil
}
