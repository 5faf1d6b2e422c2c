package workinjury

import (
	"maps"
	"time"

	"github.com/medgate/medgate/test/sim/simspec"
)

// Revocations: fee details (GYR001), admission (GYR002), settlement
// (GYR003) and deductions (GYR004), each downloaded with GYD401–GYD404.

// revokeDownload is the download of each revocation.
var revokeDownload = map[string]string{"GYR001": "GYD401", "GYR002": "GYD402", "GYR003": "GYD403", "GYR004": "GYD404"}

// addRevocation stores a revocation record under queue id id and queues
// it for its download; s.mu is held.
func (s *Server) addRevocation(code, id, no string, rec map[string]any, at time.Time, in map[string]any) *revocation {
	rec["revoke_no"], rec["revoke_time"] = no, stamp(at)
	if r := str(in, "revoke_reason"); r != "" {
		rec["revoke_reason"] = r
	}
	r := &revocation{no: no, code: code, rec: rec, at: at}
	s.l.revocations[id] = r
	s.queues[revokeDownload[code]].touch(id)
	return r
}

func (s *Server) gyr001(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	v, be := s.openVisit(in)
	if be != nil {
		return nil, be
	}
	live := v.live()
	if len(live) == 0 {
		return nil, bizErr("E7003", "就诊登记 %s 没有可撤销的费用明细", v.no)
	}
	target := live
	if want := items(in, "details"); len(want) > 0 {
		bySerial := map[string]*detail{}
		for _, d := range live {
			bySerial[d.serial] = d
		}
		target = nil
		seen := map[string]bool{}
		for _, r := range want {
			no := str(r, "detail_no")
			d := bySerial[no]
			if d == nil || seen[no] {
				return nil, bizErr("E7003", "就诊登记 %s 没有未撤销的明细 %s（或本次重复列出）", v.no, no)
			}
			seen[no] = true
			target = append(target, d)
		}
	}
	var list []any
	if len(items(in, "details")) > 0 {
		for _, d := range target {
			list = append(list, map[string]any{"detail_no": d.serial})
		}
	}
	for _, d := range target {
		d.revoked = true
		delete(v.serials, d.serial) // the corrected line may use it
	}
	no := s.nextNo("CX", now)
	rec := map[string]any{"ykc700": v.no, "akc190": v.akc190, "akb020": v.akb020, "aac002": v.aac002, "aab301": v.aab301}
	if list != nil {
		rec["details"] = list
	}
	s.addRevocation("GYR001", no, no, rec, eventTime(in, now, "revoke_time", "aae036"), in)
	s.record("GYR001", serial, v.no, now)
	return map[string]any{"revoke_no": no, "revoked_count": len(target)}, nil
}

func (s *Server) gyr002(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	v, be := s.openVisit(in)
	if be != nil {
		return nil, be
	}
	if n := len(v.live()); n > 0 {
		return nil, bizErr("E7004", "就诊登记 %s 还有 %d 条未撤销的费用明细：先用 GYR001 撤销", v.no, n)
	}
	v.state = VisitRevoked
	no := s.nextNo("CX", now)
	s.addRevocation("GYR002", no, no, map[string]any{"ykc700": v.no, "akc190": v.akc190, "akb020": v.akb020, "aac002": v.aac002, "aab301": v.aab301},
		eventTime(in, now, "revoke_time", "aae036"), in)
	s.record("GYR002", serial, v.no, now)
	return map[string]any{"revoke_no": no}, nil
}

