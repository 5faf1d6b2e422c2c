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

// The stock ledger says where each trace code stands at this hospital. It
// is host state, shared by every medgate instance, and changed only with
// compare-and-set:
//
//	stock/<code>       a stockEntry: in or out, and the document that moved it
//	codeparent/<code>  the code's parent package, from the hierarchy answers
//	                   kept (codes.bybill.smallest, codes.smallest, a fetch's)
//	codechild/<code>/<child>  the same relation from the package down ("1":
//	                   the child is a package too), so a draft listing a
//	                   package finds its units a receipt received on their
//	                   own (relations kept before it existed have none)
//
// A package leaves stock once (one smallest-unit code is settled once): a
// stock-out of a code that an earlier document stocked out, itself or as
// part of a package that left whole, is refused before anything is sent.
// A code that no stock-in of this hospital holds (stock received before
// medgate, or outside it) is sent but flagged in the reply and on the
// document (export: 状态说明). Stock-ins are the hospital's uploaded
// stock-in documents and the confirmed receipts of fetched documents.
const (
	stockIn  = "in"
	stockOut = "out"

	// maxParentDepth bounds the walk up a code's packages (unit → pack →
	// case → pallet); a loop in the platform's data ends it too.
	maxParentDepth = 8
	// maxStockNotes bounds the codes named one by one in a reply.
	maxStockNotes = 20
)

// stockEntry is a code's place in the ledger. State "" is no entry (what
// a released stock-out of a code never stocked in leaves).
type stockEntry struct {
	State string `json:"s,omitempty"`
	// Doc is the document that moved the code last; Kind says which kind
	// ("upload": the hospital's document, "receipt": a confirmed receipt)
	// and BillTime its time.
	Doc      string `json:"d,omitempty"`
	Kind     string `json:"k,omitempty"`
	BillTime string `json:"t,omitempty"`
	// InDoc is the document that stocked the code in last.
	InDoc string `json:"i,omitempty"`
	// Draft and At are, for a code a confirmation of draft Draft put in
	// stock as its receipt Doc, the draft and when (claimReceipt): the
	// claim counts once the draft is confirmed listing the code, or while
	// the confirmation may still be under way (claimLease).
	Draft string    `json:"r,omitempty"`
	At    time.Time `json:"a,omitzero"`
	// Claim names the confirmation (one call) that wrote the claim:
	// two confirmations of one draft write the same draft and receipt
	// number (reserved on the draft), and one that does not confirm the
	// draft takes back only the claims it wrote (unclaimReceipt).
	Claim string `json:"c,omitempty"`
	// Via is, for a stock-out, the package (an ancestor code) whose stock
	// the code left.
	Via string `json:"v,omitempty"`
	// Prev is, for a stock-out, the entry it replaced, restored when the
	// stock-out did not happen (the platform refused the document).
	Prev *stockEntry `json:"p,omitempty"`
	// Opened lists, for a package, the codes inside it that left on their
	// own (code → document): an opened package no longer leaves whole,
	// even once such a code came back (it is a loose unit then).
	Opened map[string]string `json:"o,omitempty"`
}

func stockKey(c string) string  { return "stock/" + esc(c) }
func parentKey(c string) string { return "codeparent/" + esc(c) }

// childPrefix is the prefix of the child index entries of package c
// (childPrefix(c) + esc(child)).
func childPrefix(c string) string { return "codechild/" + esc(c) + "/" }

// getStock reads a code's entry and version (0 and an empty entry when
// there is none).
func getStock(ctx context.Context, host sdk.Host, c string) (stockEntry, int64, error) {
	var se stockEntry
	e, err := host.Get(ctx, stockKey(c))
	if errors.Is(err, sdk.ErrNotFound) {
		return se, 0, nil
	}
	if err != nil {
		return se, 0, fmt.Errorf("read the stock of code %s: %w", c, err)
	}
	if err := json.Unmarshal(e.Value, &se); err != nil {
		return se, 0, fmt.Errorf("decode the stock of code %s (%s): %w", c, stockKey(c), err)
	}
	return se, e.Version, nil
}

