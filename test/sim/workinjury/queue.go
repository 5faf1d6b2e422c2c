package workinjury

import (
	"fmt"
	"time"
)

// queue is the incremental download queue of one download code. An item
// is pending while its current version is newer than the version last
// acknowledged with result 1.
type queue struct {
	code        string
	order       []string
	version     map[string]int
	acked       map[string]int
	outstanding *batch
	redeliver   bool
	batches     map[string]*batch
	history     []*batch
}

type batch struct {
	no         string
	code       string
	ids        []string
	versions   []int
	records    []map[string]any
	at         time.Time
	deliveries int
	acked      bool
	feedbacks  int
}

func newQueue(code string) *queue {
	return &queue{code: code, version: map[string]int{}, acked: map[string]int{}, batches: map[string]*batch{}}
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
	Feedbacks  int // accepted GYU008 for it (at most 1)
	IDs        []string
}

// Batches returns the batches of a download code, oldest first.
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
			IDs: append([]string(nil), b.ids...)})
	}
	return out
}

// Pending counts the items of a download code not yet acknowledged.
func (s *Server) Pending(code string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[code]
	n := 0
	for _, id := range q.order {
		if q.version[id] > q.acked[id] {
			n++
		}
	}
	return n
}

// download hands out the next batch; s.mu is held. snapshot returns the
// record of an item, or nil when the item does not match the filters.
func (s *Server) download(q *queue, now time.Time, snapshot func(id string) map[string]any) (*batch, bool, *bizError) {
	if q.outstanding != nil {
		if !q.redeliver {
			return nil, false, bizErr("E2001", "上一批次 %s 尚未反馈：请先用 GYU008 反馈，或用 GYR005 申请重新下载", q.outstanding.no)
		}
		q.redeliver = false
		q.outstanding.deliveries++
		return q.outstanding, s.hasMore(q, snapshot, q.outstanding), nil
	}
	b := &batch{no: s.batchNo(now), code: q.code, at: now, deliveries: 1}
	for _, id := range q.order {
		if len(b.ids) == s.cfg.BatchSize {
			break
		}
		if q.version[id] <= q.acked[id] {
			continue
		}
		rec := snapshot(id)
		if rec == nil {
			continue
		}
		b.ids = append(b.ids, id)
		b.versions = append(b.versions, q.version[id])
		b.records = append(b.records, rec)
	}
	q.history = append(q.history, b)
	q.batches[b.no] = b
	if len(b.ids) > 0 {
		q.outstanding = b
	} else {
		b.acked = true // nothing to acknowledge
	}
	return b, s.hasMore(q, snapshot, b), nil
}

func (s *Server) hasMore(q *queue, snapshot func(id string) map[string]any, b *batch) bool {
	in := map[string]bool{}
	for _, id := range b.ids {
		in[id] = true
	}
	for _, id := range q.order {
		if !in[id] && q.version[id] > q.acked[id] && snapshot(id) != nil {
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
