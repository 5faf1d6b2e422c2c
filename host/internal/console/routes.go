package console

import (
	"io/fs"
	"net/http"
	"strconv"

	"github.com/medgate/medgate/host/internal/access"
)

// route is one console route and the least role it needs.
type route struct {
	pattern string
	role    access.Role
	h       http.HandlerFunc
}

// routeTable is every console route with the role it needs; routes
// registers exactly these, and TestEveryRouteHasARole checks that no
// route is registered any other way. Public routes need no sign-in.
// To add a page, add one line here with the least role that may use it;
// routes puts it behind sign-in, CSRF and the role check.
//
// viewer: reads the overview, messages (masked) and work lists;
// operator: also runs jobs, sends plugin forms (the cashier desk,
// exports), acts on work-list rows, reviews and confirms documents,
// downloads files; admin: also sites, plugins, the audit log and users
// (lifting a user's sign-in lockout).
func (c *Console) routeTable() []route {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(Prefix+"static/", http.FileServerFS(static))
	return []route{
		{"GET " + Prefix + "static/", access.Public, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=300")
			files.ServeHTTP(w, r)
		}},
		{"GET " + Prefix + "login", access.Public, c.loginPage},
		{"POST " + Prefix + "login", access.Public, c.login},
		{"POST " + Prefix + "logout", access.Viewer, c.logout}, // logoutRoute, spelled out for the README check

		{"GET " + Prefix + "{$}", access.Viewer, c.overview},
		{"GET " + Prefix + "message", access.Viewer, c.message},
		{"GET " + Prefix + "worklists", access.Viewer, c.workLists},
		{"GET " + Prefix + "messages", access.Viewer, c.searchMessages},
		{"GET " + Prefix + "replays/{id}", access.Viewer, c.replayProgress},
		{"GET " + Prefix + "jobs", access.Viewer, c.jobsPage},
		{"GET " + Prefix + "board", access.Viewer, c.board},

		{"POST " + Prefix + "jobs/run", access.Operator, c.runJob},
		{"POST " + Prefix + "messages/replay", access.Operator, c.replayOne},
		{"POST " + Prefix + "messages/replay-all", access.Operator, c.replayAll},
		{"GET " + Prefix + "document/{plugin}/{view}", access.Operator, c.documentPage},
		{"POST " + Prefix + "document/{plugin}/{view}/adjust", access.Operator, c.documentAdjust},
		{"POST " + Prefix + "document/{plugin}/{view}/confirm", access.Operator, c.documentConfirm},
		{"GET " + Prefix + "form/{plugin}/{form}", access.Operator, c.formPage},
		{"POST " + Prefix + "form/{plugin}/{form}", access.Operator, c.formSubmit},
		{"POST " + Prefix + "action", access.Operator, c.action},
		{"GET " + Prefix + "download/{token}", access.Operator, c.download},

		{"POST " + Prefix + "message/reveal", access.Admin, c.messageReveal},
		{"GET " + Prefix + "admin/audit", access.Admin, c.auditPage},
		{"GET " + Prefix + "admin/sites", access.Admin, c.sitesPage},
		{"GET " + Prefix + "admin/plugins", access.Admin, c.pluginsPage},
		{"GET " + Prefix + "admin/users", access.Admin, c.usersPage},
		{"POST " + Prefix + "admin/users/{name}/unlock", access.Admin, c.unlockUser},
		{"GET " + Prefix + "admin/sites/{site}/{plugin}", access.Admin, c.sitePluginPage},
		{"POST " + Prefix + "admin/sites/{site}/{plugin}", access.Admin, c.sitePluginSave},
		{"POST " + Prefix + "admin/sites/{site}/{plugin}/enabled", access.Admin, c.sitePluginEnabled},

		{Prefix, access.Public, func(w http.ResponseWriter, r *http.Request) {
			c.fail(w, r, http.StatusNotFound, "页面不存在 (page not found)", "控制台没有 "+r.URL.Path+" 这个页面。There is no console page at "+r.URL.Path+".", "请从概览页重新开始。Start again from the overview.")
		}},
	}
}

// logoutRoute is the sign-out's route, which Console.confirmed lets
// through whatever the store says.
const logoutRoute = "POST " + Prefix + "logout"

// auditActions name what the console's posts do in the audit log; a post
// not listed here is recorded as "console.post" with its route.
var auditActions = map[string]string{
	"POST " + Prefix + "logout":                              "logout",
	"POST " + Prefix + "jobs/run":                            "job.run",
	"POST " + Prefix + "messages/replay":                     "message.replay",
	"POST " + Prefix + "message/reveal":                      "personal.reveal",
	"POST " + Prefix + "messages/replay-all":                 "message.replay.bulk",
	"POST " + Prefix + "document/{plugin}/{view}/adjust":     "document.adjust",
	"POST " + Prefix + "document/{plugin}/{view}/confirm":    "document.confirm",
	"POST " + Prefix + "form/{plugin}/{form}":                "form.send",
	"POST " + Prefix + "action":                              "worklist.action",
	"POST " + Prefix + "admin/sites/{site}/{plugin}":         "site.plugin.update",
	"POST " + Prefix + "admin/sites/{site}/{plugin}/enabled": "site.plugin.update",
	"POST " + Prefix + "admin/users/{name}/unlock":           "user.unlock",
}

// routes builds the mux from a route table (routeTable's): public routes
// as they are, the others behind sign-in and their role, which also puts
// the audit recorder and actor in their requests' context.
func (c *Console) routes(table []route) *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range table {
		if rt.role == access.Public {
			m.Handle(rt.pattern, rt.h)
		} else {
			m.Handle(rt.pattern, c.auth(rt.role, rt.h))
		}
	}
	return m
}

// autoRefreshParam marks a page's own reload: refreshEvery adds it (=1) to
// the URL of the page's Refresh header. Such a request does not count as
// activity for the session's idle timeout (Options.SessionIdle), so a
// page that reloads itself (the board, a pending message, a running bulk
// replay) left alone signs out like any other; any other request of the
// user counts. Adding it by hand gains nothing: it only lets the session
// end sooner.
const autoRefreshParam = "refresh"

// autoRefresh reports whether r is a page's own reload (autoRefreshParam).
func autoRefresh(r *http.Request) bool {
	return safeMethod(r.Method) && r.URL.Query().Get(autoRefreshParam) == "1"
}

// refreshEvery makes the page reload itself after secs seconds (the
// Refresh header, which works without the script), marking the reload
// as automatic (autoRefreshParam).
func refreshEvery(w http.ResponseWriter, r *http.Request, secs int) {
	u := *r.URL
	q := u.Query()
	q.Set(autoRefreshParam, "1")
	u.RawQuery = q.Encode()
	w.Header().Set("Refresh", strconv.Itoa(secs)+"; url="+u.RequestURI())
}