// putStock writes a code's entry if it is still at version ver.
func putStock(ctx context.Context, host sdk.Host, c string, ver int64, se stockEntry) (int64, error) {
	b, err := json.Marshal(se)
	if err != nil {
		return 0, err
	}
	return host.CompareAndSet(ctx, stockKey(c), ver, b)
}

// ledgerReads reads the ledger for one pass over a document, and keeps
// what it read: the units of one case share the case and the packs
// between, read once instead of once per unit. Its entries are as of the
// read; every write made from them is a compare-and-set on the version
// read (or re-reads, as markOpened does), so a change meanwhile is seen.
type ledgerReads struct {
	host   sdk.Host
	stock  map[string]stockRead
	parent map[string]string
}

// stockRead is a ledger entry and its version as read.
type stockRead struct {
	se  stockEntry
	ver int64
}

func newLedgerReads(host sdk.Host) *ledgerReads {
	return &ledgerReads{host: host, stock: map[string]stockRead{}, parent: map[string]string{}}
}

// stockOf is getStock, read once per pass.
func (r *ledgerReads) stockOf(ctx context.Context, c string) (stockEntry, int64, error) {
	if sr, ok := r.stock[c]; ok {
		return sr.se, sr.ver, nil
	}
	se, ver, err := getStock(ctx, r.host, c)
	if err != nil {
		return se, 0, err
	}
	r.stock[c] = stockRead{se, ver}
	return se, ver, nil
}

// parentOf returns the package holding c ("" when none is known), read
// once per pass.
func (r *ledgerReads) parentOf(ctx context.Context, c string) (string, error) {
	if p, ok := r.parent[c]; ok {
		return p, nil
	}
	e, err := r.host.Get(ctx, parentKey(c))
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		r.parent[c] = ""
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read the package of code %s: %w", c, err)
	}
	r.parent[c] = string(e.Value)
	return string(e.Value), nil
}

// stockedAncestor walks up the packages holding c and returns the first
// one the ledger knows, with its entry and the packages walked (ending
// with it); "" when none is known.
func stockedAncestor(ctx context.Context, r *ledgerReads, c string) (string, stockEntry, []string, error) {
	return walkUp(ctx, r, c, func(string, stockEntry) bool { return false })
}

// chainTo returns the packages from c's parent up to and including anc.
func chainTo(ctx context.Context, r *ledgerReads, c, anc string) ([]string, error) {
	_, _, chain, err := walkUp(ctx, r, c, func(p string, _ stockEntry) bool { return p == anc })
	return chain, err
}

// walkUp walks up the packages holding c until one the ledger knows or
// one stop accepts.
func walkUp(ctx context.Context, r *ledgerReads, c string, stop func(string, stockEntry) bool) (string, stockEntry, []string, error) {
	seen := map[string]bool{c: true}
	var chain []string
	for range maxParentDepth {
		p, err := r.parentOf(ctx, c)
		if err != nil {
			return "", stockEntry{}, nil, err
		}
		if p == "" || seen[p] {
			return "", stockEntry{}, chain, nil
		}
		seen[p] = true
		chain = append(chain, p)
		se, _, err := r.stockOf(ctx, p)
		if err != nil {
			return "", stockEntry{}, nil, err
		}
		if se.State != "" || stop(p, se) {
			return p, se, chain, nil
		}
		c = p
	}
	return "", stockEntry{}, chain, nil
}

