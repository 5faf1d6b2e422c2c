package workinjury

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/test/sim/simspec"
)

// Clearing: audit deductions (GYU004), the monthly settlement of an
// institution (GYU003) and the clearing records (GYD005) the national side
// derives from the monthly settlements once payables and receivables are
// confirmed.

func month(t time.Time) string { return t.In(cst).Format("200601") }

func (s *Server) gyu004(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	rows := items(in, "deductions")
	if len(rows) == 0 || len(rows) > maxLines {
		return nil, bizErr("E6107", "一次上传 %d 条扣款，须为 1 至 %d 条", len(rows), maxLines)
	}
	seen := map[string]bool{}
	extra := map[*settlement]Money{}
	list := make([]pendingDeduction, 0, len(rows))
	var first *bizError
	for i, r := range rows {
		p, be := s.gyu004Row(i, r, seen, extra, now)
		if be == nil {
			list = append(list, p)
			continue
		}
		if !s.cfg.PartialDeductions {
			return nil, be
		}
		if first == nil {
			first = be
		}
	}
	if len(list) == 0 {
		return nil, first
	}
	for _, p := range list {
		s.putDeduction(&deduction{no: p.no, settle: p.st, akb020: p.st.akb020, amount: p.amount, at: p.at, rec: p.rec})
		s.record("GYU004", serial, p.no, now)
	}
	return map[string]any{"accepted_count": len(list)}, nil
}

// pendingDeduction is a deduction of a GYU004 call that passed its rules.
type pendingDeduction struct {
	no     string
	st     *settlement
	amount Money
	at     time.Time
	rec    map[string]any
}

// gyu004Row checks the i-th deduction r of a GYU004 call against the
// rules, given the numbers (seen) and the amounts per settlement (extra)
// of the deductions of the call taken before it, which it updates when r
// passes.
func (s *Server) gyu004Row(i int, r map[string]any, seen map[string]bool, extra map[*settlement]Money, now time.Time) (pendingDeduction, *bizError) {
	var none pendingDeduction
	where := fmt.Sprintf("第 %d 条扣款（%s）", i+1, str(r, "deduct_no"))
	no := str(r, "deduct_no")
	if s.l.deductions[no] != nil || seen[no] {
		return none, bizErr("E8008", "%s：扣款编号已使用", where)
	}
	st := s.l.settles[str(r, "settle_no")]
	switch {
	case st == nil:
		return none, bizErr("E8001", "%s：结算 %s 不存在，先上传结算信息", where, str(r, "settle_no"))
	case st.revoked:
		return none, bizErr("E8001", "%s：结算 %s 已撤销", where, st.no)
	case str(r, "akb020") != st.akb020:
		return none, bizErr("E8001", "%s：结算 %s 属于协议机构 %s，不是 %s", where, st.no, st.akb020, str(r, "akb020"))
	case str(r, "ykc700") != "" && (st.visit == nil || st.visit.no != str(r, "ykc700")):
		return none, bizErr("E8001", "%s：结算 %s 不属于就诊登记 %s", where, st.no, str(r, "ykc700"))
	}
	if inst := s.insts[st.akb020]; inst == nil || !s.inProvince(str(inst, "aab299")) {
		return none, bizErr("E8004", "%s：协议机构 %s 不属于本省（%s）", where, st.akb020, s.cfg.Region[:2])
	}
	amount, err := moneyField(r, "deduct_amount")
	if err != nil {
		return none, bizErr("E8002", "%s：%v", where, err)
	}
	if amount <= 0 {
		return none, bizErr("E8002", "%s：扣款金额 %s 须大于 0", where, amount)
	}
	before := s.l.deducted(st) + extra[st]
	if before+amount > st.fund {
		return none, bizErr("E8003", "%s：已扣 %s + 本次 %s = %s，超过结算 %s 的统筹支付 %s", where, before, amount, before+amount, st.no, st.fund)
	}
	at := eventTime(r, now, "deduct_time")
	if at.Before(st.at) {
		return none, bizErr("E8010", "%s：扣款时间 %s 早于结算 %s 的结算时间 %s", where, stamp(at), st.no, stamp(st.at))
	}
	if be := s.monthInParts(st.akb020, at); be != nil {
		be.msg = where + "：" + be.msg
		return none, be
	}
	seen[no] = true
	extra[st] += amount
	rec := maps.Clone(r)
	rec["deduct_amount"] = amount.Number()
	return pendingDeduction{no: no, st: st, amount: amount, at: at, rec: rec}, nil
}

