package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
)

// The stock ledger says where each trace code stands at this hospital. It
// is host state, shared by every medgate instance, and changed only with
// compare-and-set:
//
//	stock/<code>       a stockEntry: in or out, and the document that moved it
//	codeparent/<code>  the code's parent package, from the hierarchy answers
//	                   kept (codes.bybill.smallest, codes.smallest, a fetch's)
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
	// Via is, for a stock-out, the package (an ancestor code) whose stock
	// the code left.
	Via string `json:"v,omitempty"`
	// Prev is, for a stock-out, the entry it replaced, restored when the
	// platform refuses the document.
	Prev *stockEntry `json:"p,omitempty"`
	// Opened lists, for a package, the codes inside it that left on their
	// own (code → document): an opened package no longer leaves whole,
	// even once such a code came back (it is a loose unit then).
	Opened map[string]string `json:"o,omitempty"`
}

func stockKey(c string) string  { return "stock/" + esc(c) }
func parentKey(c string) string { return "codeparent/" + esc(c) }

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

// stockedAncestor walks up the packages holding c and returns the first
// one the ledger knows, with its entry and the packages walked (ending
// with it); "" when none is known.
func stockedAncestor(ctx context.Context, host sdk.Host, c string) (string, stockEntry, []string, error) {
	return walkUp(ctx, host, c, func(string, stockEntry) bool { return false })
}

// chainTo returns the packages from c's parent up to and including anc.
func chainTo(ctx context.Context, host sdk.Host, c, anc string) ([]string, error) {
	_, _, chain, err := walkUp(ctx, host, c, func(p string, _ stockEntry) bool { return p == anc })
	return chain, err
}

