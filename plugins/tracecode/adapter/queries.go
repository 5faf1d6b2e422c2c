package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/code"
	"github.com/medgate/medgate/plugins/tracecode/platform"
)

// Code-hierarchy query results are kept so that the export can show them
// (requirements §2.2.3 items 7, 8 and 10):
//
//	log/query/<yyyymmdd>/<%08d>          one queryRecord per answered query
//	qnodes/<yyyymmdd>/<%08d>/<%05d>      its hierarchy nodes, chunkSize per entry
//
// The record is written before its nodes and names their chunk count; a
// reader skips a chunk that is missing (a crash between the two writes).
const kindQuery = "query"

// queryRecord is one answered code-hierarchy query.
type queryRecord struct {
	At time.Time `json:"at"`
	// Op is the message type of the query (codes.bybill.smallest or
	// codes.smallest), also when a stock-in fetch made it.
	Op         string `json:"op"`
	BillNo     string `json:"billNo,omitempty"`
	Code       string `json:"code,omitempty"`
	Nodes      int    `json:"nodes"`
	Tops       int    `json:"tops"`
	Smallest   int    `json:"smallest"`
	Mismatches int    `json:"mismatches"`
	Chunks     int    `json:"chunks"`
	// Trigger is the message type that made the query, MessageID its id.
	Trigger   string `json:"trigger"`
	MessageID string `json:"messageId,omitempty"`
}

// queryNode is one stored node of a hierarchy answer.
type queryNode struct {
	Code      string `json:"c"`
	Parent    string `json:"p,omitempty"`
	Top       string `json:"t,omitempty"`
	Line      int    `json:"l,omitempty"`
	Level     int    `json:"v,omitempty"`
	PackLevel int    `json:"k,omitempty"`
	Smallest  bool   `json:"s,omitempty"`
	Ratio     string `json:"r,omitempty"`
	Box       string `json:"b,omitempty"`
	// Problem is the pack-ratio check of a top code, empty when it adds up.
	Problem string `json:"q,omitempty"`
}

// queryNodeBase is the key prefix of the nodes of the record at logKey.
func queryNodeBase(logKey string) string {
	return "qnodes/" + strings.TrimPrefix(logKey, "log/"+kindQuery+"/") + "/"
}

// hierarchyRows turns the platform's nodes and their expansion into the
// rows to store: each node with its top code, whether it is one of the
// smallest codes, and the pack-ratio check of top codes.
func hierarchyRows(nodes []hierNode, ex code.Expansion) []queryNode {
	parent := make(map[string]string, len(nodes))
	for _, n := range nodes {
		if _, dup := parent[n.Code]; !dup {
			parent[n.Code] = n.ParentCode
		}
	}
	top := func(c string) string {
		for range len(nodes) + 1 { // a loop in the data ends the walk
			p, listed := parent[c]
			if !listed || p == "" || p == c {
				return c
			}
			if _, in := parent[p]; !in {
				return c
			}
			c = p
		}
		return c
	}
	smallest := make(map[string]bool, len(ex.Smallest))
	for _, c := range ex.Smallest {
		smallest[c] = true
	}
	problems := map[string]string{}
	for _, t := range ex.Tops {
		if t.Problem != "" {
			problems[t.Code] = t.Problem
		}
	}
	// A code the answer lists more than once is counted once, as its
	// first node (code.Expand): a repeat is kept as answered, neither a
	// smallest code (the 最小子码 sheet would list it twice) nor a top.
	first := make(map[string]bool, len(nodes))
	rows := make([]queryNode, len(nodes))
	for i, n := range nodes {
		counted := !first[n.Code]
		first[n.Code] = true
		rows[i] = queryNode{Code: n.Code, Parent: n.ParentCode, Top: top(n.Code), Line: n.LineNo, Level: n.CodeLevel, PackLevel: n.CodePackLevel,
			Smallest: counted && smallest[n.Code], Ratio: n.PkgRatio, Box: n.BoxStatus}
		if counted && rows[i].Top == n.Code {
			rows[i].Problem = problems[n.Code]
		}
	}
	return rows
}