// putDeduction stores a deduction and queues it for GYD004; s.mu is held.
func (s *Server) putDeduction(d *deduction) {
	d.rec["deduct_no"], d.rec["settle_no"], d.rec["akb020"] = d.no, d.settle.no, d.akb020
	d.rec["deduct_time"] = stamp(d.at)
	d.rec["aab301"] = d.settle.aab301
	if d.settle.visit != nil {
		d.rec["ykc700"] = d.settle.visit.no
	}
	d.rec["aac002"] = d.settle.aac002
	s.l.deductions[d.no] = d
	s.queues["GYD004"].touch(d.no)
}

// AddDeduction records an audit deduction made by the national side (not
// uploaded through GYU004) on settlement settleNo, at time at; it is
// downloaded with GYD004 and counts in the institution's monthly
// settlement. It refuses what GYU004 would refuse.
func (s *Server) AddDeduction(deductNo, settleNo string, amount Money, reason string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.l.settles[settleNo]
	switch {
	case deductNo == "" || s.l.deductions[deductNo] != nil:
		return fmt.Errorf("deduction number %q is empty or used; pass a new one", deductNo)
	case st == nil || st.revoked:
		return fmt.Errorf("settlement %q does not exist or is revoked; upload it (GYU103/GYU303) first", settleNo)
	case at.Before(st.at):
		return fmt.Errorf("deduction %s dated %s: before settlement %s's settle_time %s; date it after the settlement", deductNo, stamp(at), settleNo, stamp(st.at))
	case amount <= 0 || s.l.deducted(st)+amount > st.fund:
		return fmt.Errorf("deduction %s on settlement %s: must be > 0 and keep the deductions within its fund_pay %s (already %s)", amount, settleNo, st.fund, s.l.deducted(st))
	}
	if be := s.monthInParts(st.akb020, at); be != nil {
		return fmt.Errorf("deduction %s dated %s: %s (%s); date it in an open month", deductNo, stamp(at), be.msg, be.code)
	}
	s.putDeduction(&deduction{no: deductNo, settle: st, akb020: st.akb020, amount: amount, at: at, national: true,
		rec: map[string]any{"deduct_amount": amount.Number(), "deduct_reason": reason}})
	return nil
}

// RevokeDeduction revokes, at the national side, deduction deductNo at
// time at (as a GYR004 would): the revocation is downloaded with GYD404,
// the deduction no longer counts towards its settlement's limit, and the
// revocation is a record of the institution's month. It refuses what
// GYR004 would refuse.
func (s *Server) RevokeDeduction(deductNo, reason string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.l.deductions[deductNo]
	switch {
	case d == nil:
		return fmt.Errorf("deduction %q does not exist; add it (AddDeduction, GYU004) first", deductNo)
	case d.revoked:
		return fmt.Errorf("deduction %s is already revoked (%s)", deductNo, d.revoking.no)
	case at.Before(d.at):
		return fmt.Errorf("revocation of deduction %s dated %s: before the deduction's time %s; date it after the deduction", deductNo, stamp(at), stamp(d.at))
	}
	if be := s.monthInParts(d.akb020, at); be != nil {
		return fmt.Errorf("revocation of deduction %s dated %s: %s (%s); date it in an open month", deductNo, stamp(at), be.msg, be.code)
	}
	rno := s.nextNo("CX", at)
	d.revoked = true
	rec := map[string]any{"deduct_no": d.no, "settle_no": d.settle.no, "akb020": d.akb020, "deduct_amount": d.amount.Number(), "aab301": d.settle.aab301}
	d.revoking = s.addRevocation("GYR004", rno+"/"+d.no, rno, rec, at, map[string]any{"revoke_reason": reason})
	s.queues["GYD004"].touch(d.no)
	return nil
}

