package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// The admin pages' templates (admin role): the audit log, sites and plugins.
func init() {
	pageNames = append(pageNames, "audit")
}

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// auditData is the audit page's data.
type auditData struct {
	User, Action, From, To string
	Problems               []string
	Entries                []store.AuditEntry
	// Older links to the next page back ("" on the last page); Newest
	// back to the first page with the same filters.
	Older, Newest string
}

// auditPage shows the audit log, newest first, filtered and paged.
// There is no way to change or delete an entry anywhere.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := auditData{User: q.Get("user"), Action: q.Get("action"), From: q.Get("from"), To: q.Get("to")}
	f, problems := audit.ParseFilter(q, time.Local, auditPageSize)
	d.Problems = problems
	status := http.StatusOK
	if len(problems) == 0 {
		entries, err := c.b.Store().ListAudit(r.Context(), f)
		if err != nil {
			c.o.Logger.Error("console: read the audit log", "err", err)
			c.fail(w, r, http.StatusServiceUnavailable, "无法读取审计日志 (audit log unavailable)", err.Error(), "Check /readyz (store) and try again.")
			return
		}
		d.Entries = entries
		keep := url.Values{}
		for _, k := range []string{"user", "action", "from", "to", "limit"} {
			if v := q.Get(k); v != "" {
				keep.Set(k, v)
			}
		}
		d.Newest = Prefix + "admin/audit?" + keep.Encode()
		if len(entries) == f.Limit {
			keep.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
			d.Older = Prefix + "admin/audit?" + keep.Encode()
		}
	} else {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "audit", "审计日志 (audit log)", "admin-audit", d)
}
