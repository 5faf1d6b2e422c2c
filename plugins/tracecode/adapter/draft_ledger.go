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

// A confirmed receipt puts its codes in the stock ledger (stock.go), and a
// package is received once. A confirmation checks its draft's codes
// against the ledger (receivedBefore), then writes them as its receipt's
// with a compare-and-set on each entry as read (claimReceipt) before it
// confirms the draft: of two drafts sharing a code confirmed at once, on
// any instance, one write fails and that confirmation reads again.
//
// A claim names its draft and time. It counts once the draft is confirmed
// listing the code, and while the confirmation may still be under way
// (claimLease); a claim left by a confirmation that stopped before the
// draft changed (or of a code staff removed since) does not, and the next
// confirmation of any draft takes the code.
const (
	// claimLease is how long the claim of a draft not confirmed yet
	// holds its codes: a confirmation takes seconds; one older stopped.
	claimLease = 10 * time.Minute
	// maxChildScan bounds the children one scan of the child index
	// returns (a package holds tens to hundreds).
	maxChildScan = 2000
)

// receiptHold says whether a ledger entry holds a code as received by a
// receipt, and which.
type receiptHold struct {
	receipt  string
	billTime string
	// draft and since: the receipt's confirmation is under way.
	draft    string
	since    time.Time
	inFlight bool
}

// received words the hold for a message: "receipt R (time) received" or
// "receipt R is receiving (draft D's confirmation under way since T)".
func (h *handler) receivedText(r receiptHold, what string) string {
	if r.inFlight {
		return fmt.Sprintf("receipt %s is receiving%s (draft %s, whose confirmation is under way since %s)", r.receipt, what, r.draft, h.fmtTime(r.since))
	}
	return fmt.Sprintf("receipt %s%s already received%s", r.receipt, atTime(r.billTime), what)
}

// draftCodes is another draft as a claim check reads it, once per pass.
type draftCodes struct {
	d     *draft
	codes map[string]bool
}

// holdOf tells whether entry se holds code c as received by a receipt
// other than the confirmation of draft self; drafts caches the drafts
// read.
func (h *handler) holdOf(ctx context.Context, drafts map[string]*draftCodes, self, c string, se stockEntry) (receiptHold, bool, error) {
	if se.State != stockIn || se.Kind != "receipt" {
		return receiptHold{}, false, nil
	}
	if se.Draft == "" {
		// Recorded when the receipt was published (drafts confirmed
		// before claims existed).
		return receiptHold{receipt: se.Doc, billTime: se.BillTime}, true, nil
	}
	if se.Draft == self {
		return receiptHold{}, false, nil // this draft's confirmation that stopped
	}
	dc, ok := drafts[se.Draft]
	if !ok {
		d, _, err := loadDraft(ctx, h.req.Host, se.Draft)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
		case err != nil:
			return receiptHold{}, false, err
		default:
			dc = &draftCodes{d: d, codes: map[string]bool{}}
			for _, l := range d.Lines {
				for _, x := range l.Codes {
					dc.codes[x] = true
				}
			}
		}
		drafts[se.Draft] = dc
	}
	switch {
	case dc == nil:
		return receiptHold{}, false, nil
	case dc.d.Status == draftConfirmed && dc.codes[c]:
		return receiptHold{receipt: dc.d.ReceiptNo, billTime: dc.d.BillTime}, true, nil
	case dc.d.Status != draftConfirmed && h.a.now().Sub(se.At) < claimLease:
		return receiptHold{receipt: se.Doc, draft: se.Draft, since: se.At, inFlight: true}, true, nil
	}
	return receiptHold{}, false, nil
}