// storeQuery keeps an answered hierarchy query with its nodes, in the
// daily log of the day it was answered. A failure to store is returned:
// the answer must not be lost from the export silently.
//
// The record is written last, after every chunk of its nodes: an export
// reading the day meanwhile finds the whole answer or (its key reserved,
// no record yet: a gap scanLog skips) none of it, never the chunks
// written so far.
func (h *handler) storeQuery(ctx context.Context, op, billNo, codeValue string, nodes []hierNode, ex code.Expansion) error {
	rows := hierarchyRows(nodes, ex)
	at := h.a.now().Truncate(time.Second)
	rec := queryRecord{At: at, Op: op, BillNo: billNo, Code: codeValue, Nodes: len(rows), Tops: len(ex.Tops), Smallest: len(ex.Smallest),
		Mismatches: len(ex.Mismatches), Chunks: (len(rows) + chunkSize - 1) / chunkSize, Trigger: h.req.Type, MessageID: h.req.MessageID}
	host := h.req.Host
	key, err := reserveLog(ctx, host, kindQuery, at.In(h.cfg.zone))
	if err != nil {
		return fmt.Errorf("keep the answer of %s %s%s for the export: %w", op, billNo, codeValue, err)
	}
	// Each code's package, for the stock ledger: a sub-code stocked out
	// is found inside the package stocked in.
	pairs := make([][2]string, len(rows))
	for i, r := range rows {
		pairs[i] = [2]string{r.Code, r.Parent}
	}
	if err := indexParents(ctx, host, pairs); err != nil {
		return err
	}
	base := queryNodeBase(key)
	for i := 0; i < rec.Chunks; i++ {
		b, err := json.Marshal(rows[i*chunkSize : min((i+1)*chunkSize, len(rows))])
		if err != nil {
			return fmt.Errorf("encode the hierarchy of %s%s: %w", billNo, codeValue, err)
		}
		if _, err := host.Put(ctx, fmt.Sprintf("%s%05d", base, i), b); err != nil {
			return fmt.Errorf("keep the hierarchy of %s%s for the export: %w", billNo, codeValue, err)
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode the answer of %s %s%s: %w", op, billNo, codeValue, err)
	}
	if _, err := host.Put(ctx, key, b); err != nil {
		return fmt.Errorf("keep the answer of %s %s%s for the export (%s): %w", op, billNo, codeValue, key, err)
	}
	return nil
}

// queryChunks calls fn with each stored chunk of a query's nodes.
func queryChunks(ctx context.Context, h sdk.Host, logKey string, rec *queryRecord, fn func([]queryNode) error) error {
	base := queryNodeBase(logKey)
	for i := 0; i < rec.Chunks; i++ {
		e, err := h.Get(ctx, fmt.Sprintf("%s%05d", base, i))
		if errors.Is(err, sdk.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the hierarchy %s%05d: %w", base, i, err)
		}
		var rows []queryNode
		if err := json.Unmarshal(e.Value, &rows); err != nil {
			return fmt.Errorf("decode the hierarchy %s%05d: %w", base, i, err)
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
	return nil
}

// fetchSmallestOf asks the platform for the smallest sub-codes of a
// fetched document, keeps the answer and marks the document (at its log
// key) as resolved. Problems become warnings of the fetch: the document and
// its draft are stored either way, and the next fetch of the same day (the
// hourly stock-in sync) asks again.
func (h *handler) fetchSmallestOf(ctx context.Context, billNo, key string, sum *fetchSummary) error {
	var ans struct {
		Codes []hierNode `json:"codes"`
	}
	res, _, err := h.callChecked(ctx, platform.OpBillSmallest, billNo, billPayload{BillNo: billNo}, &ans)
	switch {
	case err != nil:
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("document %s: its smallest sub-codes were not fetched (%v); the next fetch asks again, or fetch them with %s", billNo, err, OpCodesSmallest))
		return nil
	case res.NotFound:
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("document %s: the platform has no sub-codes for it yet (not stocked in on the platform); the next fetch asks again", billNo))
		return nil
	}
	ex := expandNodes(ans.Codes, h.cfg.ratioMode)
	if len(ex.Mismatches) > 0 {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("document %s: %d package(s) do not hold what their ratio says (first: %s: %s); see the sheet 码层级关系", billNo, len(ex.Mismatches), ex.Mismatches[0].Code, ex.Mismatches[0].Problem))
	}
	if err := h.storeQuery(ctx, OpCodesSmallest, billNo, "", ans.Codes, ex); err != nil {
		return err
	}
	sum.Smallest += len(ex.Smallest)
	return updateDoc(ctx, h.req.Host, key, func(d *docRecord) { d.SmallestFetched = true })
}
