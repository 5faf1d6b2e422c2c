package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// JobPartsExpire removes the kept fee lines of sets of parts that ended
// or lapsed: a set left unfinished partsKeep after its last part is
// dropped (as a later part of its visit would drop it), and the lines of
// a set whose upload ended, or that was dropped or replaced, left behind
// by a crash or a failed delete, are deleted.
const JobPartsExpire = "parts-expire"

// partsIndexPrefix holds an entry per set of parts whose lines are kept,
// partsopen/<when it began>/<visit>/<set>, written before its first
// lines and deleted after its last: the job reads them oldest first.
const partsIndexPrefix = "partsopen/"

// partsIndexTime is the sortable time in a partsopen/ key.
const partsIndexTime = "20060102T150405.000000000Z"

// expireScan bounds the sets one run of the job looks at; an older set
// the job cannot yet drop stays first, so the work of a run is bounded
// and the next run goes on.
const expireScan = 100

// expireDeletes bounds the kept values of a set no longer in its
// visit's record one run deletes (read a few at a time to find them).
const expireDeletes = 200

// partsIndexEntry is the value of a partsopen/ key.
type partsIndexEntry struct {
	Visit string `json:"visit"`
	Set   string `json:"set"`
	// Gen is the generation of the set's lines (partsState.Gen); empty
	// for an entry of a set begun before generations.
	Gen string `json:"gen,omitempty"`
}

// indexSet writes the partsopen/ entry of set st of visit mdtrtID, begun
// at now, before any of its lines are kept.
func (r *run) indexSet(ctx context.Context, mdtrtID string, st *partsState, now time.Time) error {
	key := partsIndexPrefix + now.UTC().Format(partsIndexTime) + "/" + mdtrtID + "/" + st.Set
	b, _ := json.Marshal(partsIndexEntry{Visit: mdtrtID, Set: st.Set, Gen: st.Gen})
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := r.h.Put(pctx, key, b); err != nil {
		return fmt.Errorf("selfpay: record set %s of visit %s for the %s job (%s): %w", st.Set, mdtrtID, JobPartsExpire, key, err)
	}
	st.Index = key
	return nil
}

// expireParts is one run of JobPartsExpire for a site. Each instance may
// run it at once with the others and with the messages of the visits:
// the set's record is changed with compare-and-set (a conflict leaves
// the set to whoever changed it, or to the next run) and deletes of what
// is gone already are no error.
func (r *run) expireParts(ctx context.Context) (*sdk.RunJobResponse, error) {
	now := r.a.now().UTC()
	keep := r.s.opts.partsKeep
	es, err := r.h.Scan(ctx, partsIndexPrefix, expireScan)
	if err != nil {
		return nil, fmt.Errorf("selfpay: %s: read the sets of parts (%s): %w; the next run tries again", JobPartsExpire, partsIndexPrefix, err)
	}
	resp := &sdk.RunJobResponse{}
	var done []string
	var failed error
	for _, e := range es {
		begun, err := time.Parse(partsIndexTime, strings.SplitN(strings.TrimPrefix(e.Key, partsIndexPrefix), "/", 2)[0])
		var ix partsIndexEntry
		if err != nil || json.Unmarshal(e.Value, &ix) != nil || ix.Visit == "" || ix.Set == "" {
			resp.Diagnostics.Warn(e.Key, "state", "an unreadable entry of a set of parts is removed",
				"it names no visit and set; kept fee lines it stood for, if any, stay under partlines/ and can be deleted by hand")
			if err := r.h.Delete(ctx, e.Key); err != nil {
				failed = errors.Join(failed, err)
			}
			continue
		}
		if now.Sub(begun) <= keep {
			break // every set after it began later: none is past partsKeep
		}
		what, err := r.expireSet(ctx, e.Key, ix, now)
		switch {
		case errors.Is(err, sdk.ErrConflict):
			continue // a part of the visit, or another instance, changed it
		case err != nil:
			resp.Diagnostics.Error("$.part.set", "state", fmt.Sprintf("set %s of visit %s: its kept lines are not removed", ix.Set, ix.Visit),
				fmt.Sprintf("%v; the next run of %s tries again", err, JobPartsExpire))
			failed = errors.Join(failed, err)
			continue
		case what == "":
			continue
		}
		resp.Processed++
		done = append(done, what)
		if strings.HasPrefix(what, "dropped") {
			resp.Diagnostics.Warn("$.part.set", "part", fmt.Sprintf("set %s of visit %s, unfinished, was dropped", ix.Set, ix.Visit),
				what+"; import-pending tells of it: the HIS sends the stay again from part 1, as a new set")
		}
	}
	resp.Summary = fmt.Sprintf("%d sets of parts ended or lapsed had kept lines removed", resp.Processed)
	if len(done) > 0 {
		resp.Summary += ": " + strings.Join(done, "; ")
	}
	if failed != nil {
		return resp, fmt.Errorf("selfpay: %s removed the lines of %d sets, and failed for others: %w; the next run tries again", JobPartsExpire, resp.Processed, failed)
	}
	return resp, nil
}