// MonthSums are the amounts of an institution's monthly settlement
// (GYU003) as the ledger computes them. Item types: 1 settlement (by
// settle_time), 2 settlement revocation (by revoke_time), 3 deduction (by
// deduct_time), 4 deduction revocation (by revoke_time).
type MonthSums struct {
	SettleCount, RevokeCount, PersonCount int
	Total, Fund, Self                     Money // of the settlements (type 1)
	RevokeAmount                          Money // fund_pay of the revoked settlements (type 2)
	DeductAmount, DeductRevokeAmount      Money // types 3 and 4
	MonthFund                             Money // Fund − RevokeAmount − DeductAmount + DeductRevokeAmount
}

// monthItem is one record of an institution's month.
type monthItem struct {
	typ, ref, settleNo, aac002 string
	total, amount, self        Money
	at                         time.Time
	st                         *settlement
}

// monthItems lists the institution's records of a month, ordered by type
// and reference; s.mu is held.
func (s *Server) monthItems(akb020, m string) []monthItem {
	var out []monthItem
	for _, st := range s.l.settles {
		if st.akb020 != akb020 {
			continue
		}
		if month(st.at) == m {
			out = append(out, monthItem{typ: "1", ref: st.no, settleNo: st.no, aac002: st.aac002, total: st.total, amount: st.fund, self: st.self, at: st.at, st: st})
		}
		if st.revoked && month(st.revoking.at) == m {
			out = append(out, monthItem{typ: "2", ref: st.no, settleNo: st.no, aac002: st.aac002, total: st.total, amount: st.fund, self: st.self, at: st.revoking.at, st: st})
		}
	}
	for _, d := range s.l.deductions {
		if d.akb020 != akb020 {
			continue
		}
		if month(d.at) == m {
			out = append(out, monthItem{typ: "3", ref: d.no, settleNo: d.settle.no, aac002: d.settle.aac002, amount: d.amount, at: d.at, st: d.settle})
		}
		if d.revoked && month(d.revoking.at) == m {
			out = append(out, monthItem{typ: "4", ref: d.no, settleNo: d.settle.no, aac002: d.settle.aac002, amount: d.amount, at: d.revoking.at, st: d.settle})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].typ != out[j].typ {
			return out[i].typ < out[j].typ
		}
		return out[i].ref < out[j].ref
	})
	return out
}

func sumItems(list []monthItem) MonthSums {
	var m MonthSums
	for _, it := range list {
		switch it.typ {
		case "1":
			m.SettleCount++
			m.Total += it.total
			m.Fund += it.amount
			m.Self += it.self
		case "2":
			m.RevokeCount++
			m.RevokeAmount += it.amount
		case "3":
			m.DeductAmount += it.amount
		case "4":
			m.DeductRevokeAmount += it.amount
		}
	}
	m.PersonCount = m.SettleCount - m.RevokeCount
	m.MonthFund = m.Fund - m.RevokeAmount - m.DeductAmount + m.DeductRevokeAmount
	return m
}

// MonthSums computes institution akb020's monthly settlement for month
// (yyyyMM) from the ledger, with the items GYU003 must list.
func (s *Server) MonthSums(akb020, m string) MonthSums {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sumItems(s.monthItems(akb020, m))
}

