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

// The one-time recovery of receipts lost before the confirmation mark.
//
// A confirmation marks its draft (receiptpending/<id>) before it stores it
// as confirmed, and the stock-in sync publishes every marked draft's
// receipt (publishPendingReceipts). Drafts confirmed before the mark
// existed carry none: the earliest versions took a confirmed draft off the
// work list before publishing its receipt, one version marked it on the
// work list instead (draftopen/<id> {"confirming": true}). A receipt whose
// publication failed then was never published, and only reading every
// stored draft finds it.
//
// Once per site, the stock-in sync reads every draft (draft/<id>) in key
// order, a page at a time, and marks each confirmed draft that is not
// marked published (published: true, set right after the receipt event is
// acknowledged, in every version) so the normal path publishes it. The
// receipt's event id is fixed by the site and the receipt number kept on
// the draft (receiptEventID), as it was in every version: a receipt that
// was in fact published but whose draft was not marked (the plugin stopped
// between the two, or the earliest versions' lost compare-and-set) goes out
// again with the same event id, a duplicate HIS recognises by id.
//
// The progress (the last draft key read, and the counts) is kept under
// receiptRecoveryKey after every page with compare-and-set, so an
// interrupted run resumes where it stopped, two runs never both advance it,
// and marking a draft twice changes nothing. Each run makes at most
// recoveryScanBudget scans of at most recoveryPage+1 drafts each. Proving
// a prefix empty is a scan too, and most scans do: about 7 scans per draft
// in a large store, and several hundred for even a dozen drafts (every
// byte a key can hold after each narrowed prefix is tried), so one run
// reads some 1,400 drafts and a larger store takes several runs (the job
// runs hourly).
const receiptRecoveryKey = "recovery/receipts"

// recoveryPage is the number of drafts one scan of the recovery reads as
// a page; it asks for one more, so no scan returns more than logGroup
// entries (drafts can be large: their codes are inline).
const recoveryPage = logGroup - 1

// recoveryScanBudget bounds the scans of one run of the recovery.
const recoveryScanBudget = 10000

// maxRecoveryDiags bounds the diagnostics of one run about drafts the
// recovery could not read.
const maxRecoveryDiags = 10

