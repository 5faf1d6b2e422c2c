package selfpay

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/test/sim/simspec"
)

// The simulator's own field rules, written from the interface notes
// (/work/shared/specs/selfpay-hsa.md §1 and §4) and the hospital's
// requirements (/work/shared/specs/requirements-zh.txt 2.2.2), never from
// medgate's schema files, so that a rule wrongly dropped or loosened on
// medgate's side is refused here instead of being mirrored.
//
// The notation follows the notes: 字符型 C<n> is a JSON string of at most n
// characters; 数值型 N<p> a whole number of at most p digits and N<p>,<s> a
// decimal with at most p-s digits before the point and s after it (a JSON
// number or a string holding one); 日期型 D is yyyy-MM-dd and 日期时间型 DT
// yyyy-MM-dd HH:mm:ss. Required is the notes' Y column; an empty string or
// null counts as missing. A node is a JSON object (or an array of them);
// keys a transaction does not define are refused.

// kind is the type of a field.
type kind int

const (
	kindString   kind = iota // 字符型
	kindInteger              // 数值型 without decimals
	kindDecimal              // 数值型 with decimals
	kindDate                 // 日期型
	kindDateTime             // 日期时间型
	kindObject               // a node holding one row
	kindArray                // a node holding rows
)

// dateLayout is 日期型; timeLayout (sm4.go) is 日期时间型.
const dateLayout = "2006-01-02"

// rule is one field of a transaction.
type rule struct {
	name, label string
	kind        kind
	// max is the most characters of a string, or digits of an integer;
	// 0 is no limit (the notes give none).
	max int
	// prec and scale bound a decimal: prec-scale digits before the point,
	// scale after it.
	prec, scale int
	required    bool
	// codes, when set, is the field's code list.
	codes []string
	// fields are the fields of an object, or of each row of an array.
	fields []rule
}

// The constructors below read like the notes' tables: chars("bkkp_sn",
// "记账流水号", 30, req) is "bkkp_sn 记账流水号 C30 Y".

const (
	req = true  // the notes' Y
	opt = false // no Y
)

func chars(name, label string, max int, required bool) rule {
	return rule{name: name, label: label, kind: kindString, max: max, required: required}
}

func whole(name, label string, digits int, required bool) rule {
	return rule{name: name, label: label, kind: kindInteger, max: digits, required: required}
}

func decimal(name, label string, prec, scale int, required bool) rule {
	return rule{name: name, label: label, kind: kindDecimal, prec: prec, scale: scale, required: required}
}

func date(name, label string, required bool) rule {
	return rule{name: name, label: label, kind: kindDate, required: required}
}

func datetime(name, label string, required bool) rule {
	return rule{name: name, label: label, kind: kindDateTime, required: required}
}

func oneOf(name, label string, max int, required bool, list ...string) rule {
	return rule{name: name, label: label, kind: kindString, max: max, required: required, codes: list}
}

func node(name, label string, required bool, fields ...rule) rule {
	return rule{name: name, label: label, kind: kindObject, required: required, fields: fields}
}

// array is a node of rows; a required one needs at least one row.
func rows(name, label string, required bool, fields ...rule) rule {
	return rule{name: name, label: label, kind: kindArray, required: required, fields: fields}
}

// cpltFlags is the code list of 完成标志: 1 complete, 0 not (notes §3 and
// §4 4203: S1 sends "1" to complete and "0" to undo, S2 says the flag goes
// either way).
var cpltFlags = []string{"0", "1"}

// envelopeRules is the request envelope without input (notes §1; app_id
// and enc_type are Fujian's additions, S4). fixmedins_code is C30 as S3
// has it; the msgid rule (sm4.go) separately needs its first 12
// characters to be the code.
var envelopeRules = []rule{
	chars("infno", "交易编号", 6, req),
	chars("msgid", "发送方报文ID", 30, req),
	chars("mdtrtarea_admvs", "就医地医保区划", 6, req),
	chars("insuplc_admdvs", "参保地医保区划", 6, opt), // required only with a 人员编号; self-pay has none
	chars("recer_sys_code", "接收方系统代码", 10, req),
	chars("dev_no", "设备编号", 100, opt),
	chars("dev_safe_info", "设备安全信息", 2000, opt),
	chars("cainfo", "数字签名信息", 1024, opt),
	chars("signtype", "签名类型", 10, opt),
	chars("infver", "接口版本号", 6, req),
	oneOf("opter_type", "经办人类别", 3, req, "1", "2", "3"), // 1 经办人, 2 自助终端, 3 移动终端
	chars("opter", "经办人", 30, req),
	chars("opter_name", "经办人姓名", 50, req),
	datetime("inf_time", "交易时间", req),
	chars("fixmedins_code", "定点医药机构编号", 30, req),
	chars("fixmedins_name", "定点医药机构名称", 200, req),
	chars("sign_no", "交易签到流水号", 30, opt),
	chars("app_id", "渠道id", 0, opt),          // S4 gives no length
	oneOf("enc_type", "加密方式", 0, opt, "SM4"), // 不加密传空，加密传SM4
}