func (s *Server) gyu003(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	akb020, m := str(in, "akb020"), str(in, "settle_month")
	if _, ok := parseTime(m + "01"); !ok || len(m) != 6 {
		return nil, bizErr("E1001", "月结月份 settle_month %q 须为 yyyyMM", m)
	}
	pn, hasNo := num(in, "part_no")
	pc, hasCount := num(in, "part_count")
	if hasNo != hasCount {
		return nil, bizErr("E1001", "分部序号 part_no 与分部总数 part_count 须同时给出或都不给出")
	}
	if hasNo {
		return s.gyu003Part(serial, in, akb020, m, pn, pc, now)
	}
	if p := s.l.parted[akb020+"/"+m]; p != nil {
		return nil, bizErr("E8005", "协议机构 %s 的 %s 已分 %d 部分月结（%s），每月仅一次", akb020, m, p.count, p.no)
	}
	for _, x := range s.l.monthlies {
		if x.akb020 == akb020 && x.month == m {
			return nil, bizErr("E8005", "协议机构 %s 的 %s 月结已上传（%s），每月仅一次", akb020, m, x.no)
		}
	}
	want := s.monthItems(akb020, m)
	if len(want) == 0 {
		return nil, bizErr("E8007", "协议机构 %s 在 %s 没有结算、撤销或扣款记录，不能月结", akb020, m)
	}
	sums := sumItems(want)
	// The items before the header's sums: a header summed from items one
	// of which is wrong is refused naming that record, not only with the
	// sum that follows from it.
	if be := checkPersonCount(in, akb020, m, sums); be != nil {
		return nil, be
	}
	if be := checkMonthItems(want, items(in, "items")); be != nil {
		return nil, be
	}
	if be := checkMonthSums(in, sums); be != nil {
		return nil, be
	}
	mo := &monthly{no: s.nextNo("YJ", now), akb020: akb020, month: m, sums: sums, items: want, at: now}
	s.settleMonth(mo, want, now)
	s.record("GYU003", serial, akb020+"/"+m, now)
	return map[string]any{"month_settle_no": mo.no}, nil
}

// checkMonthHeader checks a GYU003's person count and its header's sums
// and counts against the month's records (sums).
func checkMonthHeader(in map[string]any, akb020, m string, sums MonthSums) *bizError {
	if be := checkPersonCount(in, akb020, m, sums); be != nil {
		return be
	}
	return checkMonthSums(in, sums)
}

// checkPersonCount checks a GYU003's person count, given and from the
// month's records (sums): greater than 0.
func checkPersonCount(in map[string]any, akb020, m string, sums MonthSums) *bizError {
	if pc, _ := num(in, "person_count"); pc == "0" || (len(pc) > 0 && pc[0] == '-') {
		return bizErr("E8007", "月结人次 person_count %s 须大于 0", pc)
	}
	if sums.PersonCount <= 0 {
		return bizErr("E8007", "协议机构 %s 在 %s 的月结人次（结算 %d − 撤销 %d）须大于 0", akb020, m, sums.SettleCount, sums.RevokeCount)
	}
	return nil
}

// checkMonthSums checks a GYU003's header counts and sums against the
// month's records (sums).
func checkMonthSums(in map[string]any, sums MonthSums) *bizError {
	for _, c := range []struct {
		k    string
		want string
	}{
		{"settle_count", fmt.Sprint(sums.SettleCount)}, {"revoke_count", fmt.Sprint(sums.RevokeCount)}, {"person_count", fmt.Sprint(sums.PersonCount)},
		{"total_amount", sums.Total.String()}, {"fund_pay", sums.Fund.String()}, {"self_pay", sums.Self.String()},
		{"revoke_amount", sums.RevokeAmount.String()}, {"deduct_amount", sums.DeductAmount.String()},
		{"deduct_revoke_amount", sums.DeductRevokeAmount.String()}, {"month_fund_pay", sums.MonthFund.String()},
	} {
		if got := canonical(in, c.k); got != c.want {
			return bizErr("E8006", "月结 %s 为 %s，账本合计为 %s", c.k, firstOr(got, "空"), c.want)
		}
	}
	return nil
}

// settleMonth puts the accepted monthly settlement mo of the records want
// in the ledger and queues what it changes; s.mu is held.
func (s *Server) settleMonth(mo *monthly, want []monthItem, now time.Time) {
	mo.rec = monthlyRecord(mo, str(s.insts[mo.akb020], "akb021"), str(s.insts[mo.akb020], "aab299"))
	for _, it := range want {
		if it.typ == "1" {
			it.st.monthly = mo.no
			s.queues["GYD103"].touch(it.st.no)
		}
	}
	s.l.monthlies[mo.no] = mo
	s.queues["GYD003"].touch(mo.no)
	if !s.cfg.ManualClearing {
		s.confirmClearing(mo.month, now)
	}
}