// receivedBefore refuses the codes a draft would receive a second time: a
// code another receipt received and that has not left since, a code inside
// a package (case, pack) the draft lists too, a code inside a package
// another receipt received whole, and a package holding a code another
// receipt received on its own. Packages are found through the hierarchy
// answers kept (codeparent/ up, codechild/ down). Codes the hospital's own
// stock-in uploads hold are not refused: those are HIS's own stock
// records, which the receipt may well be of. It returns the ledger as read,
// for claimReceipt.
func (h *handler) receivedBefore(ctx context.Context, d *draft) (sdk.Diagnostics, *ledgerReads, error) {
	reads := newLedgerReads(h.req.Host)
	drafts := map[string]*draftCodes{}
	listed := map[string]int{}
	for _, l := range d.Lines {
		for _, c := range l.Codes {
			listed[c] = l.LineNo
		}
	}
	var ds sdk.Diagnostics
	n := 0
	refuse := func(at, summary, detail string) {
		if n++; n <= maxStockNotes {
			ds.Error(at, "precondition", summary, detail)
		}
	}
	removeIt := func(lineNo int, c string) string {
		return fmt.Sprintf(`a package is received once: remove the code from the draft ({"op":"removeCodes","lineNo":%d,"codes":["%s"]}) and check the package scanned`, lineNo, c)
	}
	for i, l := range d.Lines {
		for j, c := range l.Codes {
			at := fmt.Sprintf("$.lines[%d].codes[%d]", i, j)
			se, _, err := reads.stockOf(ctx, c)
			if err != nil {
				return nil, nil, err
			}
			r, held, err := h.holdOf(ctx, drafts, d.ID, c, se)
			if err != nil {
				return nil, nil, err
			}
			if held {
				refuse(at, fmt.Sprintf("code %s (line %d): %s it and it has not left stock since", c, l.LineNo, h.receivedText(r, "")), removeIt(l.LineNo, c))
				continue
			}
			p, pe, _, err := walkUp(ctx, reads, c, func(p string, _ stockEntry) bool { _, on := listed[p]; return on })
			if err != nil {
				return nil, nil, err
			}
			if pl, on := listed[p]; on && p != "" {
				refuse(at, fmt.Sprintf("code %s (line %d) is inside package %s, which this draft also lists (line %d)", c, l.LineNo, p, pl), removeIt(l.LineNo, c))
				continue
			}
			if p != "" {
				r, held, err := h.holdOf(ctx, drafts, d.ID, p, pe)
				if err != nil {
					return nil, nil, err
				}
				if held {
					refuse(at, fmt.Sprintf("code %s (line %d) is inside package %s: %s", c, l.LineNo, p, h.receivedText(r, " it whole")), removeIt(l.LineNo, c))
					continue
				}
			}
			u, r, held, err := h.receivedInside(ctx, reads, drafts, d.ID, c, listed)
			if err != nil {
				return nil, nil, err
			}
			if held {
				refuse(at, fmt.Sprintf("package %s (line %d) holds code %s: %s it on its own and it has not left stock since", c, l.LineNo, u, h.receivedText(r, "")),
					fmt.Sprintf(`the code would be received twice, on its own and inside the package: remove the package from the draft ({"op":"removeCodes","lineNo":%d,"codes":["%s"]}) and add the codes inside it that were not received (tracecode.codes.smallest lists them), or check the package scanned`, l.LineNo, c))
			}
		}
	}
	if n > maxStockNotes {
		ds.Error("$.lines", "precondition", fmt.Sprintf("%d more codes were received before", n-maxStockNotes), "tracecode.draft.get lists the codes of each line")
	}
	return ds, reads, nil
}

// receivedInside walks down the packages inside c (codechild/, packages
// only below the first level) and returns the first code another receipt
// holds. Codes the draft lists are left to their own check.
func (h *handler) receivedInside(ctx context.Context, reads *ledgerReads, drafts map[string]*draftCodes, self, c string, listed map[string]int) (string, receiptHold, bool, error) {
	seen := map[string]bool{c: true}
	level := []string{c}
	for depth := 0; depth < maxParentDepth && len(level) > 0; depth++ {
		var next []string
		for _, p := range level {
			es, err := h.req.Host.Scan(ctx, childPrefix(p), maxChildScan)
			if err != nil {
				return "", receiptHold{}, false, fmt.Errorf("read the codes inside package %s: %w", p, err)
			}
			for _, e := range es {
				ch := unesc(strings.TrimPrefix(e.Key, childPrefix(p)))
				if seen[ch] {
					continue
				}
				seen[ch] = true
				if _, on := listed[ch]; on {
					continue
				}
				se, _, err := reads.stockOf(ctx, ch)
				if err != nil {
					return "", receiptHold{}, false, err
				}
				r, held, err := h.holdOf(ctx, drafts, self, ch, se)
				if err != nil || held {
					return ch, r, held, err
				}
				if string(e.Value) == "1" {
					next = append(next, ch)
				}
			}
		}
		level = next
	}
	return "", receiptHold{}, false, nil
}

