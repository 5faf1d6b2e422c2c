package workinjury

import (
	"encoding/base64"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/test/sim/simspec"
)

// handler runs one transaction with s.mu held.
type handler func(s *Server, sc *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError)

// handlers are the 39 transactions; each answers from the simulator's own
// records, never with a schema's example output.
var handlers = map[string]handler{
	"GYU000": (*Server).gyu000,
	"GYD001": (*Server).gyd001,
	"GYD006": (*Server).gyd006,
	"GYD009": (*Server).gyd009,
	"GYD054": (*Server).gyd054,
	"GYU008": (*Server).gyu008,
	"GYD008": (*Server).gyd008,
	"GYR005": (*Server).gyr005,
	"GYD053": (*Server).gyd053,
	"GYU001": (*Server).gyu001,
	"GYU002": (*Server).gyu002,
	"GYU006": (*Server).gyu006,
	"GYU007": (*Server).gyu007,
	"GYD051": (*Server).gyd051,
	"GYU009": (*Server).gyu009,
	"GYD052": (*Server).gyd052,
	"GYD055": (*Server).gyd055,
	"GYU010": (*Server).gyu010,
	"GYU101": (*Server).gyu101,
	"GYU102": (*Server).gyu102,
	"GYU103": (*Server).gyu103,
	"GYU303": (*Server).gyu303,
	"GYR001": (*Server).gyr001,
	"GYR002": (*Server).gyr002,
	"GYR003": (*Server).gyr003,
	"GYR004": (*Server).gyr004,
	"GYU004": (*Server).gyu004,
	"GYU003": (*Server).gyu003,
	"GYD101": (*Server).gyd101,
	"GYD102": (*Server).gyd102,
	"GYD103": (*Server).gyd103,
	"GYD104": (*Server).gyd104,
	"GYD003": (*Server).gyd003,
	"GYD004": (*Server).gyd004,
	"GYD005": (*Server).gyd005,
	"GYD401": (*Server).gydRevocation,
	"GYD402": (*Server).gydRevocation,
	"GYD403": (*Server).gydRevocation,
	"GYD404": (*Server).gydRevocation,
}

func day(now time.Time) string { return now.In(cst).Format("2006-01-02") }

// dateOf is the YYYY-MM-DD of a datetime text.
func dateOf(t string) string {
	if len(t) > 10 {
		return t[:10]
	}
	return t
}

func stamp(now time.Time) string { return now.In(cst).Format("2006-01-02 15:04:05") }

func (s *Server) nextNo(prefix string, now time.Time) string {
	s.seq++
	return fmt.Sprintf("%s%s%s%04d", prefix, s.cfg.Region, now.In(cst).Format("20060102150405"), s.seq%10000)
}

func (s *Server) gyu000(_ *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	out := map[string]any{"aae036": stamp(now)}
	if e := str(in, "echo_text"); e != "" {
		out["echo_text"] = e
	}
	return out, nil
}

func (s *Server) gyd001(_ *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	region := str(in, "aab299")
	b, more, be := s.download(s.queues["GYD001"], now, func(id string) map[string]any {
		a := s.apps[id]
		if a == nil || a.audited || (region != "" && str(a.rec, "aab299") != region) {
			return nil
		}
		return maps.Clone(a.rec)
	}, false, nil)
	if be != nil {
		return nil, be
	}
	for _, id := range b.ids {
		s.apps[id].delivered = true
	}
	return batchOutput(b, more), nil
}

func (s *Server) gyd006(_ *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	region := str(in, "aab299")
	b, more, be := s.download(s.queues["GYD006"], now, func(id string) map[string]any {
		f := s.filings[id]
		if f == nil || (region != "" && f.get("aab299") != region) {
			return nil
		}
		return maps.Clone(f.rec)
	}, false, nil)
	if be != nil {
		return nil, be
	}
	return batchOutput(b, more), nil
}

