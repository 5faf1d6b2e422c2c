package hsa

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
)

// maxQueryPages bounds QueryAll so a platform that always reports more
// pages, or never answers an empty page, cannot keep it looping.
const maxQueryPages = 1000

// QueryAll runs a paged query (4207, 4208, 4209 …) from page 1 until the
// records run out, and returns every record. input is the query's input
// without page_num and page_size, which QueryAll sets. maxRecords > 0
// stops early once that many were read.
//
// The records run out at an empty page, at the last page the answer
// counts (pages), or once the answer's record count (recordCounts) was
// read; the page count does not end it while the record count says more
// records are to come. An answer without output, or records running out
// before the count an answer gave, is an error, never fewer records
// (ParsePage). A short page is never taken for the last one: a platform may serve
// fewer records per page than asked (its own maximum page size), so
// without counts QueryAll reads on until an empty page, one call more.
// Callers reconcile calls whose outcome is unknown with these records, and
// a record missed would be resent as "not there". For the same reason a
// query that does not end within maxQueryPages pages is an error, never a
// partial answer.
func (c *Client) QueryAll(ctx context.Context, h Host, messageID, infno string, input map[string]any, pageSize, maxRecords int) ([]json.RawMessage, error) {
	if pageSize < 1 {
		pageSize = 100
	}
	var all []json.RawMessage
	total := -1 // the largest record count an answer reported
	// end returns the records once they ran out on page (msgid), unless
	// an answer counted more than were listed: a partial answer, which
	// would make a record missed read as absent.
	end := func(page int, msgid string) ([]json.RawMessage, error) {
		if total > len(all) {
			return all, &AnswerError{Infno: infno, MsgID: msgid, Err: fmt.Errorf("page %d: the answers count %d records (%q) but list %d when they run out; the answer is incomplete and settles nothing: ask again, or check the pagingFields setting",
				page, total, c.cfg.Paging.Count, len(all))}
		}
		return all, nil
	}
	for page := 1; page <= maxQueryPages; page++ {
		in := maps.Clone(input)
		if in == nil {
			in = map[string]any{}
		}
		in["page_num"], in["page_size"] = page, pageSize
		res, err := c.Do(ctx, h, Call{Infno: infno, Input: in, MessageID: messageID})
		if err != nil {
			return all, err
		}
		pg, err := ParsePage(res.Output, c.cfg.Paging)
		if err != nil {
			return all, &AnswerError{Infno: infno, MsgID: res.MsgID, Err: fmt.Errorf("page %d: %w", page, err)}
		}
		all = append(all, pg.Records...)
		total = max(total, pg.Total)
		switch {
		case maxRecords > 0 && len(all) >= maxRecords:
			return all, nil
		case len(pg.Records) == 0:
			return end(page, res.MsgID)
		case pg.Pages >= 0 && page >= pg.Pages && total <= len(all):
			// The last page counted, unless a record count says more are
			// to come (pages counted for the page size asked, records
			// served fewer a page): then read on, to an empty page.
			return all, nil
		case pg.Total >= 0 && len(all) >= pg.Total:
			return all, nil
		}
	}
	return all, fmt.Errorf("%s: still not at the end after %d pages of %d records (no empty page, and the answers' %q/%q counts did not end it); narrow the query, or check the pagingFields setting", infno, maxQueryPages, pageSize, c.cfg.Paging.Pages, c.cfg.Paging.Count)
}
