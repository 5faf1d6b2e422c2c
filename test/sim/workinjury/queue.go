package workinjury

import (
	"fmt"
	"time"
)

// queue is the incremental download queue of one download code: the
// items and their versions, the same for every sender, and for each
// sender (the envelope's sender code: each hospital or agency downloads
// its own increments) its view of them. An item is pending for a sender
// while its current version is newer than the version that sender last
// acknowledged with result 1.
type queue struct {
	code    string
	order   []string
	version map[string]int
	views   map[string]*view
	// history is every batch of the code, of every sender, oldest first.
	history []*batch
}

// view is one sender's download state of a queue.
type view struct {
	acked       map[string]int
	outstanding *batch
	redeliver   bool
	batches     map[string]*batch
	history     []*batch
}

// of returns sender's view of q, made on first use.
func (q *queue) of(sender string) *view {
	v := q.views[sender]
	if v == nil {
		v = &view{acked: map[string]int{}, batches: map[string]*batch{}}
		q.views[sender] = v
	}
	return v
}

type batch struct {
	no     string
	code   string
	sender string
	ids    []string
	// rids are the record ids the client feeds back with GYU008, in the
	// order of ids (recordID of the code's records).
	rids       []string
	versions   []int
	records    []map[string]any
	at         time.Time
	deliveries int
	acked      bool
	feedbacks  int
	// fed are the records (record id → result_flag) fed back so far of a
	// batch above MaxBatch, which is acknowledged in parts.
	fed map[string]string
	// pass is, for a batch of a complete re-download (full_flag), the
	// items handed out in that pass up to and including this batch: a
	// full download naming it as last_batch_no goes on after them.
	pass map[string]bool
}

func newQueue(code string) *queue {
	return &queue{code: code, version: map[string]int{}, views: map[string]*view{}}
}

// touch marks an item new or changed.
func (q *queue) touch(id string) {
	if _, ok := q.version[id]; !ok {
		q.order = append(q.order, id)
	}
	q.version[id]++
}

// BatchInfo describes a download batch handed out by the simulator.
type BatchInfo struct {
	No         string
	Code       string
	Records    int
	Deliveries int // times it was handed out (more than 1 after GYR005)
	Acked      bool
	Feedbacks  int      // accepted GYU008 for it (at most 1; one per part for a batch above MaxBatch)
	IDs        []string // the record ids, as fed back with GYU008
	Sender     string   // the sender code of the envelope that downloaded it
}

// Batches returns the batches of a download code, of every sender, oldest
// first.
func (s *Server) Batches(code string) []BatchInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[code]
	if q == nil {
		return nil
	}
	var out []BatchInfo
	for _, b := range q.history {
		out = append(out, BatchInfo{No: b.no, Code: b.code, Records: len(b.ids), Deliveries: b.deliveries, Acked: b.acked, Feedbacks: b.feedbacks,
			IDs: append([]string(nil), b.rids...), Sender: b.sender})
	}
	return out
}

// Pending counts the items of a download code not yet acknowledged: by
// every sender that downloaded the code, or by none when none did.
func (s *Server) Pending(code string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[code]
	n := 0
	for _, id := range q.order {
		pending := len(q.views) == 0
		for _, v := range q.views {
			pending = pending || q.version[id] > v.acked[id]
		}
		if pending {
			n++
		}
	}
	return n
}

// recordID names, per download code, the record field GYU008 feeds back
// as record_id.
var recordID = map[string]string{
	"GYD001": "apply_no", "GYD006": "filing_no", "GYD009": "akb020", "GYD101": "ykc700", "GYD102": "detail_no",
	"GYD103": "settle_no", "GYD004": "deduct_no", "GYD003": "month_settle_no", "GYD005": "clear_no",
	"GYD401": "revoke_no", "GYD402": "revoke_no", "GYD403": "revoke_no", "GYD404": "deduct_no",
}

// downloadCodes are the acknowledged incremental downloads.
var downloadCodes = sortedKeys(recordID)

// download hands out the next batch of the sender of the request being
// processed (s.sender); s.mu is held. snapshot returns the record of an
// item, or nil when the item does not match the filters. With full, items
// already acknowledged are handed out again (a full re-download of what
// matches, e.g. GYD102 full_flag), except those in prior (the pass of the
// full batch the client named as last_batch_no).
func (s *Server) download(q *queue, now time.Time, snapshot func(id string) map[string]any, full bool, prior map[string]bool) (*batch, bool, *bizError) {
	v := q.of(s.sender)
	if v.outstanding != nil {
		if !v.redeliver {
			return nil, false, bizErr("E2001", "上一批次 %s 尚未反馈：请先用 GYU008 反馈，或用 GYR005 申请重新下载", v.outstanding.no)
		}
		v.redeliver = false
		v.outstanding.deliveries++
		return v.outstanding, s.hasMore(q, v, snapshot, v.outstanding), nil
	}
	b := &batch{no: s.batchNo(now), code: q.code, sender: s.sender, at: now, deliveries: 1}
	inBatch := map[string]bool{}
	for _, id := range q.order {
		if len(b.ids) == s.batchSize() {
			break
		}
		if (!full && q.version[id] <= v.acked[id]) || prior[id] {
			continue
		}
		rec := snapshot(id)
		if rec == nil {
			continue
		}
		rid := str(rec, recordID[q.code])
		if inBatch[rid] {
			continue // a record id once per batch; the other comes next time
		}
		inBatch[rid] = true
		b.ids = append(b.ids, id)
		b.rids = append(b.rids, rid)
		b.versions = append(b.versions, q.version[id])
		b.records = append(b.records, rec)
	}
	if full {
		b.pass = make(map[string]bool, len(prior)+len(b.ids))
		for id := range prior {
			b.pass[id] = true
		}
		for _, id := range b.ids {
			b.pass[id] = true
		}
	}
	q.history = append(q.history, b)
	v.history = append(v.history, b)
	v.batches[b.no] = b
	if len(b.ids) > 0 {
		v.outstanding = b
	} else {
		b.acked = true // nothing to acknowledge
	}
	return b, s.hasMore(q, v, snapshot, b), nil
}

// batchSize is the most records a download batch carries: BatchSize, or
// OverBatchLimit when the simulator breaks the limit.
func (s *Server) batchSize() int {
	if s.cfg.OverBatchLimit > 0 {
		return s.cfg.OverBatchLimit
	}
	return s.cfg.BatchSize
}

func (s *Server) hasMore(q *queue, v *view, snapshot func(id string) map[string]any, b *batch) bool {
	in := map[string]bool{}
	for _, id := range b.ids {
		in[id] = true
	}
	for _, id := range q.order {
		if !in[id] && q.version[id] > v.acked[id] && snapshot(id) != nil {
			return true
		}
	}
	return false
}

func (s *Server) batchNo(now time.Time) string {
	s.seq++
	return fmt.Sprintf("D%s%s%04d", s.cfg.Region, now.In(cst).Format("20060102150405"), s.seq%10000)
}

var cst = time.FixedZone("CST", 8*3600)

func batchOutput(b *batch, more bool) map[string]any {
	recs := make([]any, len(b.records))
	for i, r := range b.records {
		recs[i] = r
	}
	hm := "0"
	if more {
		hm = "1"
	}
	return map[string]any{"batch_no": b.no, "record_count": len(b.records), "has_more": hm, "records": recs}
}