func (s *Server) gyd009(_ *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	region, akb020, typ := str(in, "aab299"), str(in, "akb020"), str(in, "institution_type")
	b, more, be := s.download(s.queues["GYD009"], now, func(id string) map[string]any {
		r := s.insts[id]
		if r == nil || (region != "" && str(r, "aab299") != region) || (akb020 != "" && id != akb020) || (typ != "" && str(r, "institution_type") != typ) {
			return nil
		}
		return maps.Clone(r)
	}, false, nil)
	if be != nil {
		return nil, be
	}
	return batchOutput(b, more), nil
}

func (s *Server) gyd054(_ *simspec.Tx, _ string, in map[string]any, _ time.Time) (map[string]any, *bizError) {
	a := s.attachments[str(in, "attachment_id")]
	if a == nil {
		return nil, bizErr("E4001", "附件 %s 不存在", str(in, "attachment_id"))
	}
	if a.revokedBy != "" {
		// 附件ID有效 (requirement 34): revoked with the settlement it served.
		return nil, bizErr("E4001", "附件 %s 已随结算撤销（%s）作废", a.ID, a.revokedBy)
	}
	return map[string]any{"attachment_id": a.ID, "attachment_type": a.Type, "file_name": a.Name, "file_format": a.Format,
		"file_size": len(a.Content), "file_content": base64.StdEncoding.EncodeToString(a.Content)}, nil
}

func (s *Server) gyu008(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	q := s.queues[str(in, "download_code")]
	no := str(in, "batch_no")
	// Only the sender's own outstanding batch: another sender's batch is
	// not known to it.
	if q == nil || q.of(s.sender).outstanding == nil || q.of(s.sender).outstanding.no != no {
		return nil, bizErr("E2003", "批次 %s 不存在或已反馈", no)
	}
	v := q.of(s.sender)
	b := v.outstanding
	recs, _ := in["records"].([]any)
	if n, _ := strconv.Atoi(str(in, "record_count")); n != len(recs) {
		return nil, bizErr("E2004", "record_count %s 与反馈记录数 %d 不符", str(in, "record_count"), len(recs))
	}
	flags := map[string]string{}
	for _, x := range recs {
		r, _ := x.(map[string]any)
		flags[str(r, "record_id")] = str(r, "result_flag")
	}
	if len(b.rids) > MaxBatch {
		return s.gyu008Part(serial, v, b, recs, flags, now)
	}
	if len(flags) != len(b.rids) || len(flags) != len(recs) {
		return nil, bizErr("E2004", "反馈 %d 条记录（%d 个不同的 record_id），批次 %s 有 %d 条", len(recs), len(flags), no, len(b.rids))
	}
	for _, rid := range b.rids {
		if _, ok := flags[rid]; !ok {
			return nil, bizErr("E2004", "反馈缺少批次 %s 的记录 %s", no, rid)
		}
	}
	accepted := 0
	for i, id := range b.ids {
		if flags[b.rids[i]] == "1" {
			if b.versions[i] > v.acked[id] {
				v.acked[id] = b.versions[i]
			}
			accepted++
		}
	}
	b.acked, b.feedbacks = true, b.feedbacks+1
	v.outstanding, v.redeliver = nil, false
	s.record("GYU008", serial, no, now)
	return map[string]any{"accepted_count": accepted}, nil
}