// receiptRecovery is the stored progress of the recovery.
type receiptRecovery struct {
	// After is the key of the last draft read: every draft key up to it
	// was handled.
	After string `json:"after,omitempty"`
	// Done is set once every draft was read; the recovery never runs again.
	Done bool `json:"done,omitempty"`
	// Drafts, Confirmed, Unpublished, Marked and Unreadable count the
	// drafts read, the confirmed ones, the confirmed ones not marked
	// published, those of them that had no confirmation mark (marked now)
	// and the drafts that could not be decoded or had no receipt number.
	Drafts      int       `json:"drafts"`
	Confirmed   int       `json:"confirmed"`
	Unpublished int       `json:"unpublished"`
	Marked      int       `json:"marked"`
	Unreadable  int       `json:"unreadable"`
	Runs        int       `json:"runs"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	DoneAt      time.Time `json:"doneAt,omitzero"`
}

// summary words the recovery's counts for a job's result.
func (r *receiptRecovery) summary() string {
	state := "continues next run"
	if r.Done {
		state = "done"
	}
	return fmt.Sprintf("receipt recovery (drafts confirmed before the confirmation mark, read once) %s after %d run(s): %d draft(s) read, %d confirmed, %d confirmed and not marked published, %d of them marked for publication now, %d unreadable",
		state, r.Runs, r.Drafts, r.Confirmed, r.Unpublished, r.Marked, r.Unreadable)
}

// recoverLostReceipts runs (or continues) the one-time recovery described
// above and returns the progress, or nil when it was already done before
// this run. Drafts it cannot read are warnings; err is for the state store
// (the progress so far is kept).
func (h *handler) recoverLostReceipts(ctx context.Context) (*receiptRecovery, sdk.Diagnostics, error) {
	host := h.req.Host
	var rec receiptRecovery
	progress := recoveryProgress{host: host, key: receiptRecoveryKey, what: "the receipt recovery",
		again: "marking a draft twice changes nothing", item: "draft"}
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
	diags := 0
	warn := func(summary, detail string) {
		rec.Unreadable++
		if diags++; diags <= maxRecoveryDiags {
			ds.Warn("", "state", summary, detail)
		}
	}
	save := func() error { return progress.save(ctx, &rec, rec.After) }
	page := func(es []sdk.Entry) error {
		for _, e := range es {
			rec.Drafts++
			id := unesc(strings.TrimPrefix(e.Key, "draft/"))
			var d draft
			if err := json.Unmarshal(e.Value, &d); err != nil {
				warn(fmt.Sprintf("draft %s cannot be decoded; the receipt recovery skipped it", id),
					fmt.Sprintf("%s: %v; if it was confirmed, check in HIS that its receipt arrived", e.Key, err))
				continue
			}
			if d.Status != draftConfirmed {
				continue
			}
			rec.Confirmed++
			if d.Published {
				continue
			}
			if d.ReceiptNo == "" {
				warn(fmt.Sprintf("confirmed draft %s has no receipt number; the receipt recovery cannot publish it", id),
					"a confirmation stores the receipt number with the confirmed state; check the draft (tracecode.draft.get) and in HIS whether its receipt arrived")
				continue
			}
			rec.Unpublished++
			// Only if absent: the mark of a confirmation under way is kept
			// as it is.
			_, err := host.CompareAndSet(ctx, receiptPendingKey(id), 0, []byte("{}"))
			switch {
			case errors.Is(err, sdk.ErrConflict):
				continue // marked already: the normal path has it
			case err != nil:
				return fmt.Errorf("mark the receipt of confirmed draft %s for publication: %w", id, err)
			}
			rec.Marked++
			// Back on the work list as not published (receiptPending)
			// until the receipt goes out, as a confirmation leaves it.
			if _, err := host.CompareAndSet(ctx, draftOpenKey(id), 0, []byte("{}")); err != nil && !errors.Is(err, sdk.ErrConflict) {
				return fmt.Errorf("list confirmed draft %s as not published: %w", id, err)
			}
		}
		if len(es) > 0 {
			rec.After = es[len(es)-1].Key
		}
		return save()
	}
	w := prefixWalk{host: host, page: recoveryPage, budget: recoveryScanBudget, after: rec.After, fn: page}
	done, err := w.walk(ctx, "draft/")
	if err != nil {
		return &rec, ds, err
	}
	// Also the prefixes found empty since the last page are progress.
	rec.After = w.after
	if done {
		rec.Done, rec.DoneAt = true, h.a.now()
	}
	if err := save(); err != nil {
		return &rec, ds, err
	}
	if diags > maxRecoveryDiags {
		ds.Warn("", "state", fmt.Sprintf("%d more drafts the receipt recovery could not read", diags-maxRecoveryDiags), "see the recovery's progress ("+receiptRecoveryKey+") for the counts")
	}
	return &rec, ds, nil
}

// escAlphabet is every byte esc (url.PathEscape) writes, in byte order:
// the unreserved characters, the sub-delimiters a path segment keeps, and
// '%' followed by two upper-case hex digits for every other byte.
const escAlphabet = "$%&+-.0123456789:=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"

// escHex is the bytes that follow a '%' written by esc.
const escHex = "0123456789ABCDEF"

// keyEnd follows every byte esc writes: p+keyEnd sorts after every key
// under the prefix p, and before every later key.
const keyEnd = "\x7f"

// prefixWalk reads every entry under a prefix whose keys end in esc
// output, in key order, with scans that return at most page+1 entries.
// The host's scan has a prefix and a limit but no start key, so the walk
// narrows the prefix: when a prefix holds more than a page, the entries
// before the last one's next byte are complete, and the prefixes that
// extend it by that byte and by each later byte esc can write are walked
// in turn. Every key up to after was read: a walk resumes where an earlier
// one stopped, without scanning again what lies before after (after is a
// key read last, or p+keyEnd once every key under p was read, so that
// prefixes found empty count as progress).
type prefixWalk struct {
	host   sdk.Host
	page   int
	budget int // scans this walk may make
	scans  int
	after  string
	// fn gets each non-empty group of entries, in key order, all after
	// the previous group; an error stops the walk.
	fn func([]sdk.Entry) error
}

// walk reads the entries under p; it reports false when the budget ran
// out first (w.after says how far it read).
func (w *prefixWalk) walk(ctx context.Context, p string) (bool, error) {
	if p+keyEnd <= w.after {
		return true, nil // every key under p was read
	}
	if w.after == p {
		// Resuming after the key p: the keys under it are not read.
		return w.children(ctx, p, 0)
	}
	if len(w.after) > len(p) && strings.HasPrefix(w.after, p) {
		// Resuming inside p: p and its keys up to after were read.
		return w.children(ctx, p, w.after[len(p)])
	}
	if w.scans >= w.budget {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	w.scans++
	es, err := w.host.Scan(ctx, p, w.page+1)
	if err != nil {
		return false, fmt.Errorf("scan %s: %w", p, err)
	}
	if len(es) <= w.page {
		if err := w.emit(es); err != nil {
			return false, err
		}
		w.done(p)
		return true, nil
	}
	// More than a page: the entries share q (at least p); those whose byte
	// after q comes before the last entry's are complete (and q itself).
	q := commonPrefix(es[0].Key, es[len(es)-1].Key)
	next := es[len(es)-1].Key[len(q)]
	var complete []sdk.Entry
	for _, e := range es {
		if len(e.Key) == len(q) || e.Key[len(q)] < next {
			complete = append(complete, e)
		}
	}
	if err := w.emit(complete); err != nil {
		return false, err
	}
	if done, err := w.children(ctx, q, next); !done || err != nil {
		return done, err
	}
	// Then the keys under p that leave q: deeper first, each byte in order.
	for i := len(q) - 1; i >= len(p); i-- {
		for _, c := range childBytes(q[:i], q[i])[1:] {
			if done, err := w.walk(ctx, q[:i]+string(c)); !done || err != nil {
				return done, err
			}
		}
	}
	w.done(p)
	return true, nil
}

// children walks the prefixes p+c for every byte c esc can write from
// first on.
func (w *prefixWalk) children(ctx context.Context, p string, first byte) (bool, error) {
	for _, c := range childBytes(p, first) {
		if done, err := w.walk(ctx, p+string(c)); !done || err != nil {
			return done, err
		}
	}
	w.done(p)
	return true, nil
}

// done records that every key under p was read.
func (w *prefixWalk) done(p string) {
	if p+keyEnd > w.after {
		w.after = p + keyEnd
	}
}

// emit gives fn the entries after w.after and moves w.after on.
func (w *prefixWalk) emit(es []sdk.Entry) error {
	var out []sdk.Entry
	for _, e := range es {
		if e.Key > w.after {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	if err := w.fn(out); err != nil {
		return err
	}
	w.after = out[len(out)-1].Key
	return nil
}

// commonPrefix returns the longest common prefix of a and b.
func commonPrefix(a, b string) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return a[:i]
		}
	}
	return a[:n]
}

// childBytes returns, in order, the bytes from first on that esc can write
// after p: two hex digits after a '%', else escAlphabet. first itself is
// included unless it is 0 (a byte of a stored key is, whatever it is).
func childBytes(p string, first byte) []byte {
	set := escAlphabet
	n := len(p)
	if n >= 1 && p[n-1] == '%' || n >= 2 && p[n-2] == '%' {
		set = escHex
	}
	var out []byte
	if first != 0 && !strings.ContainsRune(set, rune(first)) {
		out = append(out, first)
	}
	for i := 0; i < len(set); i++ {
		if set[i] >= first {
			out = append(out, set[i])
		}
	}
	return out
}