// expireSet removes what set ix of its visit keeps, if its time is past,
// and says what it did ("" nothing).
func (r *run) expireSet(ctx context.Context, key string, ix partsIndexEntry, now time.Time) (string, error) {
	st, err := r.loadParts(ctx, ix.Visit)
	if err != nil {
		return "", err
	}
	// The entry is of the set the record holds: the same set, begun the
	// same time (generation); else of one dropped, replaced or ended
	// before the set was begun again.
	own := st.Set == ix.Set && st.Gen == ix.Gen
	if own && st.Index == "" {
		// The set's record lost the write that named the entry (or was
		// written before entries were): the entry is the set's.
		st.Index = key
	}
	switch {
	case own && st.Index == key && st.Final == nil && st.FinalMessage == "":
		if now.Sub(st.Updated) <= r.s.opts.partsKeep {
			return "", nil
		}
		parts, of := len(st.Parts), st.Of
		why := fmt.Sprintf("no part of it arrived for more than partsKeep (%s) after part %d of %d (at %s)", r.s.opts.partsKeep, parts, of, shownTime(st.Updated))
		if err := r.dropSet(ctx, ix.Visit, st, now, why); err != nil {
			return "", err
		}
		return fmt.Sprintf("dropped set %s of visit %s (part %s of %d received, the last at %s)", ix.Set, ix.Visit, partSpan(parts), of, shownTime(st.Updated)), nil
	case own && st.Index == key && st.Final == nil:
		// The last part arrived: its message uploads the set, or ended
		// without the set's record learning it.
		parts, of := len(st.Parts), st.Of
		if err := r.setEnded(ctx, ix.Visit, st, now); err != nil {
			return "", err
		}
		switch {
		case st.Set == "":
			return fmt.Sprintf("dropped set %s of visit %s (part %s of %d received; its last part did not begin the upload)", ix.Set, ix.Visit, partSpan(parts), of), nil
		case st.Final != nil:
			return fmt.Sprintf("removed the lines left of set %s of visit %s, uploaded", ix.Set, ix.Visit), nil
		}
		return "", nil // its upload runs
	case own && st.Index == key:
		r.deleteChunks(ctx, ix.Visit, st)
		return fmt.Sprintf("removed the lines left of set %s of visit %s, ended", ix.Set, ix.Visit), nil
	case own && st.Index != "":
		// An entry of a first try at the part 1 of a set begun before
		// generations that stopped before its record was stored; its
		// lines are under the keys of the set's, whose own entry stands.
		return "", r.h.Delete(ctx, key)
	}
	// The set is no longer its visit's (dropped, replaced, or begun again
	// since), or the entry is of a first try at its part 1 that stopped
	// before its record was stored: its lines are found by their keys,
	// those of its generation alone (partChunkKey), so the lines of the
	// set begun again are never among them.
	prefix := fmt.Sprintf("partlines/%s/%s/%s/", ix.Visit, ix.Set, ix.Gen)
	if ix.Gen == "" {
		prefix = fmt.Sprintf("partlines/%s/%s/0", ix.Visit, ix.Set)
	}
	n := 0
	for n < expireDeletes {
		es, err := r.h.Scan(ctx, prefix, 4)
		if err != nil {
			return "", err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if err := r.h.Delete(ctx, e.Key); err != nil {
				return "", err
			}
			n++
		}
	}
	if n >= expireDeletes {
		return fmt.Sprintf("removed %d values of the lines left of set %s of visit %s, more at the next run", n, ix.Set, ix.Visit), nil
	}
	if err := r.h.Delete(ctx, key); err != nil {
		return "", err
	}
	if n == 0 {
		return "", nil
	}
	return fmt.Sprintf("removed the lines left of set %s of visit %s, ended", ix.Set, ix.Visit), nil
}