// inputRules are the inputs of the transactions served.
var inputRules = map[string][]rule{
	// 9001 签到: not in the notes, which only say that sign_no comes from
	// 9001; the node is the national interface's signIn.
	"9001": {node("signIn", "签到信息", req,
		chars("opter_no", "操作员编号", 30, req),
		chars("mac", "签到MAC地址", 20, req),
		chars("ip", "签到IP地址", 15, req),
	)},
	"4201A": {rows("fsiOwnpayPatnFeeListDDTO", "自费病人住院费用明细", req,
		chars("fixmedins_mdtrt_id", "医药机构就诊ID", 30, req),
		chars("med_type", "医疗类别", 6, req),
		chars("bkkp_sn", "记账流水号", 30, req),
		datetime("fee_ocur_time", "费用发生时间", req),
		chars("fixmedins_code", "定点医药机构编号", 30, req),
		chars("fixmedins_name", "定点医药机构名称", 200, req),
		decimal("cnt", "数量", 16, 4, req),
		decimal("pric", "单价", 16, 6, req),
		decimal("det_item_fee_sumamt", "明细项目费用总额", 16, 2, req),
		chars("med_list_codg", "医疗目录编码", 50, req),
		chars("medins_list_codg", "医药机构目录编码", 150, req),
		chars("medins_list_name", "医药机构目录名称", 100, req),
		chars("med_chrgitm_type", "医疗收费项目类别", 6, req),
		chars("prodname", "商品名", 200, opt),
		chars("bilg_dept_codg", "开单科室编码", 30, req),
		chars("bilg_dept_name", "开单科室名称", 100, req),
		chars("bilg_dr_code", "开单医生编码", 30, req),
		chars("bilg_dr_name", "开单医师姓名", 50, req),
		chars("acord_dept_codg", "受单科室编码", 30, opt),
		chars("acord_dept_name", "受单科室名称", 100, opt),
		chars("acord_dr_code", "受单医生编码", 30, opt),
		chars("acord_dr_name", "受单医生姓名", 50, opt),
		chars("tcmdrug_used_way", "中药使用方式", 6, req),
		chars("etip_flag", "外检标志", 3, req),
		chars("etip_hosp_code", "外检医院编码", 30, opt),
		chars("dscg_tkdrug_flag", "出院带药标志", 3, req),
		chars("sin_dos_dscr", "单次剂量描述", 200, opt),
		chars("used_frqu_dscr", "使用频次描述", 200, opt),
		decimal("prd_days", "周期天数", 4, 2, opt),
		chars("medc_way_dscr", "用药途径描述", 200, opt),
		chars("memo", "备注", 500, opt), // S2's C500; S1 sends an object (notes §6.3)
		decimal("fulamt_ownpay_amt", "全自费金额", 16, 2, req),
		decimal("overlmt_selfpay", "超限价自费金额", 16, 2, req),
		decimal("preselfpay_amt", "先行自付金额", 16, 2, req),
		decimal("inscp_amt", "符合政策范围金额", 16, 2, req),
	)},
	"4202": {
		node("ownPayPatnMdtrtD", "自费病人就诊信息", req,
			chars("fixmedins_mdtrt_id", "医药机构就诊ID", 30, req),
			chars("fixmedins_code", "定点医药机构编号", 30, req),
			chars("fixmedins_name", "定点医药机构名称", 200, req),
			chars("psn_cert_type", "人员证件类型", 6, req),
			chars("certno", "证件号码", 600, req),
			chars("psn_name", "人员姓名", 50, req),
			chars("gend", "性别", 6, opt),
			chars("naty", "民族", 3, opt),
			date("brdy", "出生日期", opt),
			decimal("age", "年龄", 4, 1, opt),
			chars("coner_name", "联系人姓名", 50, opt),
			chars("tel", "联系电话", 50, opt),
			chars("addr", "联系地址", 500, opt),
			datetime("begntime", "开始时间", req),
			datetime("endtime", "结束时间", opt),
			chars("med_type", "医疗类别", 6, req),
			chars("ipt_otp_no", "住院/门诊号", 30, opt),
			chars("medrcdno", "病历号", 30, opt),
			chars("chfpdr_code", "主诊医师代码", 30, opt),
			chars("adm_diag_dscr", "入院诊断描述", 200, opt),
			chars("adm_dept_codg", "入院科室编码", 30, opt),
			chars("adm_dept_name", "入院科室名称", 100, opt),
			chars("adm_bed", "入院床位", 30, opt),
			chars("wardarea_bed", "病区床位", 50, opt),
			chars("traf_dept_flag", "转科室标志", 6, opt),
			chars("dscg_maindiag_code", "出院主诊断代码", 30, opt),
			chars("dscg_dept_codg", "出院科室编码", 30, opt),
			chars("dscg_dept_name", "出院科室名称", 100, opt),
			chars("dscg_bed", "出院床位", 30, opt),
			chars("dscg_way", "离院方式", 3, opt),
			chars("main_cond_dscr", "主要病情描述", 1000, opt),
			chars("dise_no", "病种编号", 30, opt),
			chars("dise_name", "病种名称", 500, opt),
			chars("oprn_oprt_code", "手术操作代码", 30, opt),
			chars("oprn_oprt_name", "手术操作名称", 500, opt),
			chars("otp_diag_info", "门诊诊断信息", 200, opt),
			chars("inhosp_stas", "在院状态", 3, opt),
			date("die_date", "死亡日期", opt),
			whole("ipt_days", "住院天数", 16, opt),
			chars("fpsc_no", "计划生育服务证号", 50, opt),
			chars("matn_type", "生育类别", 6, opt),
			chars("birctrl_type", "计划生育手术类别", 6, opt),
			chars("latechb_flag", "晚育标志", 3, opt),
			whole("geso_val", "孕周数", 2, opt),
			whole("fetts", "胎次", 3, opt),
			whole("fetus_cnt", "胎儿数", 3, opt),
			chars("pret_flag", "早产标志", 3, opt),
			date("prey_time", "妊娠时间", opt),
			date("birctrl_matn_date", "计划生育手术或生育日期", opt),
			chars("cop_flag", "伴有并发症标志", 3, opt),
			chars("vali_flag", "有效标志", 3, req),
			chars("memo", "备注", 500, opt),
			chars("opter_id", "经办人ID", 20, opt),
			chars("opter_name", "经办人姓名", 50, opt),
			datetime("opt_time", "经办时间", opt),
			chars("chfpdr_name", "主诊医师姓名", 50, opt),
			chars("dscg_maindiag_name", "住院主诊断名称", 300, opt),
			decimal("medfee_sumamt", "医疗总费用", 16, 2, req),
			chars("elec_bill_code", "电子票据代码", 50, opt),
			chars("elec_billno_code", "电子票据号码", 50, opt),
			chars("elec_bill_chkcode", "电子票据校验码", 6, opt),
			chars("exp_content", "扩展字段", 4000, opt),
		),
		// The notes give no Y for the node itself; the transaction is
		// 就诊和诊断信息上传, and a visit without its diagnoses is refused.
		rows("ownPayPatnDiagListD", "自费病人诊断信息", req,
			chars("inout_diag_type", "出入院诊断类别", 6, req),
			chars("diag_type", "诊断类别", 3, req),
			chars("maindiag_flag", "主诊断标志", 3, req),
			chars("diag_srt_no", "诊断排序号", 2, req),
			chars("diag_code", "诊断代码", 30, req),
			chars("diag_name", "诊断名称", 255, req),
			chars("diag_dept", "诊断科室", 50, opt),
			chars("diag_dr_code", "诊断医师代码", 30, opt),
			chars("diag_dr_name", "诊断医师姓名", 50, opt),
			datetime("diag_time", "诊断时间", opt),
			chars("vali_flag", "有效标志", 3, opt), // C3 inferred in the notes
		),
	},
	"4203": {
		chars("fixmedins_mdtrt_id", "医药机构就诊ID", 30, req),
		chars("fixmedins_code", "定点医药机构编号", 30, req),
		oneOf("cplt_flag", "完成标志", 6, req, cpltFlags...),
	},
	// 4204: feedetail names the visit (the notes give no Y, but without it
	// nothing can be deleted); feedetl, when sent, lists the lines to
	// delete, else every line of the visit goes.
	"4204": {
		node("feedetail", "费用明细所属就诊", req,
			chars("fixmedins_mdtrt_id", "医药机构就诊ID", 30, req),
			chars("fixmedins_code", "定点医药机构编号", 30, req),
		),
		rows("feedetl", "待删除的费用明细", opt,
			chars("bkkp_sn", "记账流水号", 30, req),
		),
	},
	"4207": pagedByVisit(),
	"4208": {
		chars("psn_cert_type", "人员证件类型", 6, opt),
		chars("certno", "证件号码", 600, opt),
		chars("psn_name", "人员姓名", 50, opt),
		datetime("begntime", "开始时间", opt),
		datetime("endtime", "结束时间", opt),
		chars("med_type", "医疗类别", 6, opt),
		decimal("medfee_sumamt", "医疗总费用", 16, 2, opt),
		chars("elec_billno_code", "电子票据号码", 50, opt),
		oneOf("cplt_flag", "完成标志", 6, opt, cpltFlags...), // S2 only
		whole("page_num", "当前页数", 4, req),
		whole("page_size", "本页数据量", 4, req),
	},
	"4209": pagedByVisit(),
}

