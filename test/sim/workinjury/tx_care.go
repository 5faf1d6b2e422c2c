package workinjury

import (
	"fmt"
	"maps"
	"math/big"
	"strconv"
	"time"

	"github.com/medgate/medgate/test/sim/simspec"
)

// The care chain: admission (GYU101), fee details (GYU102), discharge
// settlement (GYU103), assistive-device settlement (GYU303) and their
// revocations (GYR001, GYR002, GYR003).

// instDevice is the assistive-device institution type (code table
// institutionType: 1 medical, 2 rehabilitation, 3 assistive devices).
const instDevice = "3"

// attRehabPlan is the attachment type of a rehabilitation plan and
// bizCare the attachment business type of a stay (code tables
// attachmentType and bizType): a GYU103 rehab_plan_id names an attachment
// of that type uploaded for the stay (biz_no its ykc700).
// A GYU006 names files uploaded for a filing (bizFiling), the 工伤认定决定书
// (attInjuryCert) among them.
const (
	attInjuryCert = "01"
	attRehabPlan  = "07"
	bizFiling     = "1"
	bizCare       = "2"
)

// maxLines is the most fee lines (or deductions) one call may carry; the
// simulator enforces it itself, whatever the schema in use says.
const maxLines = 500

// parseTime parses a datetime or date text in China time.
func parseTime(v string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02", "20060102150405", "20060102"} {
		if t, err := time.ParseInLocation(layout, v, cst); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// eventTime is the business time of an input: the first of keys that
// parses, else the simulator's clock.
func eventTime(in map[string]any, now time.Time, keys ...string) time.Time {
	for _, k := range keys {
		if t, ok := parseTime(str(in, k)); ok {
			return t
		}
	}
	return now
}

// approvedFiling finds the filing an upload names (filing_no), or else the
// person's valid filing on day, and checks it is approved, the person's,
// and valid on day.
func (s *Server) approvedFiling(in map[string]any, day string) (*filing, *bizError) {
	no, aac002 := str(in, "filing_no"), str(in, "aac002")
	var f *filing
	if no != "" {
		f = s.filings[no]
		if f == nil {
			return nil, bizErr("E6001", "备案 %s 不存在：请先完成备案（GYU001/GYU006）或核对备案编号", no)
		}
	} else {
		for _, k := range sortedKeys(s.filings) {
			if c := s.filings[k]; c.get("aac002") == aac002 && c.valid(day) {
				f = c
				break
			}
		}
		if f == nil {
			return nil, bizErr("E6001", "人员 %s 没有审核通过的有效备案", aac002)
		}
	}
	if st := f.get("filing_status"); st != "1" && st != "3" {
		return nil, bizErr("E6001", "备案 %s 状态为 %s，不是审核通过的有效备案", f.get("filing_no"), st)
	}
	if aac002 != "" && f.get("aac002") != aac002 {
		return nil, bizErr("E6005", "备案 %s 属于人员 %s，不是 %s", f.get("filing_no"), f.get("aac002"), aac002)
	}
	if from, to := f.get("aae030"), f.get("aae031"); (from != "" && day < from) || (to != "" && day > to) {
		return nil, bizErr("E6002", "日期 %s 不在备案 %s 的有效期 %s 至 %s 内", day, f.get("filing_no"), from, firstOr(to, "长期"))
	}
	return f, nil
}

// agreement checks that institution akb020 exists and its agreement is
// valid on day, and returns its record.
func (s *Server) agreement(akb020, day string) (map[string]any, *bizError) {
	r := s.insts[akb020]
	if r == nil {
		return nil, bizErr("E6003", "协议机构 %s 不存在：请先用 GYU009 上传或核对机构编号", akb020)
	}
	if vf := str(r, "valid_flag"); vf != "" && vf != "1" {
		return nil, bizErr("E6003", "协议机构 %s 的协议无效（valid_flag=%s）", akb020, vf)
	}
	if from, to := str(r, "aae030"), str(r, "aae031"); (from != "" && day < from) || (to != "" && day > to) {
		return nil, bizErr("E6003", "协议机构 %s 的协议有效期 %s 至 %s 不含 %s", akb020, from, firstOr(to, "长期"), day)
	}
	return r, nil
}

// filingCovers checks that a filing allows treatment at institution inst.
func filingCovers(f *filing, akb020 string, inst map[string]any) *bizError {
	if fa := f.get("akb020"); fa != "" && fa != akb020 {
		return bizErr("E6005", "备案 %s 的协议机构是 %s，不是 %s", f.get("filing_no"), fa, akb020)
	}
	if fr, ir := f.get("aab299"), str(inst, "aab299"); fr != "" && ir != "" && fr != ir {
		return bizErr("E6005", "备案 %s 的就医地 %s 与协议机构 %s 所在地 %s 不符", f.get("filing_no"), fr, akb020, ir)
	}
	return nil
}

func (s *Server) gyu101(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	at, ok := parseTime(str(in, "ykc701"))
	if !ok {
		return nil, bizErr("E1001", "入院日期 ykc701 %q 不是日期时间", str(in, "ykc701"))
	}
	d := day(at)
	f, be := s.approvedFiling(in, d)
	if be != nil {
		return nil, be
	}
	akb020, akc190 := str(in, "akb020"), str(in, "akc190")
	inst, be := s.agreement(akb020, d)
	if be != nil {
		return nil, be
	}
	if t := str(inst, "institution_type"); t == instDevice {
		return nil, bizErr("E6003", "协议机构 %s 是辅助器具配置机构，不办理入院登记；辅具结算用 GYU303", akb020)
	}
	if be := filingCovers(f, akb020, inst); be != nil {
		return nil, be
	}
	for _, v := range s.l.visits {
		if v.akb020 == akb020 && v.akc190 == akc190 && v.state != VisitRevoked {
			return nil, bizErr("E6004", "协议机构 %s 的住院号 %s 已被就诊登记 %s 使用", akb020, akc190, v.no)
		}
	}
	v := &visit{no: s.nextNo("JZ", now), akb020: akb020, akc190: akc190, aac002: f.get("aac002"), aab301: firstOr(f.get("aab301"), str(in, "aab301")),
		filingNo: f.get("filing_no"), at: at, state: VisitAdmitted}
	v.rec = maps.Clone(in)
	v.rec["ykc700"], v.rec["filing_no"], v.rec["aab301"] = v.no, v.filingNo, v.aab301
	v.rec["akb021"] = firstOr(str(inst, "akb021"), str(in, "akb021"))
	v.rec["institution_type"] = str(inst, "institution_type")
	v.rec["update_time"] = stamp(now)
	s.l.visits[v.no] = v
	s.queues["GYD101"].touch(v.no)
	s.record("GYU101", serial, akb020+"/"+akc190, now)
	return map[string]any{"ykc700": v.no}, nil
}

// openVisit finds the visit of an upload (ykc700, checked against akc190
// when given) and checks it may still change.
func (s *Server) openVisit(in map[string]any) (*visit, *bizError) {
	no := str(in, "ykc700")
	v := s.l.visits[no]
	switch {
	case v == nil:
		return nil, bizErr("E6101", "就诊登记 %s 不存在：先用 GYU101 上传入院信息", no)
	case str(in, "akc190") != "" && str(in, "akc190") != v.akc190:
		return nil, bizErr("E6101", "就诊登记 %s 的住院号是 %s，不是 %s", no, v.akc190, str(in, "akc190"))
	case str(in, "akb020") != "" && str(in, "akb020") != v.akb020:
		return nil, bizErr("E6101", "就诊登记 %s 属于协议机构 %s，不是 %s", no, v.akb020, str(in, "akb020"))
	case v.state == VisitRevoked:
		return nil, bizErr("E6102", "就诊登记 %s 已撤销", no)
	case v.state == VisitSettled:
		return nil, bizErr("E6103", "就诊登记 %s（%s）已结算（%s）：先用 GYR003 撤销结算", no, s.personOf(v.filingNo, v.aac002), v.settle.no)
	}
	return v, nil
}

// personOf describes the person of a filing as the national system's
// refusals quote them, from its own records: name, social-security number
// and phone of the filing (only the number when the filing is unknown).
func (s *Server) personOf(filingNo, aac002 string) string {
	f := s.filings[filingNo]
	if f == nil {
		return "社会保障号码 " + aac002
	}
	return fmt.Sprintf("职工姓名：%s，社会保障号码 %s，联系电话 %s", f.get("aac003"), firstOr(f.get("aac002"), aac002), f.get("aae005"))
}

// line is a checked fee or device line.
type line struct {
	serial             string
	amount, fund, self Money
}

// checkLine checks one fee line: qty > 0, price ≥ 0, amount ≥ 0 (wrong
// lines are revoked with GYR001, not offset by negative ones); amount is
// price × qty rounded to the fen, either way at exactly half a fen, give
// or take tol fen; and, when split is set, fund + self = amount, neither
// negative.
func checkLine(where string, r map[string]any, split bool, tol Money) (line, *bizError) {
	l := line{serial: str(r, "detail_no")}
	price, err := ratField(r, "price")
	if err != nil {
		return l, bizErr("E6108", "%s：单价 %v", where, err)
	}
	qty, err := ratField(r, "qty")
	if err != nil {
		return l, bizErr("E6108", "%s：数量 %v", where, err)
	}
	if price.Sign() < 0 {
		return l, bizErr("E6108", "%s：单价 %s 为负数", where, trimRat(price))
	}
	if qty.Sign() <= 0 {
		return l, bizErr("E6108", "%s：数量 %s 须大于 0（错误明细用 GYR001 撤销）", where, trimRat(qty))
	}
	if l.amount, err = moneyField(r, "amount"); err != nil {
		return l, bizErr("E6108", "%s：%v", where, err)
	}
	if l.amount < 0 {
		return l, bizErr("E6108", "%s：金额 %s 为负数", where, l.amount)
	}
	product := new(big.Rat).Mul(price, qty)
	off := new(big.Rat).Sub(product, big.NewRat(int64(l.amount), 100))
	limit := big.NewRat(int64(2*tol+1), 200) // half a fen + tol
	if off.Abs(off).Cmp(limit) > 0 {
		return l, bizErr("E6104", "%s：单价 %s × 数量 %s = %s，金额却是 %s", where, trimRat(price), trimRat(qty), trimRat(product), l.amount)
	}
	if !split {
		return l, nil
	}
	if l.fund, err = moneyField(r, "fund_pay"); err != nil {
		return l, bizErr("E6108", "%s：%v", where, err)
	}
	if l.self, err = moneyField(r, "self_pay"); err != nil {
		return l, bizErr("E6108", "%s：%v", where, err)
	}
	if l.fund < 0 || l.self < 0 {
		return l, bizErr("E6108", "%s：统筹支付 %s、自付 %s 不得为负数", where, l.fund, l.self)
	}
	if l.fund+l.self != l.amount {
		return l, bizErr("E6105", "%s：统筹支付 %s + 自付 %s = %s，与金额 %s 不符", where, l.fund, l.self, l.fund+l.self, l.amount)
	}
	return l, nil
}

// trimRat prints an exact decimal without trailing zeros.
func trimRat(r *big.Rat) string {
	t := r.FloatString(10)
	for len(t) > 1 && t[len(t)-1] == '0' {
		t = t[:len(t)-1]
	}
	if t[len(t)-1] == '.' {
		t = t[:len(t)-1]
	}
	return t
}

// items returns the array field k of an input.
func items(in map[string]any, k string) []map[string]any {
	arr, _ := in[k].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, x := range arr {
		m, _ := x.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		out = append(out, m)
	}
	return out
}

func (s *Server) gyu102(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	v, be := s.openVisit(in)
	if be != nil {
		return nil, be
	}
	fee := items(in, "fee")
	if len(fee) == 0 || len(fee) > maxLines {
		return nil, bizErr("E6107", "一次上传 %d 条费用明细，须为 1 至 %d 条", len(fee), maxLines)
	}
	// A serial names one valid line of the visit (a revoked line's serial
	// is free again): it may be neither in v.serials nor twice in this call.
	here := make(map[string]struct{}, len(fee))
	lines := make([]line, len(fee))
	for i, r := range fee {
		where := func() string { return fmt.Sprintf("第 %d 条明细（%s）", i+1, str(r, "detail_no")) }
		l, ok := fastLine(r, true, s.cfg.AmountTolerance)
		if !ok {
			var be *bizError
			if l, be = checkLine(where(), r, true, s.cfg.AmountTolerance); be != nil {
				return nil, be
			}
		}
		_, old := v.serials[l.serial]
		if _, dup := here[l.serial]; old || dup {
			return nil, bizErr("E6106", "%s：明细流水号在就诊登记 %s 中重复", where(), v.no)
		}
		here[l.serial] = struct{}{}
		lines[i] = l
	}
	if v.serials == nil {
		v.serials = make(map[string]struct{}, len(lines))
	}
	results := make([]any, len(lines))
	for i, l := range lines {
		// The line is kept as received; the visit's fields are added when it is downloaded.
		d := &detail{id: detailID(v.no, len(v.details)+1), visit: v, serial: l.serial, rec: fee[i], amount: l.amount, fund: l.fund, self: l.self}
		v.details = append(v.details, d)
		v.serials[d.serial] = struct{}{}
		s.l.details[d.id] = d
		s.queues["GYD102"].touch(d.id)
		results[i] = map[string]any{"detail_no": l.serial, "result_flag": "1"}
	}
	s.record("GYU102", serial, v.no, now)
	return map[string]any{"accepted_count": len(lines), "results": results}, nil
}

// detailID is the id of a visit's n-th fee detail: the visit number, a
// dash and n in at least four digits.
func detailID(visit string, n int) string {
	b := make([]byte, 0, len(visit)+8)
	b = append(b, visit...)
	b = append(b, '-')
	for d := 1000; d > 1 && n < d; d /= 10 {
		b = append(b, '0')
	}
	return string(strconv.AppendInt(b, int64(n), 10))
}

func (s *Server) gyu103(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	v, be := s.openVisit(in)
	if be != nil {
		return nil, be
	}
	live := v.live()
	if len(live) == 0 {
		return nil, bizErr("E6203", "就诊登记 %s 没有费用明细：先用 GYU102 上传", v.no)
	}
	if id := str(in, "rehab_plan_id"); id != "" {
		if t := str(v.rec, "aka130"); t != "2" {
			return nil, bizErr("E6204", "就诊登记 %s 的医疗类别是 %s，只有住院康复（2）可附康复方案", v.no, t)
		}
		a := s.attachments[id]
		if a == nil {
			return nil, bizErr("E6204", "康复方案附件 %s 不存在：先用 GYU002 上传", id)
		}
		if a.revokedBy != "" {
			return nil, bizErr("E6204", "康复方案附件 %s 已随结算撤销（%s）撤销：重新用 GYU002 上传", id, a.revokedBy)
		}
		if a.Type != attRehabPlan {
			return nil, bizErr("E6204", "附件 %s 的附件类型是 %s，不是康复方案（%s）：用 GYU002 以附件类型 %s 上传康复方案", id, a.Type, attRehabPlan, attRehabPlan)
		}
		if a.bizType != bizCare || a.bizNo != v.no {
			return nil, bizErr("E6204", "康复方案附件 %s 是为业务 %s/%s 上传的，不是本次住院 %s/%s：用 GYU002（biz_type %s，biz_no 就诊登记号）为本次住院上传",
				id, a.bizType, a.bizNo, bizCare, v.no, bizCare)
		}
	}
	if dis, ok := parseTime(str(in, "akc194")); ok && dis.Before(v.at) {
		return nil, bizErr("E6205", "出院时间 %s 早于入院时间 %s", stamp(dis), stamp(v.at))
	}
	if st, ok := parseTime(str(in, "settle_time")); ok && st.Before(v.at) {
		return nil, bizErr("E6206", "结算时间 %s 早于入院时间 %s", stamp(st), stamp(v.at))
	}
	var sum line
	for _, d := range live {
		var okA, okF, okS bool
		sum.amount, okA = sum.amount.plus(d.amount)
		sum.fund, okF = sum.fund.plus(d.fund)
		sum.self, okS = sum.self.plus(d.self)
		if !okA || !okF || !okS {
			// No amount field holds such a sum (decimal(16,2) stays far
			// below 2^63 fen): no settlement can equal it.
			return nil, bizErr("E6202", "就诊登记 %s 的 %d 条明细合计超出金额可表示的范围，结算金额无法与之相符：用 GYR001 撤销有误的明细", v.no, len(live))
		}
	}
	got := map[string]Money{}
	for _, k := range []string{"akc264", "fund_pay", "self_pay"} {
		m, err := moneyField(in, k)
		if err != nil {
			return nil, bizErr("E6202", "%v", err)
		}
		got[k] = m
	}
	for _, c := range []struct {
		k, label string
		want     Money
	}{{"akc264", "医疗费总额", sum.amount}, {"fund_pay", "统筹支付", sum.fund}, {"self_pay", "自付", sum.self}} {
		if got[c.k] != c.want {
			return nil, bizErr("E6202", "%s %s %s 与 %d 条明细合计 %s 不符", c.label, c.k, got[c.k], len(live), c.want)
		}
	}
	if own, err := moneyField(in, "full_own_pay"); err != nil || own < 0 || own > sum.self {
		return nil, bizErr("E6202", "全自费 full_own_pay %s 须在 0 与自付 %s 之间", firstOr(str(in, "full_own_pay"), "?"), sum.self)
	}
	st := &settlement{no: s.nextNo("JS", now), visit: v, akb020: v.akb020, aac002: v.aac002, aab301: v.aab301, total: sum.amount, fund: sum.fund,
		self: sum.self, at: eventTime(in, now, "settle_time", "akc194", "aae036")}
	if be := s.monthInParts(st.akb020, st.at); be != nil {
		return nil, be
	}
	st.rec = maps.Clone(in)
	for _, k := range []string{"akb020", "akb021", "institution_type", "aac002", "aac003", "aac043", "aac044", "filing_no", "aab301", "aab299", "aka130"} {
		if x, ok := v.rec[k]; ok {
			st.rec[k] = x
		}
	}
	st.rec["settle_no"], st.rec["settle_time"] = st.no, stamp(st.at)
	v.settle, v.state = st, VisitSettled
	s.l.settles[st.no] = st
	s.queues["GYD103"].touch(st.no)
	s.record("GYU103", serial, v.no, now)
	return map[string]any{"settle_no": st.no, "fund_pay": st.fund.Number(), "self_pay": st.self.Number(), "settle_time": stamp(st.at)}, nil
}

func (s *Server) gyu303(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	at := eventTime(in, now, "config_date", "settle_time")
	d := day(at)
	f, be := s.approvedFiling(in, d)
	if be != nil {
		return nil, be
	}
	if t := f.get("filing_type"); t != "3" {
		return nil, bizErr("E6301", "备案 %s 的备案类型是 %s，不是辅助器具配置备案（3）", f.get("filing_no"), t)
	}
	akb020 := str(in, "akb020")
	inst, be := s.agreement(akb020, d)
	if be != nil {
		return nil, be
	}
	if t := str(inst, "institution_type"); t != instDevice {
		return nil, bizErr("E6301", "协议机构 %s 的类型是 %s，不是辅助器具配置机构（3）", akb020, t)
	}
	if be := filingCovers(f, akb020, inst); be != nil {
		return nil, be
	}
	rows := items(in, "items")
	if len(rows) == 0 || len(rows) > maxLines {
		return nil, bizErr("E6107", "辅助器具明细 %d 条，须为 1 至 %d 条", len(rows), maxLines)
	}
	// A device line serial names one line of the person at the
	// institution for good, unless its settlement was revoked: a resent
	// settlement is refused, not booked twice.
	used := map[string]bool{}
	for _, st := range s.l.settles {
		if st.device && !st.revoked && st.akb020 == akb020 && st.aac002 == f.get("aac002") {
			for _, r := range items(st.rec, "items") {
				used[str(r, "detail_no")] = true
			}
		}
	}
	var total Money
	for i, r := range rows {
		where := fmt.Sprintf("第 %d 条辅具明细（%s）", i+1, str(r, "detail_no"))
		l, be := checkLine(where, r, false, s.cfg.AmountTolerance)
		if be != nil {
			return nil, be
		}
		if used[l.serial] {
			return nil, bizErr("E6106", "%s：明细流水号在本次或该人员在本机构未撤销的辅具结算中已使用", where)
		}
		used[l.serial] = true
		total += l.amount
	}
	var got [3]Money
	for i, k := range []string{"aac142", "fund_pay", "self_pay"} {
		m, err := moneyField(in, k)
		if err != nil {
			return nil, bizErr("E6302", "%v", err)
		}
		if m < 0 {
			return nil, bizErr("E6302", "%s %s 为负数", k, m)
		}
		got[i] = m
	}
	if got[0] != total {
		return nil, bizErr("E6302", "辅助器具安装配置费 aac142 %s 与 %d 条明细合计 %s 不符", got[0], len(rows), total)
	}
	if got[1]+got[2] != got[0] {
		return nil, bizErr("E6302", "基金支付 %s + 个人支付 %s = %s，与配置费 %s 不符", got[1], got[2], got[1]+got[2], got[0])
	}
	st := &settlement{no: s.nextNo("JS", now), device: true, akb020: akb020, aac002: f.get("aac002"), aab301: f.get("aab301"), total: total,
		fund: got[1], self: got[2], at: eventTime(in, now, "settle_time", "aae036")}
	if be := s.monthInParts(st.akb020, st.at); be != nil {
		return nil, be
	}
	st.rec = maps.Clone(in)
	st.rec["settle_no"], st.rec["akc264"], st.rec["settle_time"] = st.no, total.Number(), stamp(st.at)
	st.rec["akb021"] = firstOr(str(inst, "akb021"), str(in, "akb021"))
	st.rec["institution_type"], st.rec["aka130"], st.rec["aab301"] = instDevice, "3", st.aab301
	st.rec["aab299"] = firstOr(str(inst, "aab299"), f.get("aab299"))
	s.l.settles[st.no] = st
	s.queues["GYD103"].touch(st.no)
	s.record("GYU303", serial, st.no, now)
	return map[string]any{"settle_no": st.no, "fund_pay": st.fund.Number(), "self_pay": st.self.Number()}, nil
}
