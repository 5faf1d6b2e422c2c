package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/api/outage"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
)

// maxBulkReplay bounds one bulk replay, as the console's does; a larger
// set is replayed by sending the request again (those replayed are no
// longer failed).
const maxBulkReplay = 1000

// bulkParams are the query parameters of POST /admin/messages/replay. Any
// other is refused, replaying nothing: a misspelt filter or dryRun would
// otherwise replay more than asked.
var bulkParams = []string{"site", "type", "id", "key", "from", "to", "dryRun"}

// bulkReplay is the answer to POST /admin/messages/replay.
type bulkReplay struct {
	// Status is "replayed" (every message selected was replayed),
	// "partly replayed" (Problems says why not the others) or, for a dry
	// run, "dry run".
	Status string `json:"status"`
	// DryRun: nothing was replayed; Messages lists what would be.
	DryRun   bool `json:"dryRun,omitempty"`
	Selected int  `json:"selected"`
	Replayed int  `json:"replayed"`
	// Sites are the sites whose messages were selected.
	Sites map[string]siteTally `json:"sites"`
	// More: more failed messages match than one request replays
	// (maxBulkReplay); send it again.
	More     bool     `json:"more,omitempty"`
	Problems []string `json:"problems,omitempty"`
	// Messages are, in a dry run, the messages selected, oldest first
	// per site as the store gives them.
	Messages []bulkMessage `json:"messages,omitempty"`
}

// bulkMessage is a message a dry run selected: what the caller needs to
// check it (its business key, which may hold an ID number, is not shown;
// GET /admin/messages/{id} shows it masked).
type bulkMessage struct {
	ID         string    `json:"id"`
	Site       string    `json:"site"`
	Type       string    `json:"type"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// bulkDryRun reports whether the bulk replay r asks is a dry run
// (dryRun=true, or 1, t, TRUE…); ok is false when dryRun is given but is
// not a boolean. A dry run is a read: the admin API does not audit it.
func bulkDryRun(r *http.Request) (dry, ok bool) {
	v := r.URL.Query().Get("dryRun")
	if v == "" {
		return false, true
	}
	dry, err := strconv.ParseBool(v)
	return dry, err == nil
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
// and how many it replayed at each. A parameter it does not know is
// refused (400 filter), replaying nothing.
//
// With dryRun=true it replays nothing and answers what it would replay:
// the same selection, scope checks (403) and limit, with the messages
// selected. A dry run is a read, like GET /admin/messages: it needs only
// the role viewer (see admin), within the caller's sites; it is not
// audited (not even refused) and answers while the audit log cannot be
// written.
func (s *server) replayAll(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	q := r.URL.Query()
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(bulkParams, k) {
			problems = append(problems, fmt.Sprintf("%q is not a parameter of a bulk replay (they are %s)", k, strings.Join(bulkParams, ", ")))
		}
	}
	dry, ok := bulkDryRun(r)
	if !ok {
		problems = append(problems, fmt.Sprintf("dryRun=%q is not true or false", q.Get("dryRun")))
	}
	if len(problems) > 0 {
		return &Error{Status: http.StatusBadRequest, Code: "filter", refused: true, Message: strings.Join(problems, "; ") + "; nothing was replayed"}
	}
	asked := siteParams(q)
	if outside := outsideScope(u, asked); len(outside) > 0 {
		if !dry {
			_ = audit.Record(r.Context(), audit.Entry{Action: "message.replay.bulk", Target: r.URL.Path, Site: strings.Join(asked, ","), Outcome: audit.Refused,
				Detail: "院区 " + strings.Join(outside, ",") + " 不在该用户的院区（" + strings.Join(u.Sites, ",") + "）之内。site(s) " + strings.Join(outside, ",") + " not one of the user's sites (" + strings.Join(u.Sites, ",") + ")"})
		}
		return &Error{Status: http.StatusForbidden, Code: "site_scoped", refused: true,
			Message: "site " + strings.Join(outside, ", ") + " is not one of the sites " + u.Name + " sees (" + strings.Join(u.Sites, ", ") +
				"); nothing was replayed: name only those sites, or none for all of them"}
	}
	mq := store.MessageQuery{IDPrefix: q.Get("id"), Key: q.Get("key"), TypePrefix: q.Get("type"), Sites: asked, Status: message.StatusFailed, Limit: 200}
	if len(asked) == 0 && u.Scoped() {
		mq.Sites = u.Sites
	}
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
	if dry {
		out.Status, out.DryRun = "dry run", true
		for _, m := range selected {
			t := out.Sites[m.Site]
			t.Selected++
			out.Sites[m.Site] = t
			out.Messages = append(out.Messages, bulkMessage{ID: m.ID, Site: m.Site, Type: m.Type, ReceivedAt: m.ReceivedAt})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
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
		Detail: fmt.Sprintf("选中 %[2]d 条失败消息，重放 %[1]d 条。replayed %[1]d of %[2]d failed messages selected", out.Replayed, out.Selected)}
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
		e.Detail += "；已中止：Kafka 或存储故障。stopped: Kafka or the store failed"
		_ = audit.Record(r.Context(), e)
		return s.outageError(r, stop, outage.Dependency)
	}
	_ = audit.Record(r.Context(), e)
	out.Status = "replayed"
	if out.Replayed < out.Selected {
		out.Status = "partly replayed"
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