// markOpened records on package p that codes left on their own with doc,
// in one compare-and-set however many they are, and returns the codes it
// added (those already recorded with doc are not). With undo it removes
// the records of codes instead. It reports a conflict when p itself left
// meanwhile with another document.
func markOpened(ctx context.Context, host sdk.Host, p string, codes []string, doc string, undo bool) (added []string, conflict bool, err error) {
	for range 10 {
		se, ver, err := getStock(ctx, host, p)
		if err != nil {
			return nil, false, err
		}
		if !undo && se.State == stockOut && se.Doc != doc {
			return nil, true, nil
		}
		added = added[:0]
		for _, c := range codes {
			switch {
			case undo && se.Opened[c] == doc:
				delete(se.Opened, c)
				added = append(added, c)
			case !undo && se.Opened[c] != doc:
				if se.Opened == nil {
					se.Opened = map[string]string{}
				}
				se.Opened[c] = doc
				added = append(added, c)
			}
		}
		if len(added) == 0 {
			return nil, false, nil
		}
		_, err = putStock(ctx, host, p, ver, se)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("record on package %s that codes %s… left with document %s: %w", p, codes[0], doc, err)
		}
		if undo {
			return nil, false, nil
		}
		return added, false, nil
	}
	return nil, false, errBusy
}

// packageListed returns the first package of chain that the document
// lists, with its line.
func packageListed(chain []string, listed map[string]int) (string, int, bool) {
	for _, p := range chain {
		if l, ok := listed[p]; ok {
			return p, l, true
		}
	}
	return "", 0, false
}

// openedBy returns one code of an opened package and the document it left
// with (the first in code order), and how many left.
func openedBy(se stockEntry) (string, string, int) {
	first := ""
	for c := range se.Opened {
		if first == "" || c < first {
			first = c
		}
	}
	return first, se.Opened[first], len(se.Opened)
}

// indexParents keeps each code's parent package (child → parent pairs),
// so that a sub-code stocked out is found inside the package stocked in,
// and each package's children, so that a package a draft lists is found
// holding a unit a receipt received on its own.
func indexParents(ctx context.Context, host sdk.Host, pairs [][2]string) error {
	return indexRelations(ctx, host, pairs, true)
}

// indexChildren keeps each package's children only (child → parent
// pairs): the child index of a hierarchy answer kept before it existed,
// whose parents were indexed then (a later answer's parent is not
// overwritten with an older one).
func indexChildren(ctx context.Context, host sdk.Host, pairs [][2]string) error {
	return indexRelations(ctx, host, pairs, false)
}

