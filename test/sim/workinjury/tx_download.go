package workinjury

import (
	"maps"
	"time"

	"github.com/medgate/medgate/test/sim/simspec"
)

// The settlement chain's downloads. GYD101, GYD102, GYD103, GYD003,
// GYD004, GYD005 and GYD401–GYD404 are incremental queues fed by the
// ledger (see queue.go); GYD104 answers one person's settlements at once.

// recordFields returns the item fields of the output array "records".
func recordFields(sc *simspec.Tx) []simspec.Field {
	for _, f := range sc.Output {
		if f.Name == "records" {
			return f.Fields
		}
	}
	return nil
}

// project keeps the keys of rec that fields declare, recursively, so that
// an answer never carries a field its schema does not know.
func project(fields []simspec.Field, rec map[string]any) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		v, ok := rec[f.Name]
		if !ok || v == nil {
			continue
		}
		switch f.Kind {
		case "object":
			if m, ok := v.(map[string]any); ok {
				out[f.Name] = project(f.Fields, m)
			}
		case "array":
			arr, _ := v.([]any)
			list := make([]any, 0, len(arr))
			for _, x := range arr {
				if m, ok := x.(map[string]any); ok {
					list = append(list, project(f.Fields, m))
				}
			}
			if len(list) > 0 {
				out[f.Name] = list
			}
		default:
			out[f.Name] = v
		}
	}
	return out
}

// ledgerDownload hands out the next batch of code's queue: snapshot gives
// an item's full record (nil: not offered), which is filtered by the
// input's aab301 (the person's 参保地) and projected onto the schema. A
// full download (all) that names a batch of its pass as last_batch_no
// goes on after the items that pass handed out.
func (s *Server) ledgerDownload(sc *simspec.Tx, in map[string]any, now time.Time, all bool, snapshot func(id string) map[string]any) (map[string]any, *bizError) {
	fields, region := recordFields(sc), str(in, "aab301")
	q := s.queues[sc.Code]
	var prior map[string]bool
	if last := q.of(s.sender).batches[str(in, "last_batch_no")]; all && last != nil {
		prior = last.pass
	}
	b, more, be := s.download(q, now, func(id string) map[string]any {
		rec := snapshot(id)
		if rec == nil || (region != "" && str(rec, "aab301") != region) {
			return nil
		}
		return project(fields, rec)
	}, all, prior)
	if be != nil {
		return nil, be
	}
	if all && len(b.ids) == s.batchSize() {
		more = true
	}
	return batchOutput(b, more), nil
}

