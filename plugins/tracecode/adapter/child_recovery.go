package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// The one-time child index of hierarchy answers kept before it existed.
//
// A hierarchy answer kept (storeQuery) indexes each code's parent
// (codeparent/) and each package's children (codechild/). Versions before
// 6a1c3c2 indexed the parents only, so a confirmation walking down from a
// package a draft lists (receivedInside) found none of its units in an
// answer they kept, and a case one of whose units another receipt had
// received on its own was confirmed: the unit received twice.
//
// Once per site, the stock-in sync (also with syncEnabled false) reads
// every kept answer, day by day (count/query/<yyyymmdd>, in key order)
// and record by record (log/query/<yyyymmdd>/<%08d> and its nodes), and
// writes the children of its packages; the parents are left as they are
// (a later answer's are not overwritten with an older one's). Writing a
// child twice changes nothing. A run reads at most childRecoveryNodes
// nodes (at least one answer) and childRecoveryScans scans of the days;
// the progress (the last day done, the day under way and its last record
// done, and the counts) is kept under childRecoveryKey after every answer
// with compare-and-set, so a run that stops resumes where it stopped and
// of runs on several instances at once one advances it.
const childRecoveryKey = "recovery/codechild"

const (
	// childRecoveryNodes bounds the hierarchy nodes one run reads (each
	// written as a child, 64 per host call).
	childRecoveryNodes = 100000
	// childRecoveryScans bounds the scans of the days' counters.
	childRecoveryScans = 1000
)

// childRecovery is the stored progress of the child index recovery.
type childRecovery struct {
	// After is the last counter key (count/query/<day>) whose answers
	// were all read (see prefixWalk); Day and Index the day under way and
	// its last record read.
	After string `json:"after,omitempty"`
	Day   string `json:"day,omitempty"`
	Index int64  `json:"index,omitempty"`
	// Done is set once every day was read; it never runs again.
	Done bool `json:"done,omitempty"`
	// Days, Answers, Nodes count what was read; Unreadable the answers
	// that could not be.
	Days       int       `json:"days"`
	Answers    int       `json:"answers"`
	Nodes      int       `json:"nodes"`
	Unreadable int       `json:"unreadable"`
	Runs       int       `json:"runs"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	DoneAt     time.Time `json:"doneAt,omitzero"`
}

func (r *childRecovery) summary() string {
	state := "continues next run"
	if r.Done {
		state = "done"
	}
	return fmt.Sprintf("child index of hierarchy answers kept before it (read once) %s after %d run(s): %d day(s), %d answer(s), %d node(s) read, %d unreadable",
		state, r.Runs, r.Days, r.Answers, r.Nodes, r.Unreadable)
}

// errChildBudget stops a run of the recovery that read its nodes.
var errChildBudget = errors.New("the run's node budget is spent")

// recoverChildIndex runs (or continues) the recovery above, reading at
// most budget nodes. It returns the progress, or nil when it was done
// before this run or another run advanced it meanwhile; err is for the
// state store (the progress so far is kept).
func (h *handler) recoverChildIndex(ctx context.Context, budget int) (*childRecovery, sdk.Diagnostics, error) {
	host := h.req.Host
	var rec childRecovery
	progress := recoveryProgress{host: host, key: childRecoveryKey, what: "the child index recovery",
		again: "writing a child twice changes nothing", item: "hierarchy answer"}
	if err := progress.load(ctx, &rec); err != nil {
		return nil, nil, err
	}
	if rec.Done {
		return nil, nil, nil
	}
	if rec.StartedAt.IsZero() {
		rec.StartedAt = h.a.now()
	}
	rec.Runs++
	var ds sdk.Diagnostics
	warn := func(summary, detail string) {
		if rec.Unreadable++; rec.Unreadable <= maxRecoveryDiags {
			ds.Warn("", "state", summary, detail)
		}
	}
	errOther := errors.New("another run advanced the recovery")
	save := func(after string) error {
		err := progress.save(ctx, &rec, after)
		if errors.Is(err, sdk.ErrConflict) {
			return errOther
		}
		return err
	}
	read := 0
	answer := func(day string, i int64) error {
		key := fmt.Sprintf("log/%s/%s/%08d", kindQuery, day, i)
		e, err := host.Get(ctx, key)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			return nil // a record reserved and never written
		case err != nil:
			return fmt.Errorf("read the hierarchy answer %s: %w", key, err)
		}
		var q queryRecord
		if err := json.Unmarshal(e.Value, &q); err != nil {
			warn(fmt.Sprintf("hierarchy answer %s cannot be decoded; the child index recovery skipped it", key),
				fmt.Sprintf("%v; ask the platform again about its codes (%s) so they are indexed", err, OpCodeSmallest))
			return nil
		}
		var pairs [][2]string
		if err := queryChunks(ctx, host, key, &q, func(rows []queryNode) error {
			for _, r := range rows {
				pairs = append(pairs, [2]string{r.Code, r.Parent})
			}
			return nil
		}); err != nil {
			warn(fmt.Sprintf("the nodes of hierarchy answer %s (%s%s) cannot be read; the child index recovery skipped it", key, q.BillNo, q.Code),
				fmt.Sprintf("%v; ask the platform again about its codes (%s) so they are indexed", err, OpCodeSmallest))
			return nil
		}
		if err := indexChildren(ctx, host, pairs); err != nil {
			return fmt.Errorf("index the children of hierarchy answer %s: %w", key, err)
		}
		rec.Answers++
		rec.Nodes += len(pairs)
		read += len(pairs)
		return nil
	}
	page := func(es []sdk.Entry) error {
		for _, e := range es {
			day := strings.TrimPrefix(e.Key, "count/"+kindQuery+"/")
			n, err := strconv.ParseInt(string(e.Value), 10, 64)
			if err != nil {
				warn(fmt.Sprintf("the hierarchy answer counter %s is not a number; the child index recovery skipped day %s", e.Key, day),
					fmt.Sprintf("%v; ask the platform again about the codes of that day's documents (%s)", err, OpCodesSmallest))
				n = 0
			}
			first := int64(1)
			if day == rec.Day {
				first = rec.Index + 1
			}
			for i := first; i <= n; i++ {
				if read >= budget {
					return errChildBudget
				}
				if err := answer(day, i); err != nil {
					return err
				}
				rec.Day, rec.Index = day, i
				if err := save(e.Key); err != nil {
					return err
				}
			}
			rec.Days++
			rec.After, rec.Day, rec.Index = e.Key, "", 0
			if err := save(e.Key); err != nil {
				return err
			}
		}
		return nil
	}
	w := prefixWalk{host: host, page: logGroup - 1, budget: childRecoveryScans, after: rec.After, fn: page}
	done, err := w.walk(ctx, "count/"+kindQuery+"/")
	switch {
	case errors.Is(err, errOther):
		return nil, ds, nil
	case errors.Is(err, errChildBudget):
		return &rec, ds, nil // saved after the last answer read
	case err != nil:
		return &rec, ds, err
	}
	rec.After = w.after
	if done {
		rec.Done, rec.DoneAt = true, h.a.now()
	}
	if err := save(rec.After); errors.Is(err, errOther) {
		return nil, ds, nil
	} else if err != nil {
		return &rec, ds, err
	}
	if rec.Unreadable > maxRecoveryDiags {
		ds.Warn("", "state", fmt.Sprintf("%d hierarchy answers in all the child index recovery could not read", rec.Unreadable), "see the recovery's progress ("+childRecoveryKey+") for the counts")
	}
	return &rec, ds, nil
}
