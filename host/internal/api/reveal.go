package api

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/medgate/medgate/host/internal/audit"
)

// maxRevealTarget bounds what a reveal names (a message id, "plugin
// command").
const maxRevealTarget = 200

// revealGrant answers POST /admin/personal/reveal?site=S&target=T: it
// grants the command line (medgate <plugin> <command> -reveal) showing
// the values a plugin declares personal (sdk.Column.Personal) unmasked,
// as the console's 显示个人信息 Reveal personal data does: to an admin
// only (the route table), and only once the reveal is in the audit log
// (personal.reveal, with the target — the command's message id, or
// "plugin command" for a local one — and the site); when it cannot be
// written nothing is granted. The data themselves never pass here.
func (s *server) revealGrant(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	site, target := strings.TrimSpace(q.Get("site")), strings.TrimSpace(q.Get("target"))
	var problems []string
	if site == "" || len(site) > maxRevealTarget || strings.ContainsFunc(site, unicode.IsControl) {
		problems = append(problems, "site: give the code of the site whose data are shown (site=)")
	}
	if target == "" || len(target) > maxRevealTarget || strings.ContainsFunc(target, unicode.IsControl) {
		problems = append(problems, "target: name what is shown, in at most 200 characters on one line: the command's message id, or \"plugin command\" for a local command (target=)")
	}
	if len(problems) > 0 {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", refused: true, Message: "nothing was granted: " + strings.Join(problems, "; ")}
	}
	if err := audit.Record(r.Context(), audit.Entry{Action: "personal.reveal", Target: target, Site: site, Outcome: audit.OK,
		Detail: "命令行以未遮蔽形式显示个人信息。personal data shown unmasked on the command line"}); err != nil {
		return s.auditError(r, err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"granted": true, "user": caller(r).Name, "site": site, "target": target})
	return nil
}