// pagedByVisit is the input of 4207 and 4209: one visit, one page.
func pagedByVisit() []rule {
	return []rule{
		chars("fixmedins_mdtrt_id", "医药机构就诊ID", 30, req),
		chars("fixmedins_code", "定点医药机构编号", 30, req),
		whole("page_num", "当前页数", 4, req),
		whole("page_size", "本页数据量", 4, req),
	}
}

// The rules a violation names, in the simulator's own words: err_msg
// reads "<where>[<rule>] <label>(<path>)…".
const (
	ruleRequired = "必填"  // missing, null or empty
	ruleLength   = "超长"  // too many characters or digits
	ruleType     = "类型"  // wrong JSON type, not a number, not whole, too many decimals
	ruleCode     = "代码"  // not in the field's code list
	ruleFormat   = "格式"  // a date or date-time not written in its layout
	ruleUnknown  = "未定义" // a key the transaction does not define
)

// violation is one broken field rule.
type violation struct {
	path, label, rule, msg string
}

// String formats the violation as "[rule] label(path)msg".
func (v violation) String() string {
	if v.label == "" {
		return fmt.Sprintf("[%s] %s%s", v.rule, v.path, v.msg)
	}
	return fmt.Sprintf("[%s] %s(%s)%s", v.rule, v.label, v.path, v.msg)
}

