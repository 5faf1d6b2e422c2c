package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/store"
)

// siteScoped lists the admin routes that honour a user's site scope
// (access.User.Sites): their lists hold only the user's sites, and an
// item of another site answers 404 as one that does not exist, so an id
// does not reveal that it exists. Every other route is of the whole
// instance (plugins and their status, reload, re-encryption, users, the
// audit log, sites' settings): a scoped user is refused it (403
// site_scoped). A route added to adminRoutes is therefore refused to
// scoped users until it is listed here, after its handler checks sites.
// GET /admin/plugins gives a scoped user each plugin with only their sites
// (scopePlugins).
var siteScoped = map[string]bool{
	"GET /admin/plugins":                         true,
	"POST /admin/messages/replay":                true,
	"GET /admin/jobs":                            true,
	"GET /admin/messages":                        true,
	"GET /admin/messages/{id}":                   true,
	"GET /admin/exchanges":                       true,
	"POST /admin/jobs/{plugin}/{site}/{job}/run": true,
	"POST /admin/messages/{id}/replay":           true,
}

type userKey struct{}

// withUser puts the calling user in ctx, for the handlers' scope checks.
func withUser(ctx context.Context, u access.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// caller is the user calling (the zero User, every site, when none is in
// the context: handlers are always behind admin, which puts one there).
func caller(r *http.Request) access.User {
	u, _ := r.Context().Value(userKey{}).(access.User)
	return u
}

// scopeRefused is the answer to a scoped user on a route of the whole
// instance.
func scopeRefused(u access.User, pattern string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "site_scoped", refused: true,
		Message: pattern + " is about the whole instance, and " + u.Name + " sees only the site(s) " + strings.Join(u.Sites, ", ") +
			"; ask an admin without sites, or one may remove the limit with: medgate user sites " + u.Name + " all"}
}

// listSites are the sites a list holds, each read from the store on its
// own (the store lists one site, or every site for ""): the sites asked
// for, when the user sees them all (none when not: the list is empty, as
// for a site without messages); with none asked, every site for an
// unscoped user ("") and each of a scoped user's sites.
func listSites(u access.User, asked []string) []string {
	switch {
	case len(outsideScope(u, asked)) > 0:
		return nil
	case len(asked) > 0:
		return asked
	case !u.Scoped():
		return []string{""}
	}
	return u.Sites
}

// siteParams are the sites a request names: site= given several times,
// or as a list separated by commas (site codes hold none), each once,
// sorted.
func siteParams(q url.Values) []string {
	var out []string
	for _, list := range q["site"] {
		for s := range strings.SplitSeq(list, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// outsideScope lists the sites of asked that u does not see.
func outsideScope(u access.User, asked []string) []string {
	var out []string
	for _, s := range asked {
		if !u.SeesSite(s) {
			out = append(out, s)
		}
	}
	return out
}

// notFoundMessage says that no message has an id, and the commonest
// mistake: a reply's own id given for the id of its request.
const notFoundMessage = "no message with this id has been received: give the id the platform sent the message under (a reply names it in requestId; the reply's own id names no message)"

// messageNotFound is the answer for a message that does not exist or is
// of a site the caller does not see: the same, so an id reveals nothing.
func messageNotFound(refused bool) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: notFoundMessage, refused: refused}
}

// jobSite is the site of a job id (plugin/site/job).
func jobSite(id string) string {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// scopeJobs keeps the jobs of the sites u sees.
func scopeJobs(u access.User, jobs []scheduler.Status) []scheduler.Status {
	if !u.Scoped() {
		return jobs
	}
	out := make([]scheduler.Status, 0, len(jobs))
	for _, j := range jobs {
		if u.SeesSite(jobSite(j.ID)) {
			out = append(out, j)
		}
	}
	return out
}

// unknownJob answers a job id that is not scheduled, or is of a site the
// caller does not see (the same answer: whether it exists is not told).
func unknownJob(id string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "unknown_job", refused: true,
		Message: fmt.Sprintf("job %q: %v; list jobs with `medgate jobs`", id, scheduler.ErrUnknownJob)}
}

// seesMessage reads message id for r's caller: store.ErrNotFound also
// when it is of a site the caller does not see.
func (s *server) seesMessage(r *http.Request, id string) (*store.Message, error) {
	m, err := s.b.Store().GetMessage(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !caller(r).SeesSite(m.Site) {
		return nil, fmt.Errorf("message %q: %w", id, store.ErrNotFound)
	}
	return m, nil
}

// scopePlugins keeps, of the plugin list ps (Backend.Plugins), the plugins
// enabled at one of the sites u sees, each with only those sites, as the
// console's overview does. ok is false when u is scoped and ps is not a
// []sites.Info: a list whose sites cannot be told is not given to a
// scoped user.
func scopePlugins(u access.User, ps any) (out any, ok bool) {
	if !u.Scoped() {
		return ps, true
	}
	infos, ok := ps.([]sites.Info)
	if !ok {
		return nil, false
	}
	kept := []sites.Info{}
	for _, p := range infos {
		p.Sites = slices.DeleteFunc(slices.Clone(p.Sites), func(s string) bool { return !u.SeesSite(s) })
		if len(p.Sites) > 0 {
			kept = append(kept, p)
		}
	}
	return kept, true
}