// gyu008Part takes one part of the feedback of a batch above MaxBatch
// (Config.OverBatchLimit): no GYU008 may carry more than MaxBatch records
// (单次最多上传500条), so such a batch cannot be fed back in one call. Each
// part names records of the batch not fed back yet, each once; the batch
// is acknowledged, and its records with result 1 with it, once every
// record was fed back. Until then it stays outstanding (GYD008 lists it,
// a new download is E2001).
func (s *Server) gyu008Part(serial string, v *view, b *batch, recs []any, flags map[string]string, now time.Time) (map[string]any, *bizError) {
	if len(flags) != len(recs) {
		return nil, bizErr("E2004", "反馈 %d 条记录，其中 record_id 重复（%d 个不同）", len(recs), len(flags))
	}
	inBatch := make(map[string]bool, len(b.rids))
	for _, rid := range b.rids {
		inBatch[rid] = true
	}
	for _, rid := range sortedKeys(flags) {
		if !inBatch[rid] {
			return nil, bizErr("E2004", "记录 %s 不属于批次 %s", rid, b.no)
		}
		if _, done := b.fed[rid]; done {
			return nil, bizErr("E2004", "批次 %s 的记录 %s 已反馈", b.no, rid)
		}
	}
	if b.fed == nil {
		b.fed = map[string]string{}
	}
	accepted := 0
	for rid, flag := range flags {
		b.fed[rid] = flag
		if flag == "1" {
			accepted++
		}
	}
	b.feedbacks++
	s.record("GYU008", serial, b.no, now)
	if len(b.fed) == len(b.rids) {
		for i, id := range b.ids {
			if b.fed[b.rids[i]] == "1" && b.versions[i] > v.acked[id] {
				v.acked[id] = b.versions[i]
			}
		}
		b.acked = true
		v.outstanding, v.redeliver = nil, false
	}
	return map[string]any{"accepted_count": accepted}, nil
}

func (s *Server) gyd008(_ *simspec.Tx, _ string, in map[string]any, _ time.Time) (map[string]any, *bizError) {
	code := str(in, "download_code")
	var list []any
	for _, c := range sortedKeys(s.queues) {
		v := s.queues[c].of(s.sender)
		if v.outstanding == nil || (code != "" && c != code) {
			continue
		}
		b := v.outstanding
		list = append(list, map[string]any{"download_code": c, "batch_no": b.no, "download_time": stamp(b.at), "record_count": len(b.ids)})
	}
	out := map[string]any{"batch_count": len(list)}
	if len(list) > 0 {
		out["batches"] = list
	}
	return out, nil
}

func (s *Server) gyr005(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	q := s.queues[str(in, "download_code")]
	if q == nil {
		return map[string]any{"accept_flag": "0", "message": "交易 " + str(in, "download_code") + " 不是需要反馈的增量下载"}, nil
	}
	v := q.of(s.sender)
	if no := str(in, "batch_no"); no != "" {
		if v.outstanding == nil || v.outstanding.no != no {
			return map[string]any{"accept_flag": "0", "message": "批次 " + no + " 不存在或已确认"}, nil
		}
		v.redeliver = true
		// Handed out again in full: fed back in full again.
		v.outstanding.fed = nil
		s.record("GYR005", serial, no, now)
		return map[string]any{"accept_flag": "1", "message": "下次下载将重新下发批次 " + no}, nil
	}
	from, to := str(in, "aae030"), str(in, "aae031")
	if from == "" || to == "" {
		return map[string]any{"accept_flag": "0", "message": "须提供批次号或起止日期"}, nil
	}
	// The precondition (requirement 39): there is something to download
	// again, i.e. an acknowledged batch of the code handed out in the
	// range. A batch still unacknowledged is asked for by its batch_no.
	var again []*batch
	for _, b := range v.history {
		if d := day(b.at); b.acked && len(b.ids) > 0 && d >= from && d <= to {
			again = append(again, b)
		}
	}
	if len(again) == 0 {
		return map[string]any{"accept_flag": "0", "message": fmt.Sprintf("%s 至 %s 没有已确认的 %s 下载批次，无需重复下载", from, to, q.code)}, nil
	}
	// A record handed out in several batches of the range (downloaded,
	// asked for again, downloaded again) is handed out again once.
	ids := map[string]bool{}
	for _, b := range again {
		for _, id := range b.ids {
			v.acked[id] = 0
			ids[id] = true
		}
	}
	s.record("GYR005", serial, from+"~"+to, now)
	return map[string]any{"accept_flag": "1", "message": fmt.Sprintf("%d 条记录将重新下发", len(ids))}, nil
}