// claimed is a code a confirmation wrote as its receipt's (claim: its
// stockEntry.Claim), with the entry it replaced.
type claimed struct {
	code  string
	claim string
	prev  stockEntry
}

// claimReceipt writes every code of draft d in the stock ledger as in
// stock through receipt receiptNo, stockBatch at a time, each a
// compare-and-set on the version read (reads, from receivedBefore). When
// one changed since (another confirmation, a stock-out), it puts back what
// it wrote and reports the conflict: the caller reads again.
//
// Every claim is written, also over one of the same draft and receipt (a
// confirmation of it that stopped, or one under way on another instance,
// which share the reserved number), and names this call (Claim): the
// confirmation that then confirms the draft holds every code by a claim,
// and one that does not takes back only its own, never those the other
// confirmed the draft with.
func (h *handler) claimReceipt(ctx context.Context, d *draft, reads *ledgerReads, receiptNo string) ([]claimed, bool, error) {
	host := h.req.Host
	claim := newCodesVersion() // a random name, as for code versions
	entry, err := json.Marshal(stockEntry{State: stockIn, Doc: receiptNo, Kind: "receipt", BillTime: d.BillTime, InDoc: receiptNo, Draft: d.ID, At: h.a.now(), Claim: claim})
	if err != nil {
		return nil, false, err
	}
	var done []claimed // the codes of the batches written or tried
	writes := make([]sdk.StateWrite, 0, stockBatch)
	flush := func() (bool, error) {
		if len(writes) == 0 {
			return false, nil
		}
		_, err := sdk.WriteState(ctx, host, writes)
		first := strings.TrimPrefix(writes[0].Key, "stock/")
		writes = writes[:0]
		switch {
		case err == nil:
			return false, nil
		case errors.Is(err, sdk.ErrConflict):
			return true, h.unclaimReceipt(ctx, done, d.ID, receiptNo)
		}
		return false, errors.Join(fmt.Errorf("record codes %s… in stock as receipt %s of draft %s: %w", unesc(first), receiptNo, d.ID, err), h.unclaimReceipt(ctx, done, d.ID, receiptNo))
	}
	for _, l := range d.Lines {
		for _, c := range l.Codes {
			se, ver, err := reads.stockOf(ctx, c)
			if err != nil {
				return nil, false, errors.Join(err, h.unclaimReceipt(ctx, done, d.ID, receiptNo))
			}
			done = append(done, claimed{code: c, claim: claim, prev: se})
			writes = append(writes, sdk.StateWrite{Key: stockKey(c), Value: entry, Expect: ver})
			if len(writes) == stockBatch {
				if conflict, err := flush(); conflict || err != nil {
					return nil, conflict, err
				}
			}
		}
	}
	if conflict, err := flush(); conflict || err != nil {
		return nil, conflict, err
	}
	return done, false, nil
}

// unclaimReceipt returns each code claimReceipt wrote for receipt
// receiptNo of draft id, and still as it wrote it (its claim), to the
// entry it replaced; others are left alone.
func (h *handler) unclaimReceipt(ctx context.Context, cs []claimed, id, receiptNo string) error {
	bg := context.WithoutCancel(ctx)
	for _, c := range cs {
		for attempt := 0; ; attempt++ {
			se, ver, err := getStock(bg, h.req.Host, c.code)
			if err != nil {
				return err
			}
			if se.State != stockIn || se.Draft != id || se.Doc != receiptNo || se.Claim != c.claim {
				break
			}
			_, err = putStock(bg, h.req.Host, c.code, ver, c.prev)
			if err == nil {
				break
			}
			if !errors.Is(err, sdk.ErrConflict) || attempt == 10 {
				return fmt.Errorf("take code %s out of receipt %s of draft %s, which was not confirmed: %w", c.code, receiptNo, id, err)
			}
		}
	}
	return nil
}
