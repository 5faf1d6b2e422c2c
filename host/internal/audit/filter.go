package audit

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// MaxPage bounds the entries one page (or admin API call) returns.
const MaxPage = 500

// timeLayouts are the forms a time filter may take: RFC 3339, or local
// time as a browser's datetime-local field or a date sends it.
var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// ParseFilter reads an audit query (user, action, from, to, before,
// limit) in loc, the time zone of times written without one. It returns
// every problem at once. An action ending in "*" matches by prefix
// ("message.*").
func ParseFilter(q url.Values, loc *time.Location, defaultLimit int) (store.AuditFilter, []string) {
	f := store.AuditFilter{Actor: strings.TrimSpace(q.Get("user")), Action: strings.TrimSpace(q.Get("action")), Limit: defaultLimit}
	var problems []string
	parseTime := func(name string) time.Time {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return time.Time{}
		}
		for _, l := range timeLayouts {
			if t, err := time.ParseInLocation(l, v, loc); err == nil {
				return t
			}
		}
		problems = append(problems, fmt.Sprintf("%s=%q is not a time; write 2026-12-03, 2026-12-03T08:30 or RFC 3339", name, v))
		return time.Time{}
	}
	f.From, f.To = parseTime("from"), parseTime("to")
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		problems = append(problems, "to must be after from")
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			problems = append(problems, fmt.Sprintf("before=%q is not an entry id (a positive number)", v))
		}
		f.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPage {
			problems = append(problems, fmt.Sprintf("limit=%q must be between 1 and %d", v, MaxPage))
		} else {
			f.Limit = n
		}
	}
	return f, problems
}