func (s *Server) gyd053(_ *simspec.Tx, _ string, in map[string]any, _ time.Time) (map[string]any, *bizError) {
	// Every answer names the transaction it is about, inside the signed
	// data (medgate's reconstruction: schemas/workinjury/GYD053.yaml).
	code, serial := str(in, "orig_code"), str(in, "orig_msg_id")
	about := func(m map[string]any) map[string]any {
		m["orig_code"], m["orig_msg_id"] = code, serial
		return m
	}
	t := s.txlog[serial]
	if t == nil || t.code != code {
		return about(map[string]any{"trans_status": "9", "orig_result_message": "无此交易"}), nil
	}
	if !t.ok {
		return about(map[string]any{"trans_status": "0", "orig_result_code": t.errCode, "orig_result_message": t.errMsg}), nil
	}
	out := about(map[string]any{"trans_status": "1", "orig_result_code": s.cfg.Options.SuccessCodes[0], "orig_result_message": "成功"})
	if len(t.output) <= 40000 {
		out["orig_output"] = string(t.output)
	}
	return out, nil
}

// instType is the institution type of akb020, else the one a filing type implies.
func (s *Server) instType(akb020, filingType string) string {
	if r := s.insts[akb020]; r != nil {
		return str(r, "institution_type")
	}
	if filingType == "3" {
		return "3"
	}
	return "1"
}

// validFilingOf returns a valid filing of the person for an institution
// type, if any.
func (s *Server) validFilingOf(aac002, instType, today string) *filing {
	for _, no := range sortedKeys(s.filings) {
		f := s.filings[no]
		if f.get("aac002") == aac002 && f.valid(today) && s.instType(f.get("akb020"), f.get("filing_type")) == instType {
			return f
		}
	}
	return nil
}

func (s *Server) gyu001(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	no := str(in, "apply_no")
	a := s.apps[no]
	switch {
	case a == nil || !a.delivered:
		return nil, bizErr("E3006", "备案申请 %s 不存在或未下载", no)
	case a.audited:
		return nil, bizErr("E3007", "备案申请 %s 已审核", no)
	case str(in, "aac002") != str(a.rec, "aac002"):
		// The result is that of the application's applicant.
		return nil, bizErr("E3010", "社会保障号码与备案申请 %s 的申请人不符", no)
	case str(in, "audit_result") == "2" && str(in, "audit_opinion") == "":
		return nil, bizErr("E3008", "审核不通过须填写审核意见")
	case str(in, "audit_result") == "2" && simspec.Blank(in["audit_opinion"]):
		// An opinion of white space alone says nothing (the non-empty check).
		return nil, bizErr("E3008", "审核不通过须填写审核意见：审核意见只有空白字符（空格、全角空格、制表、换行或零宽字符）")
	}
	status := "1"
	if str(in, "audit_result") == "2" {
		status = "2"
	}
	akb020 := firstOr(str(in, "akb020"), str(a.rec, "akb020"))
	// The filing's institution is in its place of treatment (GYU101 and
	// GYU303 refuse a filing whose institution is elsewhere, E6005).
	if ir, place := str(s.insts[akb020], "aab299"), str(a.rec, "aab299"); status == "1" && ir != "" && place != "" && ir != place {
		return nil, bizErr("E3011", "协议机构 %s 所在地 %s 不是备案申请 %s 的就医地 %s", akb020, ir, no, place)
	}
	if status == "1" {
		if f := s.validFilingOf(str(a.rec, "aac002"), s.instType(akb020, str(a.rec, "filing_type")), day(now)); f != nil {
			return nil, bizErr("E3001", "该人员已有有效备案 %s", f.get("filing_no"))
		}
	}
	fno := s.nextNo("BA", now)
	rec := map[string]any{"filing_no": fno, "filing_status": status, "update_time": stamp(now)}
	for _, k := range []string{"aac002", "aac003", "aac043", "aac044", "aac004", "aac006", "aae005", "injury_cert_no", "aab301", "aab299", "filing_type", "akb020", "akb021", "aae030", "aae031"} {
		if v := str(a.rec, k); v != "" {
			rec[k] = v
		}
	}
	for _, k := range []string{"akb020", "akb021", "aae030", "aae031"} {
		if v := str(in, k); v != "" {
			rec[k] = v
		}
	}
	if e := periodOrder(rec, "备案申请 "+no+" 审核通过的备案"); status == "1" && e != nil {
		return nil, e
	}
	a.audited = true
	s.putFiling(&filing{rec: rec})
	s.record("GYU001", serial, no, now)
	return map[string]any{"filing_no": fno}, nil
}