func (s *Server) gyr003(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	no := str(in, "settle_no")
	st := s.l.settles[no]
	switch {
	case st == nil:
		return nil, bizErr("E7001", "结算 %s 不存在", no)
	case st.revoked:
		return nil, bizErr("E7002", "结算 %s 已撤销（%s）", no, st.revoking.no)
	case str(in, "akb020") != "" && str(in, "akb020") != st.akb020:
		return nil, bizErr("E7001", "结算 %s 属于协议机构 %s，不是 %s", no, st.akb020, str(in, "akb020"))
	case str(in, "ykc700") != "" && (st.visit == nil || st.visit.no != str(in, "ykc700")):
		return nil, bizErr("E7001", "结算 %s 不属于就诊登记 %s", no, str(in, "ykc700"))
	}
	if be := s.monthInParts(st.akb020, eventTime(in, now, "revoke_time", "aae036")); be != nil {
		return nil, be
	}
	st.revoked = true
	rec := map[string]any{"settle_no": st.no, "akb020": st.akb020, "aac002": st.aac002, "aab301": st.aab301, "fund_pay": st.fund.Number(),
		"institution_type": str(st.rec, "institution_type")}
	admission := "0"
	if v := st.visit; v != nil {
		rec["ykc700"] = v.no
		for _, d := range v.details {
			d.revoked = true
		}
		clear(v.serials)
		v.state = VisitRevoked
		admission = "1"
	}
	rno := s.nextNo("CX", now)
	st.revoking = s.addRevocation("GYR003", rno, rno, rec, eventTime(in, now, "revoke_time", "aae036"), in)
	// The requirement (18): the settlement's attachments are revoked with
	// it; here, the rehabilitation plan it was settled with.
	if a := s.attachments[str(st.rec, "rehab_plan_id")]; a != nil {
		a.revokedBy = rno
	}
	s.queues["GYD103"].touch(st.no)
	s.record("GYR003", serial, st.no, now)
	return map[string]any{"revoke_no": rno, "admission_revoked": admission}, nil
}

func (s *Server) gyr004(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	rows := items(in, "deductions")
	if len(rows) == 0 || len(rows) > maxLines {
		return nil, bizErr("E6107", "一次撤销 %d 条扣款，须为 1 至 %d 条", len(rows), maxLines)
	}
	seen := map[string]bool{}
	at := eventTime(in, now, "revoke_time", "aae036")
	var target []*deduction
	var reasons []string
	var first *bizError
	for i, r := range rows {
		no := str(r, "deduct_no")
		d := s.l.deductions[no]
		var be *bizError
		switch {
		case d == nil || seen[no]:
			be = bizErr("E7005", "第 %d 条：扣款 %s 不存在（或本次重复列出）", i+1, no)
		case d.revoked:
			be = bizErr("E7006", "第 %d 条：扣款 %s 已撤销（%s）", i+1, no, d.revoking.no)
		case at.Before(d.at):
			be = bizErr("E7007", "第 %d 条：撤销时间 %s 早于扣款 %s 的扣款时间 %s", i+1, stamp(at), d.no, stamp(d.at))
		default:
			be = s.monthInParts(d.akb020, at)
		}
		if be == nil {
			seen[no] = true
			target = append(target, d)
			reasons = append(reasons, str(r, "revoke_reason"))
			continue
		}
		if !s.cfg.PartialDeductions {
			return nil, be
		}
		if first == nil {
			first = be
		}
	}
	if len(target) == 0 {
		return nil, first
	}
	rno := s.nextNo("CX", now)
	for i, d := range target {
		d.revoked = true
		rec := map[string]any{"deduct_no": d.no, "settle_no": d.settle.no, "akb020": d.akb020, "deduct_amount": d.amount.Number(), "aab301": d.settle.aab301}
		reason := map[string]any{"revoke_reason": firstOr(reasons[i], str(in, "revoke_reason"))}
		d.revoking = s.addRevocation("GYR004", rno+"/"+d.no, rno, rec, at, reason)
		s.queues["GYD004"].touch(d.no)
		s.record("GYR004", serial, d.no, now)
	}
	return map[string]any{"revoke_no": rno, "revoked_count": len(target)}, nil
}

// record is the download record of a revocation.
func (r *revocation) record() map[string]any { return maps.Clone(r.rec) }