func yes(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (s *Server) gyd101(sc *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	out, be := s.ledgerDownload(sc, in, now, false, func(id string) map[string]any {
		if v := s.l.visits[id]; v != nil {
			return maps.Clone(v.rec)
		}
		return nil
	})
	if be == nil {
		s.markDelivered()
	}
	return out, be
}

// markDelivered marks the visits of the sender's outstanding GYD101 batch
// as downloaded by the sender; s.mu is held.
func (s *Server) markDelivered() {
	if b := s.queues["GYD101"].of(s.sender).outstanding; b != nil {
		for _, id := range b.ids {
			if v := s.l.visits[id]; v != nil {
				if v.downloadedBy == nil {
					v.downloadedBy = map[string]bool{}
				}
				v.downloadedBy[s.sender] = true
			}
		}
	}
}

func (s *Server) gyd102(sc *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	akb020, akc190, ykc700 := str(in, "akb020"), str(in, "akc190"), str(in, "ykc700")
	match := func(v *visit) bool {
		return v.akb020 == akb020 && v.akc190 == akc190 && (ykc700 == "" || v.no == ykc700)
	}
	found := false
	for _, v := range s.l.visits {
		if !match(v) {
			continue
		}
		if !v.downloadedBy[s.sender] {
			return nil, bizErr("E2005", "就诊登记 %s（%s/%s）的入院信息尚未下载：先用 GYD101 下载入院信息", v.no, akb020, akc190)
		}
		found = true
	}
	if !found {
		return nil, bizErr("E2005", "协议机构 %s 没有住院号 %s 的入院信息：先用 GYD101 下载入院信息", akb020, akc190)
	}
	full := str(in, "full_flag") == "1"
	return s.ledgerDownload(sc, in, now, full, func(id string) map[string]any {
		d := s.l.details[id]
		if d == nil || !match(d.visit) || (full && d.revoked) {
			return nil
		}
		return d.record()
	})
}

// settlementRecord is the GYD103/GYD104 record of a settlement.
func settlementRecord(st *settlement) map[string]any {
	rec := maps.Clone(st.rec)
	rec["akc264"], rec["fund_pay"], rec["self_pay"] = st.total.Number(), st.fund.Number(), st.self.Number()
	rec["revoked"] = yes(st.revoked)
	if st.visit != nil {
		rec["ykc700"], rec["akc190"] = st.visit.no, st.visit.akc190
	}
	if st.monthly != "" {
		rec["month_settle_no"] = st.monthly
	}
	return rec
}

func (s *Server) gyd103(sc *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	mno := str(in, "month_settle_no")
	if mno != "" && s.l.monthlies[mno] == nil {
		return nil, bizErr("E2006", "月结 %s 不存在", mno)
	}
	return s.ledgerDownload(sc, in, now, false, func(id string) map[string]any {
		st := s.l.settles[id]
		if st == nil || (mno != "" && st.monthly != mno) {
			return nil
		}
		return settlementRecord(st)
	})
}

func (s *Server) gyd104(sc *simspec.Tx, _ string, in map[string]any, _ time.Time) (map[string]any, *bizError) {
	aac002, aac003, from, to := str(in, "aac002"), str(in, "aac003"), str(in, "aae030"), str(in, "aae031")
	fields := recordFields(sc)
	var recs []any
	for _, no := range sortedKeys(s.l.settles) {
		st := s.l.settles[no]
		d := day(st.at)
		if st.aac002 != aac002 || (from != "" && d < from) || (to != "" && d > to) {
			continue
		}
		if aac003 != "" && str(st.rec, "aac003") != "" && str(st.rec, "aac003") != aac003 {
			return nil, bizErr("E2007", "人员信息不符：社会保障号码 %s 的职工姓名：%s，查询的姓名：%s", aac002, str(st.rec, "aac003"), aac003)
		}
		recs = append(recs, project(fields, settlementRecord(st)))
	}
	out := map[string]any{"record_count": len(recs)}
	if len(recs) > 0 {
		out["records"] = recs
	}
	return out, nil
}

func (s *Server) gyd003(sc *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	return s.ledgerDownload(sc, in, now, false, func(id string) map[string]any {
		mo := s.l.monthlies[id]
		if mo == nil {
			return nil
		}
		rec := maps.Clone(mo.rec)
		// aab301 filters by the persons of the month: offer the record to
		// each 参保地 among its items.
		if region := str(in, "aab301"); region != "" {
			for _, it := range mo.items {
				if it.st.aab301 == region {
					rec["aab301"] = region
				}
			}
		}
		return rec
	})
}

func (s *Server) gyd004(sc *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	settleNo, full := str(in, "settle_no"), str(in, "full_flag") == "1"
	return s.ledgerDownload(sc, in, now, full, func(id string) map[string]any {
		d := s.l.deductions[id]
		if d == nil || (settleNo != "" && d.settle.no != settleNo) || (full && d.revoked) {
			return nil
		}
		rec := maps.Clone(d.rec)
		rec["revoked"] = yes(d.revoked)
		return rec
	})
}

func (s *Server) gyd005(sc *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	m := str(in, "clear_month")
	return s.ledgerDownload(sc, in, now, false, func(id string) map[string]any {
		c := s.l.clearings[id]
		if c == nil || (m != "" && str(c.rec, "clear_month") != m) {
			return nil
		}
		return maps.Clone(c.rec)
	})
}

// gydRevocation serves GYD401–GYD404 from the revocation records.
func (s *Server) gydRevocation(sc *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	return s.ledgerDownload(sc, in, now, false, func(id string) map[string]any {
		r := s.l.revocations[id]
		if r == nil || revokeDownload[r.code] != sc.Code {
			return nil
		}
		return r.record()
	})
}