func (s *Server) gyu002(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	atts, _ := in["attachments"].([]any)
	var out []any
	var stored []*attachment
	for i, x := range atts {
		r, _ := x.(map[string]any)
		// The national decoder is strict: base64 wrapped in lines (MIME)
		// is refused, though Go's decoder would skip the line breaks.
		content, err := base64.StdEncoding.DecodeString(str(r, "file_content"))
		if err != nil || strings.ContainsAny(str(r, "file_content"), "\r\n") {
			return nil, bizErr("E1002", "附件 %d 的 file_content 不是 Base64（须为一行，不含换行）", i)
		}
		if n, _ := strconv.Atoi(str(r, "file_size")); n != len(content) {
			return nil, bizErr("E1002", "附件 %d 的 file_size 与文件内容不符", i)
		}
		a := &attachment{ID: s.nextNo("FJ", now), Type: str(r, "attachment_type"), Name: str(r, "file_name"), Format: str(r, "file_format"),
			Content: content, bizType: str(in, "biz_type"), bizNo: str(in, "biz_no")}
		stored = append(stored, a)
		out = append(out, map[string]any{"file_name": a.Name, "attachment_id": a.ID})
	}
	for _, a := range stored {
		s.attachments[a.ID] = a
	}
	s.record("GYU002", serial, str(in, "biz_no"), now)
	return map[string]any{"attachments": out}, nil
}

func (s *Server) gyu006(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	if !s.inProvince(str(in, "aab301")) {
		return nil, bizErr("E3003", "参保地 %s 不属于本省", str(in, "aab301"))
	}
	atts, _ := in["attachments"].([]any)
	cert := false
	for _, x := range atts {
		r, _ := x.(map[string]any)
		a := s.attachments[str(r, "attachment_id")]
		if a == nil {
			return nil, bizErr("E3002", "附件 %s 不存在，请先用 GYU002 上传", str(r, "attachment_id"))
		}
		if a.revokedBy != "" {
			return nil, bizErr("E3002", "附件 %s 已撤销（%s），请重新用 GYU002 上传", a.ID, a.revokedBy)
		}
		if a.bizType != bizFiling {
			return nil, bizErr("E3002", "附件 %s 是为业务类型 %s 上传的，不是备案（%s）：用 GYU002（biz_type %s）上传备案资料", a.ID, a.bizType, bizFiling, bizFiling)
		}
		if t := str(r, "attachment_type"); t != a.Type {
			return nil, bizErr("E3002", "附件 %s 上传时的附件类型是 %s，此处写作 %s：填写上传时的类型", a.ID, a.Type, t)
		}
		if a.Type == attInjuryCert {
			cert = true
		}
	}
	if !cert {
		return nil, bizErr("E3002", "备案附件中没有工伤认定决定书（附件类型 %s）：先用 GYU002 上传工伤认定书等资料，再上传备案", attInjuryCert)
	}
	// A device filing at a device institution, any other filing not; the
	// institution in the filing's place of treatment.
	if r := s.insts[str(in, "akb020")]; r != nil {
		if ir := str(r, "aab299"); ir != "" && str(in, "aab299") != "" && ir != str(in, "aab299") {
			return nil, bizErr("E3011", "协议机构 %s 所在地 %s 不是备案的就医地 %s", str(in, "akb020"), ir, str(in, "aab299"))
		}
		if device, at := str(in, "filing_type") == "3", str(r, "institution_type"); device != (at == instDevice) {
			return nil, bizErr("E3012", "备案类型 %s 与协议机构 %s 的类型 %s 不符：辅助器具配置备案须在辅助器具配置机构，其他备案不得在辅助器具配置机构", str(in, "filing_type"), str(in, "akb020"), at)
		}
	}
	it := s.instType(str(in, "akb020"), str(in, "filing_type"))
	if f := s.validFilingOf(str(in, "aac002"), it, day(now)); f != nil {
		return nil, bizErr("E3001", "该人员已有协议机构类型 %s 的有效备案 %s", it, f.get("filing_no"))
	}
	fno := s.nextNo("BA", now)
	rec := map[string]any{"filing_no": fno, "filing_status": "1", "update_time": stamp(now)}
	for _, k := range []string{"aac002", "aac003", "aac043", "aac044", "aac004", "aac006", "aae005", "injury_cert_no", "aab301", "aab299", "filing_type", "akb020", "akb021", "aae030", "aae031"} {
		if v := str(in, k); v != "" {
			rec[k] = v
		}
	}
	s.putFiling(&filing{rec: rec})
	s.record("GYU006", serial, fno, now)
	return map[string]any{"filing_no": fno}, nil
}