// gyu003Part is one part of a monthly settlement uploaded in parts
// (part_no of part_count, medgate's reconstruction of the requirement's
// incremental upload of at most 500 items a call). The first accepted
// part fixes the month's records and sums, and every part's header must
// equal them; the items of all parts together are exactly the month's
// records, none in two parts; a part accepted already and sent again
// with the same items is answered as before, nothing changed (another
// item list for it is refused). The month is settled in monthlies once
// every part is accepted; while a part is missing no record can be added
// to the month (E8009, monthInParts).
func (s *Server) gyu003Part(serial string, in map[string]any, akb020, m, pnText, pcText string, now time.Time) (map[string]any, *bizError) {
	pn, err1 := strconv.Atoi(pnText)
	pc, err2 := strconv.Atoi(pcText)
	if err1 != nil || err2 != nil || pc < 1 || pn < 1 || pn > pc {
		return nil, bizErr("E1001", "分部序号 part_no %s 须在 1 与分部总数 part_count %s 之间", pnText, pcText)
	}
	key := akb020 + "/" + m
	p := s.l.parted[key]
	if p == nil {
		for _, x := range s.l.monthlies {
			if x.akb020 == akb020 && x.month == m {
				return nil, bizErr("E8005", "协议机构 %s 的 %s 月结已上传（%s），每月仅一次", akb020, m, x.no)
			}
		}
		list := s.monthItems(akb020, m)
		if len(list) == 0 {
			return nil, bizErr("E8007", "协议机构 %s 在 %s 没有结算、撤销或扣款记录，不能月结", akb020, m)
		}
		p = &partedMonth{count: pc, sums: sumItems(list), want: map[string]monthItem{}, parts: map[int][]string{}, owner: map[string]int{}, list: list}
		for _, it := range list {
			p.want[it.typ+"/"+it.ref] = it
		}
	} else if p.count != pc {
		return nil, bizErr("E8006", "协议机构 %s 的 %s 月结分 %d 部分上传（%s），不是 %d 部分", akb020, m, p.count, p.no, pc)
	}
	if be := checkMonthHeader(in, akb020, m, p.sums); be != nil {
		be.msg = fmt.Sprintf("第 %d/%d 部分：%s（各部分表头须为全月合计）", pn, pc, be.msg)
		return nil, be
	}
	got := items(in, "items")
	keys := make([]string, len(got))
	for i, r := range got {
		keys[i] = str(r, "item_type") + "/" + str(r, "ref_no")
	}
	if prev, ok := p.parts[pn]; ok {
		if !slices.Equal(sortedCopy(prev), sortedCopy(keys)) {
			return nil, bizErr("E8006", "第 %d/%d 部分已上传（%s），明细与本次不同", pn, pc, p.no)
		}
		return map[string]any{"month_settle_no": p.no}, nil
	}
	var list []monthItem
	for i, k := range keys {
		if n, ok := p.owner[k]; ok {
			return nil, bizErr("E8006", "第 %d/%d 部分明细第 %d 条（%s）已在第 %d 部分上传", pn, pc, i+1, k, n)
		}
		if w, ok := p.want[k]; ok {
			list = append(list, w)
		}
	}
	if be := checkListedItems(p.want, got); be != nil {
		be.msg = fmt.Sprintf("第 %d/%d 部分：%s", pn, pc, be.msg)
		return nil, be
	}
	if len(p.parts) == pc-1 && len(p.owner)+len(keys) != len(p.want) {
		var missing []string
		listed := map[string]bool{}
		for _, k := range keys {
			listed[k] = true
		}
		for _, it := range p.list {
			k := it.typ + "/" + it.ref
			if _, ok := p.owner[k]; !ok && !listed[k] {
				missing = append(missing, k)
			}
		}
		return nil, bizErr("E8006", "第 %d/%d 部分是最后一部分，全月仍缺少 %d 条记录：%s", pn, pc, len(missing), strings.Join(missing, "，"))
	}
	if p.no == "" {
		p.no = s.nextNo("YJ", now)
		s.l.parted[key] = p
	}
	p.parts[pn] = keys
	for _, k := range keys {
		p.owner[k] = pn
	}
	for _, it := range list {
		if it.typ == "1" {
			it.st.monthly = p.no
			s.queues["GYD103"].touch(it.st.no)
		}
	}
	s.record("GYU003", serial, fmt.Sprintf("%s/%d", key, pn), now)
	if len(p.parts) == pc {
		p.done = true
		s.settleMonth(&monthly{no: p.no, akb020: akb020, month: m, sums: p.sums, items: p.list, at: now}, p.list, now)
	}
	return map[string]any{"month_settle_no": p.no}, nil
}

