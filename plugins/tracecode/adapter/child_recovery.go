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
	// source names what the recovery reads (not stored).
	source string
}

func (r *childRecovery) summary() string {
	state := "continues next run"
	if r.Done {
		state = "done"
	}
	if r.source == "document" {
		return fmt.Sprintf("child index of stock-in listings kept before it (read once) %s after %d run(s): %d day(s), %d document(s), %d code(s) read, %d unreadable",
			state, r.Runs, r.Days, r.Answers, r.Nodes, r.Unreadable)
	}
	return fmt.Sprintf("child index of hierarchy answers kept before it (read once) %s after %d run(s): %d day(s), %d answer(s), %d node(s) read, %d unreadable",
		state, r.Runs, r.Days, r.Answers, r.Nodes, r.Unreadable)
}

// errChildBudget stops a run of the recovery that read its nodes.
var errChildBudget = errors.New("the run's node budget is spent")

// childSource is what one child index recovery reads: the records of a
// daily log (count/<kind>/<day>, log/<kind>/<day>/<%08d>), each giving
// child → parent pairs.
type childSource struct {
	// key is where the progress is kept; what names the recovery and item
	// a record, in messages; again says how to have a record read again.
	key, kind, what, item, again string
	// pairs returns the child → parent pairs of the record at key (its
	// value) and how many codes it read; an error: the record cannot be
	// read, it is skipped with a warning.
	pairs func(ctx context.Context, key string, value []byte) ([][2]string, int, error)
}

// answerChildren reads the hierarchy answers kept (storeQuery).
func answerChildren(host sdk.Host) childSource {
	return childSource{key: childRecoveryKey, kind: kindQuery, what: "the child index recovery", item: "hierarchy answer",
		again: "ask the platform again about its codes (" + OpCodeSmallest + ") so they are indexed",
		pairs: func(ctx context.Context, key string, value []byte) ([][2]string, int, error) {
			var q queryRecord
			if err := json.Unmarshal(value, &q); err != nil {
				return nil, 0, err
			}
			var pairs [][2]string
			err := queryChunks(ctx, host, key, &q, func(rows []queryNode) error {
				for _, r := range rows {
					pairs = append(pairs, [2]string{r.Code, r.Parent})
				}
				return nil
			})
			return pairs, len(pairs), err
		}}
}

// listingChildRecoveryKey keeps the progress of the child index of the
// parents that stock-in listings gave their codes, kept before it existed.
const listingChildRecoveryKey = "recovery/codechild-listings"

// listingChildren reads the fetched documents stored (saveDoc): the
// parent the platform's listing gave each code.
func listingChildren(host sdk.Host) childSource {
	return childSource{key: listingChildRecoveryKey, kind: kindDoc, what: "the child index recovery of stock-in listings", item: "document",
		again: "fetch the document's day again (" + OpStockInFetch + ") after it changed on the platform, or ask the platform about its codes (" + OpCodesSmallest + ")",
		pairs: func(ctx context.Context, key string, value []byte) ([][2]string, int, error) {
			var d docRecord
			if err := json.Unmarshal(value, &d); err != nil {
				return nil, 0, err
			}
			if d.Source != sourcePlatform || d.MovedTo != "" {
				return nil, 0, nil
			}
			var pairs [][2]string
			n := 0
			err := readCodes(ctx, host, &d, func(r codeRow) error {
				n++
				if r.Parent != "" {
					pairs = append(pairs, [2]string{r.Code, r.Parent})
				}
				return nil
			})
			if errors.Is(err, errDocChanged) {
				// Saved again meanwhile: that save indexed its children.
				return nil, n, nil
			}
			return pairs, n, err
		}}
}

// childIndexReady reports whether both child index recoveries are done,
// running them (resuming where they stopped) with at most budget codes
// read when they are not. A confirmation walks down the packages a draft
// lists through the child index: it must not check a draft before the
// relations kept before the index existed are in it.
func (h *handler) childIndexReady(ctx context.Context, budget int) (bool, sdk.Diagnostics, error) {
	var all sdk.Diagnostics
	for _, src := range []childSource{answerChildren(h.req.Host), listingChildren(h.req.Host)} {
		done := false
		// A run that finds another run (a concurrent confirmation)
		// advanced the recovery reads the progress again and goes on from
		// there: each try advances it, whoever stores the step.
		for range 20 {
			var rec childRecovery
			progress := recoveryProgress{host: h.req.Host, key: src.key, what: src.what}
			if err := progress.load(ctx, &rec); err != nil {
				return false, all, err
			}
			if rec.Done {
				done = true
				break
			}
			got, ds, err := h.recoverChildren(ctx, budget, src)
			all = append(all, ds...)
			if err != nil {
				return false, all, err
			}
			if got != nil {
				done = got.Done
				break
			}
		}
		if !done {
			return false, all, nil
		}
	}
	return true, all, nil
}

// recoverChildIndex runs (or continues) the recovery above, reading at
// most budget nodes. It returns the progress, or nil when it was done
// before this run or another run advanced it meanwhile; err is for the
// state store (the progress so far is kept).
func (h *handler) recoverChildIndex(ctx context.Context, budget int) (*childRecovery, sdk.Diagnostics, error) {
	return h.recoverChildren(ctx, budget, answerChildren(h.req.Host))
}

// recoverListingChildren is recoverChildIndex for the parents stock-in
// listings gave their codes (the fetched documents stored).
func (h *handler) recoverListingChildren(ctx context.Context, budget int) (*childRecovery, sdk.Diagnostics, error) {
	return h.recoverChildren(ctx, budget, listingChildren(h.req.Host))
}

// recoverChildren runs (or continues) one child index recovery.
func (h *handler) recoverChildren(ctx context.Context, budget int, src childSource) (*childRecovery, sdk.Diagnostics, error) {
	host := h.req.Host
	rec := childRecovery{source: src.item}
	progress := recoveryProgress{host: host, key: src.key, what: src.what,
		again: "writing a child twice changes nothing", item: src.item}
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
		key := fmt.Sprintf("log/%s/%s/%08d", src.kind, day, i)
		e, err := host.Get(ctx, key)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			return nil // a record reserved and never written
		case err != nil:
			return fmt.Errorf("read the %s %s: %w", src.item, key, err)
		}
		pairs, n, err := src.pairs(ctx, key, e.Value)
		if err != nil {
			warn(fmt.Sprintf("%s %s cannot be read; %s skipped it", src.item, key, src.what), fmt.Sprintf("%v; %s", err, src.again))
			return nil
		}
		if err := indexChildren(ctx, host, pairs); err != nil {
			return fmt.Errorf("index the children of %s %s: %w", src.item, key, err)
		}
		rec.Answers++
		rec.Nodes += n
		read += max(n, 1)
		return nil
	}
	page := func(es []sdk.Entry) error {
		for _, e := range es {
			day := strings.TrimPrefix(e.Key, "count/"+src.kind+"/")
			n, err := strconv.ParseInt(string(e.Value), 10, 64)
			if err != nil {
				warn(fmt.Sprintf("the %s counter %s is not a number; %s skipped day %s", src.item, e.Key, src.what, day),
					fmt.Sprintf("%v; %s", err, src.again))
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
	done, err := w.walk(ctx, "count/"+src.kind+"/")
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
		ds.Warn("", "state", fmt.Sprintf("%d %ss in all %s could not read", rec.Unreadable, src.item, src.what), "see the recovery's progress ("+src.key+") for the counts")
	}
	return &rec, ds, nil
}