func (s *Server) gyu007(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	no := str(in, "filing_no")
	f := s.filings[no]
	if f == nil {
		return nil, bizErr("E3004", "备案 %s 不存在", no)
	}
	ct := str(in, "change_type")
	if st := f.get("filing_status"); (st == "2" || st == "4") && ct != "4" {
		return nil, bizErr("E3005", "备案 %s 已失效（状态 %s），不得恢复为有效", no, st)
	}
	rec := maps.Clone(f.rec)
	switch ct {
	case "1":
		rec["aae031"] = str(in, "aae031")
		if e := periodOrder(rec, "备案 "+no+" 延长后"); e != nil {
			return nil, e
		}
	case "2":
		akb020 := str(in, "akb020")
		if s.insts[akb020] == nil {
			return nil, bizErr("E3009", "协议机构 %s 不存在", akb020)
		}
		if ir, fr := str(s.insts[akb020], "aab299"), f.get("aab299"); ir != "" && fr != "" && ir != fr {
			return nil, bizErr("E3011", "协议机构 %s 所在地 %s 不是备案 %s 的就医地 %s：变更就医地请用变更类型 3", akb020, ir, no, fr)
		}
		rec["akb020"] = akb020
		rec["akb021"] = firstOr(str(in, "akb021"), str(s.insts[akb020], "akb021"))
	case "3":
		rec["aab299"] = str(in, "aab299")
		if v := str(in, "akb020"); v != "" {
			if ir := str(s.insts[v], "aab299"); ir != "" && ir != str(in, "aab299") {
				return nil, bizErr("E3011", "协议机构 %s 所在地 %s 不是新就医地 %s", v, ir, str(in, "aab299"))
			}
			rec["akb020"] = v
		} else if old := str(rec, "akb020"); old != "" {
			// The filing keeps its institution: it must be in the new place.
			if ir := str(s.insts[old], "aab299"); ir != "" && ir != str(in, "aab299") {
				return nil, bizErr("E3011", "备案 %s 的协议机构 %s 所在地 %s 不是新就医地 %s：变更就医地须同时给出新就医地的协议机构（akb020）", no, old, ir, str(in, "aab299"))
			}
		}
		if v := str(in, "akb021"); v != "" {
			rec["akb021"] = v
		}
	case "4":
		rec["aae005"] = str(in, "aae005")
	case "5":
		rec["filing_status"] = "4"
	}
	if ct != "5" && rec["filing_status"] == "1" {
		rec["filing_status"] = "3"
	}
	// One valid filing per person per institution type: the changed
	// filing, valid, is not a second one.
	if changed := (&filing{rec: rec}); ct != "4" && changed.valid(day(now)) {
		it := s.instType(changed.get("akb020"), changed.get("filing_type"))
		for _, k := range sortedKeys(s.filings) {
			o := s.filings[k]
			if k != no && o.get("aac002") == changed.get("aac002") && o.valid(day(now)) && s.instType(o.get("akb020"), o.get("filing_type")) == it {
				return nil, bizErr("E3001", "变更后该人员将有两条协议机构类型 %s 的有效备案（%s、%s）", it, no, k)
			}
		}
	}
	rec["update_time"] = stamp(now)
	s.putFiling(&filing{rec: rec})
	s.record("GYU007", serial, no, now)
	return map[string]any{"change_no": s.nextNo("BG", now)}, nil
}