// monthInParts refuses a record of institution akb020 dated at when its
// month is being settled in parts and a part is still missing: the
// month's records were fixed by the first part; s.mu is held.
func (s *Server) monthInParts(akb020 string, at time.Time) *bizError {
	if p := s.l.parted[akb020+"/"+month(at)]; p != nil && !p.done {
		return bizErr("E8009", "协议机构 %s 的 %s 正在分部月结（%s，已收 %d/%d 部分），不能再加入该月的记录", akb020, month(at), p.no, len(p.parts), p.count)
	}
	return nil
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// monthlyRecord is the GYD003 record of a monthly settlement, from the
// ledger's items and sums.
func monthlyRecord(mo *monthly, akb021, aab299 string) map[string]any {
	list := make([]any, len(mo.items))
	for i, it := range mo.items {
		r := map[string]any{"item_type": it.typ, "ref_no": it.ref, "settle_no": it.settleNo, "aac002": it.aac002,
			"amount": it.amount.Number(), "biz_time": stamp(it.at)}
		if it.typ == "1" || it.typ == "2" {
			r["total_amount"], r["self_pay"] = it.total.Number(), it.self.Number()
		}
		list[i] = r
	}
	m := mo.sums
	rec := map[string]any{"month_settle_no": mo.no, "akb020": mo.akb020, "settle_month": mo.month, "settle_count": m.SettleCount,
		"revoke_count": m.RevokeCount, "person_count": m.PersonCount, "total_amount": m.Total.Number(), "fund_pay": m.Fund.Number(),
		"self_pay": m.Self.Number(), "revoke_amount": m.RevokeAmount.Number(), "deduct_amount": m.DeductAmount.Number(),
		"deduct_revoke_amount": m.DeductRevokeAmount.Number(), "month_fund_pay": m.MonthFund.Number(), "aab299": aab299,
		"items": list, "upload_time": stamp(mo.at)}
	if akb021 != "" {
		rec["akb021"] = akb021
	}
	return rec
}

// canonical returns a number field's canonical text (amounts with two
// places, counts as integers), or the raw text when it does not parse.
func canonical(in map[string]any, k string) string {
	t, ok := num(in, k)
	if !ok {
		return ""
	}
	if r, err := parseRat(t); err == nil {
		if r.IsInt() && (k == "settle_count" || k == "revoke_count" || k == "person_count") {
			return r.Num().String()
		}
		if m, err := ParseMoney(t); err == nil {
			return m.String()
		}
	}
	return t
}

// checkMonthItems checks that items list exactly the records want, each
// with the ledger's settlement number and amounts.
func checkMonthItems(want []monthItem, got []map[string]any) *bizError {
	byKey := map[string]monthItem{}
	for _, w := range want {
		byKey[w.typ+"/"+w.ref] = w
	}
	if be := checkListedItems(byKey, got); be != nil {
		return be
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[str(r, "item_type")+"/"+str(r, "ref_no")] = true
	}
	for _, w := range want {
		if !seen[w.typ+"/"+w.ref] {
			return bizErr("E8006", "月结缺少本月记录：类型 %s，%s（结算 %s）", w.typ, w.ref, w.settleNo)
		}
	}
	return nil
}

// checkListedItems checks that every item of got is one of the month's
// records (byKey, by type + "/" + ref), once, with the ledger's
// settlement number and amounts.
func checkListedItems(byKey map[string]monthItem, got []map[string]any) *bizError {
	seen := map[string]bool{}
	for i, r := range got {
		key := str(r, "item_type") + "/" + str(r, "ref_no")
		w, ok := byKey[key]
		where := fmt.Sprintf("月结明细第 %d 条（类型 %s，%s）", i+1, str(r, "item_type"), str(r, "ref_no"))
		switch {
		case !ok:
			return bizErr("E8006", "%s：不是本机构本月的记录", where)
		case seen[key]:
			return bizErr("E8006", "%s：重复", where)
		case str(r, "settle_no") != w.settleNo:
			return bizErr("E8006", "%s：结算编号 %s，账本为 %s", where, str(r, "settle_no"), w.settleNo)
		}
		seen[key] = true
		checks := []struct {
			k string
			v Money
		}{{"amount", w.amount}}
		if w.typ == "1" || w.typ == "2" {
			checks = append(checks, struct {
				k string
				v Money
			}{"total_amount", w.total}, struct {
				k string
				v Money
			}{"self_pay", w.self})
		}
		for _, c := range checks {
			if _, present := num(r, c.k); !present && c.k != "amount" {
				continue
			}
			if got := canonical(r, c.k); got != c.v.String() {
				return bizErr("E8006", "%s：%s 为 %s，账本为 %s", where, c.k, firstOr(got, "空"), c.v)
			}
		}
	}
	return nil
}

// ConfirmClearing confirms the payables and receivables of month (yyyyMM)
// as the national side would: it (re)builds the clearing records of that
// month from the monthly settlements, one per 参保地, and queues them for
// GYD005. With Config.ManualClearing unset this happens on every accepted
// GYU003. It returns the clearing numbers.
func (s *Server) ConfirmClearing(m string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nos := s.confirmClearing(m, s.cfg.Now())
	if len(nos) == 0 {
		return nil, errors.New("no monthly settlement (GYU003) for month " + m + ": upload one first")
	}
	return nos, nil
}

func (s *Server) confirmClearing(m string, now time.Time) []string {
	type acc struct {
		insts            map[string]bool
		personCount      int
		total, fund, ded Money
		months           map[string]*monthly
	}
	groups := map[string]*acc{}
	for _, mo := range s.l.monthlies {
		if mo.month != m {
			continue
		}
		for _, it := range mo.items {
			g := groups[it.st.aab301]
			if g == nil {
				g = &acc{insts: map[string]bool{}, months: map[string]*monthly{}}
				groups[it.st.aab301] = g
			}
			g.insts[mo.akb020] = true
			g.months[mo.no] = mo
			switch it.typ {
			case "1":
				g.personCount++
				g.total += it.total
				g.fund += it.amount
			case "2":
				g.personCount--
				g.total -= it.total
				g.fund -= it.amount
			case "3":
				g.ded += it.amount
			case "4":
				g.ded -= it.amount
			}
		}
	}
	var nos []string
	for _, region := range sortedKeys(groups) {
		g := groups[region]
		key := m + "/" + region
		c := s.l.clearings[key]
		if c == nil {
			c = &clearingRec{no: s.nextNo("QF", now)}
			s.l.clearings[key] = c
		}
		var months []any
		for _, no := range sortedKeys(g.months) {
			mo := g.months[no]
			months = append(months, map[string]any{"month_settle_no": mo.no, "akb020": mo.akb020, "month_fund_pay": mo.sums.MonthFund.Number()})
		}
		c.rec = map[string]any{"clear_no": c.no, "clear_month": m, "aab301": region, "aab299": s.cfg.Region, "institution_count": len(g.insts),
			"person_count": g.personCount, "total_amount": g.total.Number(), "fund_pay": g.fund.Number(), "deduct_amount": g.ded.Number(),
			"clear_amount": (g.fund - g.ded).Number(), "months": months, "confirm_time": stamp(now)}
		s.queues["GYD005"].touch(key)
		nos = append(nos, c.no)
	}
	return nos
}