// indexRelations writes the child index of pairs, and with parents the
// parent index too.
func indexRelations(ctx context.Context, host sdk.Host, pairs [][2]string, parents bool) error {
	const batch = 64
	writes := make([]sdk.StateWrite, 0, batch)
	flush := func() error {
		if len(writes) == 0 {
			return nil
		}
		if _, err := sdk.WriteState(ctx, host, writes); err != nil {
			return fmt.Errorf("keep the package relations of codes (%s…): %w", writes[0].Key, err)
		}
		writes = writes[:0]
		return nil
	}
	// A child that is a package in the same answer is marked so ("1"),
	// so that a walk down scans the children of packages only, not of
	// every unit ("0").
	isParent := map[string]bool{}
	for _, p := range pairs {
		isParent[strings.TrimSpace(p[1])] = true
	}
	for _, p := range pairs {
		// Trimmed as code.Parse does the codes of documents.
		child, parent := strings.TrimSpace(p[0]), strings.TrimSpace(p[1])
		if child == "" || parent == "" || child == parent {
			continue
		}
		pkg := "0"
		if isParent[child] {
			pkg = "1"
		}
		if parents {
			writes = append(writes, sdk.StateWrite{Key: parentKey(child), Value: []byte(parent), Put: true})
		}
		writes = append(writes, sdk.StateWrite{Key: childPrefix(parent) + esc(child), Value: []byte(pkg), Put: true})
		if len(writes) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// stockBatch is how many ledger entries a stock-in creates, a stock-out
// takes or a refused stock-out puts back in one host call.
const stockBatch = 64

// recordStockIn marks codes as in stock through document doc. A code
// already in stays as it is; one that left comes back (a return), unless
// doc itself stocked it in before it left (the retry of doc).
//
// Codes the ledger has never seen – nearly all of a stock-in – are
// created stockBatch at a time, with one host call (a write that
// expects no entry, every write or none) per batch: a document of 5,000
// codes is 79 host calls, not 10,000 reads and writes. A batch in which a
// code already has an entry (a return, a retry, a code twice in the
// document) is done one code at a time, as before.
func recordStockIn(ctx context.Context, host sdk.Host, doc, kind, billTime string, codes []string) error {
	entry, err := json.Marshal(stockEntry{State: stockIn, Doc: doc, Kind: kind, BillTime: billTime, InDoc: doc})
	if err != nil {
		return err
	}
	writes := make([]sdk.StateWrite, 0, stockBatch)
	for start := 0; start < len(codes); start += stockBatch {
		part := codes[start:min(start+stockBatch, len(codes))]
		writes = writes[:0]
		for _, c := range part {
			writes = append(writes, sdk.StateWrite{Key: stockKey(c), Value: entry})
		}
		_, err := sdk.WriteState(ctx, host, writes)
		if err == nil {
			continue
		}
		if !errors.Is(err, sdk.ErrConflict) {
			return fmt.Errorf("record codes %s… in stock (document %s): %w", part[0], doc, err)
		}
		// A host that cannot write them together may have made some: those
		// are in stock through doc, which the one-by-one path leaves alone.
		if err := recordStockInOneByOne(ctx, host, doc, kind, billTime, part); err != nil {
			return err
		}
	}
	return nil
}

// recordStockInOneByOne is recordStockIn one code at a time: read its
// entry, and write it back in stock unless it already is.
func recordStockInOneByOne(ctx context.Context, host sdk.Host, doc, kind, billTime string, codes []string) error {
	for _, c := range codes {
		done := false
		for range 10 {
			se, ver, err := getStock(ctx, host, c)
			if err != nil {
				return err
			}
			if se.State == stockIn || (se.State == stockOut && se.InDoc == doc) {
				done = true
				break
			}
			_, err = putStock(ctx, host, c, ver, stockEntry{State: stockIn, Doc: doc, Kind: kind, BillTime: billTime, InDoc: doc})
			if errors.Is(err, sdk.ErrConflict) {
				continue
			}
			if err != nil {
				return fmt.Errorf("record code %s in stock (document %s): %w", c, doc, err)
			}
			done = true
			break
		}
		if !done {
			return fmt.Errorf("record code %s in stock (document %s): %w", c, doc, errBusy)
		}
	}
	return nil
}

// stockOutCode is one code of a stock-out: where it is in the payload,
// the entry to write (own: not written yet) and the packages it leaves
// (chain: from its parent up to the package in stock), marked opened.
type stockOutCode struct {
	code, path string
	ver        int64
	entry      stockEntry
	own        bool
	chain      []string
}

// reserveStockOut takes the codes of a stock-out document out of stock
// before it is sent. It returns the problems: an error for each code that
// already left (nothing is then taken), a warning for each code that no
// stock-in holds, and the note to flag the document with. A concurrent
// stock-out of the same code by another document, on any instance, makes
// one of the two compare-and-sets fail; that one puts back what it wrote,
// reads again and sees the other's. The codes are read one by one (the
// host has no batched read; a case and its packs once for all its units)
// and written stockBatch at a time (takeCodes).
func (h *handler) reserveStockOut(ctx context.Context, b *uploadBill) (sdk.Diagnostics, string, error) {
	heldDocs := map[string]string{}
	for range 10 {
		reads := newLedgerReads(h.req.Host)
		var ds sdk.Diagnostics
		var todo []stockOutCode
		var unknown []string
		flag := func(at, c string, lineNo int) {
			if unknown = append(unknown, c); len(unknown) <= maxStockNotes {
				ds.Warn(at, "state", fmt.Sprintf("code %s (line %d) was never stocked in at this hospital: no stock-in document or confirmed receipt holds it or a package holding it", c, lineNo),
					"it is sent and flagged (export: 状态说明); check the package, and upload its stock-in if it was received outside medgate")
			}
		}
		listed := map[string]int{} // code → line, of this document
		for _, l := range b.Lines {
			for _, tc := range l.TraceCodes {
				listed[tc.Code] = l.LineNo
			}
		}
		for i, l := range b.Lines {
			for j, tc := range l.TraceCodes {
				c, at := tc.Code, fmt.Sprintf("$.lines[%d].traceCodes[%d].code", i, j)
				se, ver, err := reads.stockOf(ctx, c)
				if err != nil {
					return nil, "", err
				}
				if se.State == stockOut {
					switch {
					case se.Doc != b.BillNo:
						held, err := h.heldBy(ctx, heldDocs, se.Doc)
						if err != nil {
							return nil, "", err
						}
						if held != "" {
							ds.Error(at, "state", fmt.Sprintf("code %s (line %d) is held by stock-out %s%s, whose outcome is unknown: %s", c, l.LineNo, se.Doc, atTime(se.BillTime), held),
								fmt.Sprintf("it stays out of stock until the platform tells whether %s happened (the %s job asks it) or an operator resolves it (`medgate %s %s`; `medgate %s %s` lists the held ones); send this document again after that",
									se.Doc, JobStockOutReconcile, Name, CmdHeldResolve, Name, CmdHeld))
							continue
						}
						ds.Error(at, "state", fmt.Sprintf("code %s (line %d) was already stocked out by document %s%s", c, l.LineNo, se.Doc, atTime(se.BillTime)),
							"a package leaves stock once: remove the code from this document (check the package scanned), or stock it in again first if it came back (103 退货入库)")
					case se.Via != "":
						// This document's earlier attempt took it: its
						// packages are marked opened again (a no-op
						// unless that attempt stopped in between).
						chain, err := chainTo(ctx, reads, c, se.Via)
						if err != nil {
							return nil, "", err
						}
						todo = append(todo, stockOutCode{code: c, path: at, chain: chain})
					case se.Prev == nil:
						// This document's earlier attempt took it, and no
						// stock-in held it then: flagged again.
						flag(at, c, l.LineNo)
					}
					continue
				}
				if oc, od, n := openedBy(se); n > 0 {
					ds.Error(at, "state", fmt.Sprintf("package %s (line %d) was opened: its code %s left on its own with document %s (%d code(s) of it in all)", c, l.LineNo, oc, od, n),
						"an opened package no longer leaves whole: stock out the codes still in it one by one")
					continue
				}
				anc, ae, chain, err := stockedAncestor(ctx, reads, c)
				if err != nil {
					return nil, "", err
				}
				if p, pl, both := packageListed(chain, listed); both {
					ds.Error(at, "state", fmt.Sprintf("code %s (line %d) is inside package %s, which this document also lists (line %d)", c, l.LineNo, p, pl),
						"the code would leave twice: list the package, or the codes that leave, not both")
					continue
				}
				out := stockEntry{State: stockOut, Doc: b.BillNo, Kind: "upload", BillTime: b.BillTime, InDoc: se.InDoc}
				if se.State != "" {
					prev := se
					out.Prev = &prev
				} else {
					switch {
					case anc == "":
						flag(at, c, l.LineNo)
					case ae.State == stockOut && ae.Doc != b.BillNo:
						ds.Error(at, "state", fmt.Sprintf("code %s (line %d) is inside package %s, which was stocked out whole by document %s%s", c, l.LineNo, anc, ae.Doc, atTime(ae.BillTime)),
							"a package leaves stock once: remove the code from this document (check the package scanned)")
						continue
					default:
						out.Via, out.InDoc = anc, ae.InDoc
						todo = append(todo, stockOutCode{code: c, path: at, ver: ver, entry: out, own: true, chain: chain})
						continue
					}
				}
				todo = append(todo, stockOutCode{code: c, path: at, ver: ver, entry: out, own: true})
			}
		}
		if len(unknown) > maxStockNotes {
			ds.Warn("$.lines", "state", fmt.Sprintf("%d more codes were never stocked in at this hospital", len(unknown)-maxStockNotes), "see the document's 状态说明 in the export")
		}
		if ds.HasError() {
			return ds, "", nil
		}
		note := ""
		if len(unknown) > 0 {
			note = fmt.Sprintf("%d code(s) never stocked in at this hospital: %s", len(unknown), strings.Join(unknown[:min(len(unknown), maxStockNotes)], ", "))
			if len(unknown) > maxStockNotes {
				note += ", …"
			}
		}
		conflict, err := h.takeCodes(ctx, b.BillNo, todo)
		if err != nil {
			return nil, "", err
		}
		if !conflict {
			return ds, note, nil
		}
	}
	return nil, "", errBusy
}

// takeCodes marks the packages the codes leave as opened (one
// compare-and-set per package, whatever the number of its codes) and
// writes the stock-out entries stockBatch at a time, each a
// compare-and-set on the version read, in one host call per batch; when
// one of them changed since it was read (or a package left meanwhile), it
// puts back what it wrote and reports the conflict.
func (h *handler) takeCodes(ctx context.Context, doc string, todo []stockOutCode) (bool, error) {
	host := h.req.Host
	var pkgs []string
	byPkg := map[string][]string{} // package → the codes leaving through it
	for _, t := range todo {
		for _, p := range t.chain {
			if _, ok := byPkg[p]; !ok {
				pkgs = append(pkgs, p)
			}
			byPkg[p] = append(byPkg[p], t.code)
		}
	}
	marked := map[string][]string{} // package → the codes this call recorded on it
	var taken []string              // codes of the batches written or tried
	undo := func() error {
		bg := context.WithoutCancel(ctx)
		if err := putBack(bg, host, doc, taken, false); err != nil {
			return fmt.Errorf("put codes back in stock after a concurrent change: %w", err)
		}
		for _, p := range pkgs {
			if len(marked[p]) == 0 {
				continue
			}
			if _, _, err := markOpened(bg, host, p, marked[p], doc, true); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range pkgs {
		added, conflict, err := markOpened(ctx, host, p, byPkg[p], doc, false)
		if err != nil {
			return false, errors.Join(err, undo())
		}
		if conflict {
			return true, undo()
		}
		marked[p] = added
	}
	writes := make([]sdk.StateWrite, 0, stockBatch)
	var part []string // the codes of writes
	flush := func() (bool, error) {
		if len(writes) == 0 {
			return false, nil
		}
		taken = append(taken, part...)
		_, err := sdk.WriteState(ctx, host, writes)
		first := part[0]
		writes, part = writes[:0], part[:0]
		switch {
		case err == nil:
			return false, nil
		case errors.Is(err, sdk.ErrConflict):
			return true, undo()
		}
		return false, errors.Join(fmt.Errorf("take codes %s… out of stock (document %s): %w", first, doc, err), undo())
	}
	for _, t := range todo {
		if !t.own {
			continue
		}
		b, err := json.Marshal(t.entry)
		if err != nil {
			return false, errors.Join(err, undo())
		}
		writes, part = append(writes, sdk.StateWrite{Key: stockKey(t.code), Value: b, Expect: t.ver}), append(part, t.code)
		if len(writes) == stockBatch {
			if conflict, err := flush(); conflict || err != nil {
				return conflict, err
			}
		}
	}
	return flush()
}

// releaseStockOut puts back in stock the codes a stock-out document that
// did not happen took (its own and extra, those of an earlier attempt
// under its number): each entry it wrote returns to what it replaced, and
// the packages they left through are no longer marked opened by them.
// Entries another document wrote meanwhile are left alone.
func (h *handler) releaseStockOut(ctx context.Context, b *uploadBill, extra []string) error {
	codes := extra
	for _, l := range b.Lines {
		for _, tc := range l.TraceCodes {
			codes = append(codes, tc.Code)
		}
	}
	if err := putBack(ctx, h.req.Host, b.BillNo, codes, true); err != nil {
		return fmt.Errorf("put the codes of document %s, which was not stocked out, back in stock: %w", b.BillNo, err)
	}
	return nil
}

// putBack returns to what it replaced the entry of each of codes that doc
// took out of stock (others are left alone), stockBatch at a time, each
// write a compare-and-set on the version read, in one host call per
// batch; a batch in which an entry changed meanwhile is done one code at
// a time. With unmark, the packages a code left through are un-marked
// (after the codes are back: in between they are still marked opened,
// which refuses more, never less).
func putBack(ctx context.Context, host sdk.Host, doc string, codes []string, unmark bool) error {
	reads := newLedgerReads(host)
	var pkgs []string
	byPkg := map[string][]string{}
	writes := make([]sdk.StateWrite, 0, stockBatch)
	var mine []string
	for start := 0; start < len(codes); start += stockBatch {
		writes, mine = writes[:0], mine[:0]
		for _, c := range codes[start:min(start+stockBatch, len(codes))] {
			se, ver, err := getStock(ctx, host, c)
			if err != nil {
				return err
			}
			if se.State != stockOut || se.Doc != doc {
				continue
			}
			if unmark && se.Via != "" {
				chain, err := chainTo(ctx, reads, c, se.Via)
				if err != nil {
					return err
				}
				for _, p := range chain {
					if _, ok := byPkg[p]; !ok {
						pkgs = append(pkgs, p)
					}
					byPkg[p] = append(byPkg[p], c)
				}
			}
			prev := stockEntry{}
			if se.Prev != nil {
				prev = *se.Prev
			}
			b, err := json.Marshal(prev)
			if err != nil {
				return err
			}
			writes = append(writes, sdk.StateWrite{Key: stockKey(c), Value: b, Expect: ver})
			mine = append(mine, c)
		}
		if len(writes) == 0 {
			continue
		}
		_, err := sdk.WriteState(ctx, host, writes)
		if err != nil && !errors.Is(err, sdk.ErrConflict) {
			return fmt.Errorf("put codes %s… back in stock: %w", mine[0], err)
		}
		if err != nil {
			// A host that cannot write them together may have made some:
			// those are back, which the one-by-one path sees.
			for _, c := range mine {
				if err := putBackOne(ctx, host, doc, c); err != nil {
					return err
				}
			}
		}
	}
	for _, p := range pkgs {
		if _, _, err := markOpened(ctx, host, p, byPkg[p], doc, true); err != nil {
			return err
		}
	}
	return nil
}

// putBackOne is putBack for one code, read again after each conflict.
func putBackOne(ctx context.Context, host sdk.Host, doc, c string) error {
	for range 10 {
		se, ver, err := getStock(ctx, host, c)
		if err != nil {
			return err
		}
		if se.State != stockOut || se.Doc != doc {
			return nil
		}
		prev := stockEntry{}
		if se.Prev != nil {
			prev = *se.Prev
		}
		_, err = putStock(ctx, host, c, ver, prev)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sdk.ErrConflict) {
			return fmt.Errorf("put code %s back in stock: %w", c, err)
		}
	}
	return fmt.Errorf("put code %s back in stock: %w", c, errBusy)
}

// atTime formats a document's time for a message: " (2026-11-26 09:30:00)".
func atTime(billTime string) string {
	if billTime == "" {
		return ""
	}
	return " (" + billTime + ")"
}

// heldBy says, for a stock-out document doc holding codes, why its outcome
// is unknown ("" when it is known), read once per document into seen.
func (h *handler) heldBy(ctx context.Context, seen map[string]string, doc string) (string, error) {
	if why, ok := seen[doc]; ok {
		return why, nil
	}
	why := ""
	_, err := h.req.Host.Get(ctx, heldKey(doc))
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return "", fmt.Errorf("read whether stock-out %s is held: %w", doc, err)
	default:
		rec, _, _, err := loadDoc(ctx, h.req.Host, sourceUpload, doc)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			why = "it was not stored: the plugin stopped before sending it"
		case err != nil:
			return "", err
		case rec.Direction == "out" && mayHold(rec.Status):
			why = fmt.Sprintf("status %s since %s", rec.Status, h.fmtTime(rec.StatusAt))
		}
	}
	seen[doc] = why
	return why, nil
}
