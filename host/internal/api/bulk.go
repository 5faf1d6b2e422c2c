package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
)

// maxBulkReplay bounds one bulk replay, as the console's does; a larger
// set is replayed by sending the request again (those replayed are no
// longer failed).
const maxBulkReplay = 1000

// bulkReplay is the answer to POST /admin/messages/replay.
type bulkReplay struct {
	// Status is "replayed" (every message selected was replayed) or
	// "partly replayed" (Problems says why not the others).
	Status   string `json:"status"`
	Selected int    `json:"selected"`
	Replayed int    `json:"replayed"`
	// Sites are the sites whose messages were selected.
	Sites map[string]siteTally `json:"sites"`
	// More: more failed messages match than one request replays
	// (maxBulkReplay); send it again.
	More     bool     `json:"more,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// siteTally is a bulk replay at one site.
type siteTally struct {
	Selected int `json:"selected"`
	Replayed int `json:"replayed"`
}

// replayAll sends through again every failed message the query selects
// (at most maxBulkReplay): of the sites named (site= several times, or
// s1,s2; none: every site the caller sees), with the type and id
// prefixes, business key and received times (from inclusive, to
// exclusive, RFC 3339) given. A site outside the caller's scope refuses
// the whole request (403 site_scoped, audited refused): nothing is
// replayed. Its audit entry names every site whose messages it selected,
// and how many it replayed at each.
func (s *server) replayAll(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	q := r.URL.Query()
	asked := siteParams(q)
	if outside := outsideScope(u, asked); len(outside) > 0 {
		_ = audit.Record(r.Context(), audit.Entry{Action: "message.replay.bulk", Target: r.URL.Path, Site: strings.Join(asked, ","), Outcome: audit.Refused,
			Detail: "site(s) " + strings.Join(outside, ",") + " not one of the user's sites (" + strings.Join(u.Sites, ",") + ")"})
		return &Error{Status: http.StatusForbidden, Code: "site_scoped", refused: true,
			Message: "site " + strings.Join(outside, ", ") + " is not one of the sites " + u.Name + " sees (" + strings.Join(u.Sites, ", ") +
				"); nothing was replayed: name only those sites, or none for all of them"}
	}
	mq := store.MessageQuery{IDPrefix: q.Get("id"), Key: q.Get("key"), TypePrefix: q.Get("type"), Sites: asked, Status: message.StatusFailed, Limit: 200}
	if len(asked) == 0 && u.Scoped() {
		mq.Sites = u.Sites
	}
	var problems []string
	for name, into := range map[string]*time.Time{"from": &mq.From, "to": &mq.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q is not an RFC 3339 time such as 2026-12-05T08:30:00+08:00", name, v))
			}
			*into = t
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return &Error{Status: http.StatusBadRequest, Code: "filter", refused: true, Message: strings.Join(problems, "; ") + "; nothing was replayed"}
	}

	var selected []store.Message
	more := false
	for {
		ms, next, err := s.b.Store().SearchMessages(r.Context(), mq)
		if err != nil {
			return s.storeError(r, err)
		}
		for _, m := range ms {
			if !u.SeesSite(m.Site) {
				continue
			}
			if len(selected) == maxBulkReplay {
				more = true
				break
			}
			selected = append(selected, m)
		}
		if next == "" || more {
			break
		}
		mq.After = next
	}

	out := bulkReplay{Selected: len(selected), More: more, Sites: map[string]siteTally{}}
	var stop error
	for _, m := range selected {
		t := out.Sites[m.Site]
		t.Selected++
		if stop == nil {
			err := s.b.Replay(r.Context(), m.ID)
			switch {
			case err == nil:
				t.Replayed++
				out.Replayed++
			case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
				// Replayed meanwhile by someone else, or finished.
				if len(out.Problems) < 20 {
					out.Problems = append(out.Problems, m.ID+": no longer failed (replayed meanwhile, or finished); GET /admin/messages/"+m.ID)
				}
			default:
				stop = err // Kafka or the store: the rest would fail too
			}
		}
		out.Sites[m.Site] = t
	}

	sites := slices.Sorted(maps.Keys(out.Sites))
	var tally []string
	for _, site := range sites {
		tally = append(tally, fmt.Sprintf("%s: %d of %d", site, out.Sites[site].Replayed, out.Sites[site].Selected))
	}
	e := audit.Entry{Action: "message.replay.bulk", Target: r.URL.Path, Site: strings.Join(sites, ","), Outcome: audit.OK,
		Detail: fmt.Sprintf("replayed %d of %d failed messages selected", out.Replayed, out.Selected)}
	if len(sites) == 0 {
		e.Site = strings.Join(mq.Sites, ",")
	}
	if len(tally) > 0 {
		e.Detail += " (" + strings.Join(tally, ", ") + ")"
	}
	if out.Replayed < out.Selected {
		e.Outcome = audit.Failed
	}
	if stop != nil {
		e.Detail += "; stopped: Kafka or the store failed"
		_ = audit.Record(r.Context(), e)
		return s.outageError(r, stop, dependencyOutage)
	}
	_ = audit.Record(r.Context(), e)
	out.Status = "replayed"
	if out.Replayed < out.Selected {
		out.Status = "partly replayed"
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