// gyd051 verifies a person's filing from the filing ledger: an approved
// filing of the person (the one named, if filing_no is given) valid on
// visit_date, for the institution (or its place of treatment) and, when
// scene is given, of the right kind (3: assistive-device filing only).
func (s *Server) gyd051(_ *simspec.Tx, _ string, in map[string]any, _ time.Time) (map[string]any, *bizError) {
	visit, scene, want := str(in, "visit_date"), str(in, "scene"), str(in, "filing_no")
	if len(visit) > 10 {
		visit = visit[:10]
	}
	reason := "未找到该人员在该协议机构的有效备案"
	for _, no := range sortedKeys(s.filings) {
		f := s.filings[no]
		if f.get("aac002") != str(in, "aac002") || (want != "" && no != want) {
			continue
		}
		if !f.valid(visit) || f.get("aae030") > visit {
			reason = "备案 " + no + " 在 " + visit + " 不是审核通过的有效备案"
			continue
		}
		if f.get("aac003") != str(in, "aac003") {
			return map[string]any{"filing_valid": "0", "filing_no": no, "check_message": fmt.Sprintf("姓名与备案信息不符：备案 %s 的职工姓名：%s，社会保障号码 %s，联系电话 %s",
				no, f.get("aac003"), f.get("aac002"), f.get("aae005"))}, nil
		}
		at := str(in, "akb020")
		if f.get("akb020") != "" && f.get("akb020") != at {
			reason = "备案 " + no + " 的协议机构是 " + f.get("akb020")
			continue
		}
		if f.get("akb020") == "" && s.insts[at] != nil && str(s.insts[at], "aab299") != f.get("aab299") {
			reason = "备案 " + no + " 的就医地与协议机构所在地不符"
			continue
		}
		if device := f.get("filing_type") == "3"; scene != "" && device != (scene == "3") {
			reason = "备案 " + no + " 的备案类型 " + f.get("filing_type") + " 不适用于核验场景 " + scene
			continue
		}
		out := map[string]any{"filing_valid": "1", "filing_no": no, "filing_type": f.get("filing_type"), "aab301": f.get("aab301"),
			"aae030": f.get("aae030"), "aka130": "1", "filing_status": f.get("filing_status"), "check_message": "存在有效备案"}
		if f.get("filing_type") == "3" {
			out["aka130"] = "3"
		}
		for _, k := range []string{"aae031", "akb020", "aab299"} {
			if v := f.get(k); v != "" {
				out[k] = v
			}
		}
		return out, nil
	}
	return map[string]any{"filing_valid": "0", "check_message": reason}, nil
}

func (s *Server) gyu009(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	rec := maps.Clone(in)
	rec["update_time"] = stamp(now)
	akb020 := str(in, "akb020")
	s.insts[akb020] = rec
	s.queues["GYD009"].touch(akb020)
	s.record("GYU009", serial, akb020, now)
	return map[string]any{}, nil
}

func (s *Server) hasValidFiling(aac002, today string) string {
	for _, f := range s.filings {
		if f.get("aac002") == aac002 && f.valid(today) {
			return "1"
		}
	}
	return "0"
}