// check returns every violation of rules by the node v (decoded with
// UseNumber), in the order of the rules, then unknown keys sorted. It
// never echoes a value except a code of a code list, so an answer carries
// no personal data back.
func check(rules []rule, v any) []violation {
	m, ok := v.(map[string]any)
	if !ok {
		return []violation{{path: "input", rule: ruleType, msg: "须为JSON对象: send {\"field\": value, …}, got " + simspec.KindOf(v)}}
	}
	var out []violation
	checkObject(rules, m, "", &out)
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func checkObject(rules []rule, m map[string]any, path string, out *[]violation) {
	known := make(map[string]bool, len(rules))
	for i := range rules {
		r := &rules[i]
		known[r.name] = true
		checkField(r, m[r.name], join(path, r.name), out)
	}
	var unknown []string
	for k := range m {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		*out = append(*out, violation{path: join(path, k), rule: ruleUnknown, msg: "不是本交易定义的字段: remove it or check its spelling"})
	}
}

func checkField(r *rule, v any, path string, out *[]violation) {
	add := func(what, msg string) {
		*out = append(*out, violation{path: path, label: r.label, rule: what, msg: msg})
	}
	if v == nil || v == "" {
		if r.required {
			add(ruleRequired, "为必填项，未传或为空: send "+describeRule(r))
		}
		return
	}
	switch r.kind {
	case kindObject:
		m, ok := v.(map[string]any)
		if !ok {
			add(ruleType, "须为JSON对象(一条记录), got "+simspec.KindOf(v))
			return
		}
		checkObject(r.fields, m, path, out)
		return
	case kindArray:
		items, ok := v.([]any)
		if !ok {
			add(ruleType, "须为JSON数组(记录列表), got "+simspec.KindOf(v)+"; wrap a single row in [ ]")
			return
		}
		if len(items) == 0 && r.required {
			add(ruleRequired, "为必填项，至少一条记录: send at least one row")
			return
		}
		for i, row := range items {
			p := fmt.Sprintf("%s[%d]", path, i)
			m, ok := row.(map[string]any)
			if !ok {
				*out = append(*out, violation{path: p, label: r.label, rule: ruleType, msg: "每条记录须为JSON对象, got " + simspec.KindOf(row)})
				continue
			}
			checkObject(r.fields, m, p, out)
		}
		return
	case kindInteger, kindDecimal:
		if msg, what := checkNumber(r, v); msg != "" {
			add(what, msg)
		}
		return
	}
	s, ok := v.(string)
	if !ok {
		add(ruleType, fmt.Sprintf("须为字符串(%s), got %s; send it quoted", describeRule(r), simspec.KindOf(v)))
		return
	}
	switch r.kind {
	case kindDate, kindDateTime:
		layout, shown := dateLayout, "yyyy-MM-dd"
		if r.kind == kindDateTime {
			layout, shown = timeLayout, "yyyy-MM-dd HH:mm:ss"
		}
		if t, err := time.Parse(layout, s); err != nil || t.Format(layout) != s {
			add(ruleFormat, "须为"+shown+": write it like "+sample.Format(layout))
		}
		return
	}
	if l := utf8.RuneCountInString(s); r.max > 0 && l > r.max {
		add(ruleLength, fmt.Sprintf("长度%d超过%d个字符: shorten it to at most %d characters", l, r.max, r.max))
	}
	if r.codes != nil && !contains(r.codes, s) {
		add(ruleCode, fmt.Sprintf("值%s不在代码表中: use one of %s", strconv.Quote(short(s)), strings.Join(r.codes, ", ")))
	}
}

var sample = time.Date(2025, 4, 1, 8, 30, 0, 0, time.UTC)

// plainDecimal is a decimal written without exponent, as a string may
// hold one.
var plainDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// checkNumber checks a 数值型 value; it returns why it fails and the rule,
// or "".
func checkNumber(r *rule, v any) (string, string) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case float64:
		text = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		if !plainDecimal.MatchString(x) {
			return "须为数值(" + describeRule(r) + "): send a number such as 12.50", ruleType
		}
		text = x
	default:
		return fmt.Sprintf("须为数值(%s), got %s", describeRule(r), simspec.KindOf(v)), ruleType
	}
	if len(text) > 64 {
		return "数值过长: send at most " + describeRule(r), ruleLength
	}
	x, ok := new(big.Rat).SetString(text)
	if !ok {
		return "须为数值(" + describeRule(r) + "): send a number such as 12.50", ruleType
	}
	x.Abs(x)
	whole := new(big.Int).Quo(x.Num(), x.Denom())
	intDigits := len(whole.String())
	if whole.Sign() == 0 {
		intDigits = 0
	}
	// The decimals needed to write x exactly: the least k with x×10^k whole.
	frac, k := new(big.Rat).Set(x), 0
	for ; !frac.IsInt(); k++ {
		if k > 64 {
			break
		}
		frac.Mul(frac, big.NewRat(10, 1))
	}
	if r.kind == kindInteger {
		if k > 0 {
			return "须为整数: drop the fraction", ruleType
		}
		if r.max > 0 && intDigits > r.max {
			return fmt.Sprintf("有%d位数字，最多%d位: send at most %d digits", intDigits, r.max, r.max), ruleLength
		}
		return "", ""
	}
	if room := r.prec - r.scale; intDigits > room {
		return fmt.Sprintf("整数部分%d位，最多%d位(%s): the value is too large", intDigits, room, describeRule(r)), ruleLength
	}
	if k > r.scale {
		return fmt.Sprintf("小数%d位，最多%d位(%s): round it to %d places", k, r.scale, describeRule(r), r.scale), ruleType
	}
	return "", ""
}

