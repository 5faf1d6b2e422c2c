package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/audit"
)

// auditEntry is one audit entry as the admin API returns it.
type auditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	User    string    `json:"user"`
	Role    string    `json:"role,omitempty"`
	From    string    `json:"from,omitempty"`
	Action  string    `json:"action"`
	Target  string    `json:"target,omitempty"`
	Site    string    `json:"site,omitempty"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}

// auditLog lists the audit log, newest first: GET /admin/audit?user=&
// action=&from=&to=&before=&limit= (limit 1 to 500, default 100; next
// names the following page). Times without a zone are UTC.
func (s *server) auditLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, problems := audit.ParseFilter(q, time.UTC, 100)
	if len(problems) > 0 {
		return &Error{Status: http.StatusBadRequest, Code: "bad_filter", Message: strings.Join(problems, "; ")}
	}
	entries, err := s.b.Store().ListAudit(r.Context(), f)
	if err != nil {
		return s.storeError(r, err)
	}
	out := struct {
		Entries []auditEntry `json:"entries"`
		Next    string       `json:"next,omitempty"`
	}{Entries: make([]auditEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, auditEntry{ID: e.ID, At: e.At, User: e.Actor, Role: e.Role, From: e.Remote, Action: e.Action,
			Target: e.Target, Site: e.Site, Outcome: e.Outcome, Detail: e.Detail})
	}
	if len(entries) == f.Limit {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
		out.Next = "/admin/audit?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
