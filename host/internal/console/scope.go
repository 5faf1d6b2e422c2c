package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// siteScoped lists the console routes that honour a user's site scope
// (access.User.Sites): they show only the user's sites, an item of
// another site answers 404 as one that does not exist (so an id reveals
// nothing), and an action there is refused. Every other route is refused
// to a scoped user (403): the admin pages are of the whole instance (and
// a scoped user is never admin), and a page is listed here only once its
// handler checks sites, so a new page cannot show a scoped user another
// site's data by omission.
var siteScoped = map[string]bool{
	logoutRoute:                                           true,
	"GET " + Prefix + "{$}":                               true,
	"GET " + Prefix + "message":                           true,
	"GET " + Prefix + "jobs":                              true,
	"POST " + Prefix + "jobs/run":                         true,
	"POST " + Prefix + "messages/replay":                  true,
	"GET " + Prefix + "messages":                          true,
	"POST " + Prefix + "messages/replay-all":              true,
	"GET " + Prefix + "replays/{id}":                      true,
	"GET " + Prefix + "board":                             true,
	"GET " + Prefix + "worklists":                         true,
	"POST " + Prefix + "action":                           true,
	"GET " + Prefix + "form/{plugin}/{form}":              true,
	"POST " + Prefix + "form/{plugin}/{form}":             true,
	"GET " + Prefix + "document/{plugin}/{view}":          true,
	"POST " + Prefix + "document/{plugin}/{view}/adjust":  true,
	"POST " + Prefix + "document/{plugin}/{view}/confirm": true,
	"GET " + Prefix + "download/{token}":                  true,
}

// userOf is the signed-in user of r (the zero User, every site, without
// a session: the public routes).
func userOf(r *http.Request) access.User {
	if s := sessionFrom(r); s != nil {
		return s.user()
	}
	return access.User{}
}

// scopeRefusedPage answers a scoped user on a route not in siteScoped.
func (c *Console) scopeRefusedPage(w http.ResponseWriter, r *http.Request, u access.User) {
	c.fail(w, r, http.StatusForbidden, "仅限本院区 (limited to your sites)",
		"此页面或操作不对限定站点的用户开放；您（"+u.Name+"）只能看到站点 "+strings.Join(u.Sites, ", ")+"。"+
			"This page or action is not open to users limited to sites; you ("+u.Name+") see only the site(s) "+strings.Join(u.Sites, ", ")+".",
		"请使用您站点的概览、消息和定时任务，或请不限站点的管理员处理（可取消限制：medgate user sites "+u.Name+" all）。"+
			"Use the overview, messages and jobs of your sites, or ask an administrator without sites (one may remove the limit: medgate user sites "+u.Name+" all).")
}

// scopedJobs keeps the jobs (ids plugin/site/job) of the sites u sees.
func scopedJobs(u access.User, jobs []scheduler.Status) []scheduler.Status {
	if !u.Scoped() {
		return jobs
	}
	return slices.DeleteFunc(slices.Clone(jobs), func(j scheduler.Status) bool { return !u.SeesSite(jobSite(j.ID)) })
}

// jobSite is the site of a job id (plugin/site/job), "" for another form.
func jobSite(id string) string {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// scopedPlugins keeps, of each plugin, the sites u sees, and the plugins
// enabled at one of them.
func scopedPlugins(u access.User, ps []Plugin) []Plugin {
	if !u.Scoped() {
		return ps
	}
	var out []Plugin
	for _, p := range ps {
		p.Sites = slices.DeleteFunc(slices.Clone(p.Sites), func(s string) bool { return !u.SeesSite(s) })
		if len(p.Sites) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// scopedMessage reads message id for the user of r: store.ErrNotFound
// also when it is of a site the user does not see.
func (c *Console) scopedMessage(r *http.Request, id string) (*store.Message, error) {
	m, err := c.b.Store().GetMessage(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !userOf(r).SeesSite(m.Site) {
		return nil, fmt.Errorf("message %q: %w", id, store.ErrNotFound)
	}
	return m, nil
}

// scopeQuery limits a message search to the sites u sees: the sites
// asked for (q.Sites) must all be among them, else outside lists those
// that are not (the search selects nothing, a bulk replay is refused);
// none asked for is every site u sees (every site for an unscoped user).
func scopeQuery(u access.User, q *store.MessageQuery) (outside []string) {
	if !u.Scoped() {
		return nil
	}
	for _, s := range q.Sites {
		if !u.SeesSite(s) {
			outside = append(outside, s)
		}
	}
	if len(q.Sites) == 0 {
		q.Sites = slices.Clone(u.Sites)
	}
	return outside
}

// scopedSites keeps the sites u sees.
func scopedSites(u access.User, sites []string) []string {
	if !u.Scoped() {
		return sites
	}
	return slices.DeleteFunc(slices.Clone(sites), func(s string) bool { return !u.SeesSite(s) })
}

// scopedMessages keeps the messages of the sites u sees.
func scopedMessages(u access.User, ms []store.Message) []store.Message {
	if !u.Scoped() {
		return ms
	}
	return slices.DeleteFunc(slices.Clone(ms), func(m store.Message) bool { return !u.SeesSite(m.Site) })
}