// describeRule writes a field's type as the notes do: C30, N16,2, DT…
func describeRule(r *rule) string {
	switch r.kind {
	case kindInteger:
		return fmt.Sprintf("数值型 N%d", r.max)
	case kindDecimal:
		return fmt.Sprintf("数值型 N%d,%d", r.prec, r.scale)
	case kindDate:
		return "日期型 yyyy-MM-dd"
	case kindDateTime:
		return "日期时间型 yyyy-MM-dd HH:mm:ss"
	case kindObject:
		return "a JSON object"
	case kindArray:
		return "a JSON array of rows"
	}
	if r.codes != nil {
		return "one of " + strings.Join(r.codes, ", ")
	}
	if r.max > 0 {
		return fmt.Sprintf("字符型 C%d", r.max)
	}
	return "字符型"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// short cuts a code that is not one at 12 characters for the message.
func short(s string) string {
	if utf8.RuneCountInString(s) <= 12 {
		return s
	}
	return string([]rune(s)[:12]) + "…"
}

// describeViolations is the err_msg of a refusal: where, the first three
// violations and how many there are.
func describeViolations(where string, vs []violation) string {
	parts := make([]string, 0, 4)
	for i, v := range vs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("…共%d处 (%d violations)", len(vs), len(vs)))
			break
		}
		parts = append(parts, v.String())
	}
	return where + ": " + strings.Join(parts, "; ")
}