// approvedHolder is the pre-check of the card transactions (GYD052,
// GYD055; requirements items 31 and 38): 「人员存在已审核通过备案」, the person
// has an approved filing (status 1, or 3 changed after approval). GYD052
// also needs it valid on its authentication day; GYD055 carries no date,
// so only the approval is checked.
func (s *Server) approvedHolder(aac002, day string) *bizError {
	for _, k := range sortedKeys(s.filings) {
		f := s.filings[k]
		// valid("") checks the status only.
		if f.get("aac002") == aac002 && f.valid(day) && (day == "" || f.get("aae030") <= day) {
			return nil
		}
	}
	if day == "" {
		return bizErr("E6001", "人员 %s 不存在已审核通过备案", aac002)
	}
	return bizErr("E6001", "人员 %s 在 %s 不存在已审核通过的有效备案", aac002, day)
}

func (s *Server) gyd052(_ *simspec.Tx, _ string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	if err := s.approvedHolder(str(in, "aac002"), dateOf(str(in, "aae036"))); err != nil {
		return nil, err
	}
	c := s.cards[str(in, "aaz500")]
	switch {
	case c == nil || c.CardID != str(in, "card_id") || c.AAB301 != str(in, "aab301"):
		return map[string]any{"auth_result": "0", "auth_message": "卡号或卡识别码不符"}, nil
	case c.AAC002 != str(in, "aac002") || c.AAC003 != str(in, "aac003"):
		return map[string]any{"auth_result": "0", "card_status": c.Status, "auth_message": "持卡人信息不符"}, nil
	case c.Status != "1":
		return map[string]any{"auth_result": "0", "card_status": c.Status, "auth_message": "卡状态异常"}, nil
	}
	return map[string]any{"auth_result": "1", "card_status": c.Status, "aac002": c.AAC002, "aac003": c.AAC003, "aac004": c.AAC004,
		"aac006": c.AAC006, "aab301": c.AAB301, "filing_valid": s.hasValidFiling(c.AAC002, day(now)), "auth_message": "认证通过"}, nil
}

func (s *Server) gyd055(_ *simspec.Tx, _ string, in map[string]any, _ time.Time) (map[string]any, *bizError) {
	c := s.cards[str(in, "aaz500")]
	if c == nil || c.CardID != str(in, "card_id") || c.AAB301 != str(in, "aab301") {
		return map[string]any{"auth_result": "0", "auth_message": "卡号或卡识别码不符"}, nil
	}
	if err := s.approvedHolder(c.AAC002, ""); err != nil {
		return nil, err
	}
	random := str(in, "random_hex")
	if !strings.EqualFold(InternalAuthData(c.Secret, random), str(in, "internal_auth_data")) {
		return map[string]any{"auth_result": "0", "auth_message": "内部认证失败"}, nil
	}
	return map[string]any{"auth_result": "1", "external_auth_data": ExternalAuthData(c.Secret, random), "auth_message": "内部认证通过"}, nil
}

func (s *Server) gyu010(_ *simspec.Tx, serial string, in map[string]any, now time.Time) (map[string]any, *bizError) {
	code := str(in, "qr_code")
	q := s.qrs[code]
	if q == nil || now.After(q.expires) {
		return nil, bizErr("E5001", "二维码无效或已过期")
	}
	c := s.cards[q.aaz500]
	if c == nil {
		return nil, bizErr("E5001", "二维码无效或已过期")
	}
	s.record("GYU010", serial, code, now)
	return map[string]any{"aac002": c.AAC002, "aac003": c.AAC003, "aac043": "01", "aac044": c.AAC002, "aaz500": c.AAZ500,
		"essc_no": q.essc, "aab301": c.AAB301, "filing_valid": s.hasValidFiling(c.AAC002, day(now))}, nil
}

// periodOrder refuses a filing period that ends before it starts
// (E3013): an approval whose audit gives an end before the application's
// start, an extension to an end before the filing's start.
func periodOrder(rec map[string]any, what string) *bizError {
	if from, to := str(rec, "aae030"), str(rec, "aae031"); from != "" && to != "" && to < from {
		return bizErr("E3013", "%s的截止日期 %s 早于开始日期 %s", what, to, from)
	}
	return nil
}