// walkUp walks up the packages holding c until one the ledger knows or
// one stop accepts.
func walkUp(ctx context.Context, host sdk.Host, c string, stop func(string, stockEntry) bool) (string, stockEntry, []string, error) {
	seen := map[string]bool{c: true}
	var chain []string
	for range maxParentDepth {
		e, err := host.Get(ctx, parentKey(c))
		if errors.Is(err, sdk.ErrNotFound) {
			return "", stockEntry{}, chain, nil
		}
		if err != nil {
			return "", stockEntry{}, nil, fmt.Errorf("read the package of code %s: %w", c, err)
		}
		p := string(e.Value)
		if p == "" || seen[p] {
			return "", stockEntry{}, chain, nil
		}
		seen[p] = true
		chain = append(chain, p)
		se, _, err := getStock(ctx, host, p)
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

// markOpened records on package p that code c left on its own with doc
// (undo: removes the record). It reports a conflict when p itself left
// meanwhile with another document.
func markOpened(ctx context.Context, host sdk.Host, p, c, doc string, undo bool) (conflict bool, err error) {
	for range 10 {
		se, ver, err := getStock(ctx, host, p)
		if err != nil {
			return false, err
		}
		switch {
		case !undo && se.State == stockOut && se.Doc != doc:
			return true, nil
		case !undo && se.Opened[c] == doc, undo && se.Opened[c] != doc:
			return false, nil
		case undo:
			delete(se.Opened, c)
		default:
			if se.Opened == nil {
				se.Opened = map[string]string{}
			}
			se.Opened[c] = doc
		}
		_, err = putStock(ctx, host, p, ver, se)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("record on package %s that code %s left with document %s: %w", p, c, doc, err)
		}
		return false, nil
	}
	return false, errBusy
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
// so that a sub-code stocked out is found inside the package stocked in.
func indexParents(ctx context.Context, host sdk.Host, pairs [][2]string) error {
	const batch = 64
	writes := make([]sdk.StateWrite, 0, batch)
	flush := func() error {
		if len(writes) == 0 {
			return nil
		}
		if _, err := sdk.WriteState(ctx, host, writes); err != nil {
			return fmt.Errorf("keep the packages of codes (%s…): %w", strings.TrimPrefix(writes[0].Key, "codeparent/"), err)
		}
		writes = writes[:0]
		return nil
	}
	for _, p := range pairs {
		// Trimmed as code.Parse does the codes of documents.
		child, parent := strings.TrimSpace(p[0]), strings.TrimSpace(p[1])
		if child == "" || parent == "" || child == parent {
			continue
		}
		writes = append(writes, sdk.StateWrite{Key: parentKey(child), Value: []byte(parent), Put: true})
		if len(writes) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// stockInBatch is how many codes a stock-in creates in one host call.
const stockInBatch = 64

// recordStockIn marks codes as in stock through document doc. A code
// already in stays as it is; one that left comes back (a return), unless
// doc itself stocked it in before it left (the retry of doc).
//
// Codes the ledger has never seen – nearly all of a stock-in – are
// created stockInBatch at a time, with one host call (a write that
// expects no entry, every write or none) per batch: a document of 5,000
// codes is 79 host calls, not 10,000 reads and writes. A batch in which a
// code already has an entry (a return, a retry, a code twice in the
// document) is done one code at a time, as before.
func recordStockIn(ctx context.Context, host sdk.Host, doc, kind, billTime string, codes []string) error {
	entry, err := json.Marshal(stockEntry{State: stockIn, Doc: doc, Kind: kind, BillTime: billTime, InDoc: doc})
	if err != nil {
		return err
	}
	writes := make([]sdk.StateWrite, 0, stockInBatch)
	for start := 0; start < len(codes); start += stockInBatch {
		part := codes[start:min(start+stockInBatch, len(codes))]
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
// one of the two compare-and-sets fail; that one reads again and sees the
// other's.
func (h *handler) reserveStockOut(ctx context.Context, b *uploadBill) (sdk.Diagnostics, string, error) {
	host := h.req.Host
	for range 10 {
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
				se, ver, err := getStock(ctx, host, c)
				if err != nil {
					return nil, "", err
				}
				if se.State == stockOut {
					switch {
					case se.Doc != b.BillNo:
						ds.Error(at, "state", fmt.Sprintf("code %s (line %d) was already stocked out by document %s%s", c, l.LineNo, se.Doc, atTime(se.BillTime)),
							"a package leaves stock once: remove the code from this document (check the package scanned), or stock it in again first if it came back (103 退货入库)")
					case se.Via != "":
						// This document's earlier attempt took it: its
						// packages are marked opened again (a no-op
						// unless that attempt stopped in between).
						chain, err := chainTo(ctx, host, c, se.Via)
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
				anc, ae, chain, err := stockedAncestor(ctx, host, c)
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

// takeCodes marks the packages the codes leave as opened and writes the
// stock-out entries; when one of them changed since it was read (or a
// package left meanwhile), it puts back what it wrote and reports the
// conflict.
func (h *handler) takeCodes(ctx context.Context, doc string, todo []stockOutCode) (bool, error) {
	host := h.req.Host
	type written struct {
		code string
		ver  int64
		prev stockEntry
	}
	var done []written
	var marked [][2]string // package, code
	undo := func() error {
		bg := context.WithoutCancel(ctx)
		for _, w := range done {
			if _, err := putStock(bg, host, w.code, w.ver, w.prev); err != nil && !errors.Is(err, sdk.ErrConflict) {
				return fmt.Errorf("put code %s back in stock after a concurrent change: %w", w.code, err)
			}
		}
		for _, m := range marked {
			if _, err := markOpened(bg, host, m[0], m[1], doc, true); err != nil {
				return err
			}
		}
		return nil
	}
	for _, t := range todo {
		for _, p := range t.chain {
			conflict, err := markOpened(ctx, host, p, t.code, doc, false)
			if err == nil && conflict {
				return true, undo()
			}
			if err != nil {
				return false, errors.Join(err, undo())
			}
			marked = append(marked, [2]string{p, t.code})
		}
		if !t.own {
			continue
		}
		v, err := putStock(ctx, host, t.code, t.ver, t.entry)
		if err == nil {
			prev := stockEntry{}
			if t.entry.Prev != nil {
				prev = *t.entry.Prev
			}
			done = append(done, written{t.code, v, prev})
			continue
		}
		if !errors.Is(err, sdk.ErrConflict) {
			return false, errors.Join(fmt.Errorf("take code %s out of stock: %w", t.code, err), undo())
		}
		return true, undo()
	}
	return false, nil
}

// releaseStockOut puts back in stock the codes a refused stock-out
// document took: each entry it wrote returns to what it replaced.
func (h *handler) releaseStockOut(ctx context.Context, b *uploadBill) error {
	host := h.req.Host
	for _, l := range b.Lines {
		for _, tc := range l.TraceCodes {
			for attempt := 0; ; attempt++ {
				se, ver, err := getStock(ctx, host, tc.Code)
				if err != nil {
					return err
				}
				if se.State != stockOut || se.Doc != b.BillNo {
					break
				}
				if se.Via != "" && attempt == 0 {
					chain, err := chainTo(ctx, host, tc.Code, se.Via)
					if err != nil {
						return err
					}
					for _, p := range chain {
						if _, err := markOpened(ctx, host, p, tc.Code, b.BillNo, true); err != nil {
							return err
						}
					}
				}
				prev := stockEntry{}
				if se.Prev != nil {
					prev = *se.Prev
				}
				_, err = putStock(ctx, host, tc.Code, ver, prev)
				if err == nil {
					break
				}
				if !errors.Is(err, sdk.ErrConflict) || attempt == 10 {
					return fmt.Errorf("put code %s of refused document %s back in stock: %w", tc.Code, b.BillNo, err)
				}
			}
		}
	}
	return nil
}

// atTime formats a document's time for a message: " (2026-11-26 09:30:00)".
func atTime(billTime string) string {
	if billTime == "" {
		return ""
	}
	return " (" + billTime + ")"
}
