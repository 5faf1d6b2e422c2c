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
// yyyy-MM-dd HH:mm:ss. Required is the notes' Y column; null, an empty
// string or one of white space alone (the requirements' 非空校验:
// simspec.Blank) counts as missing. A node is a JSON object (or an array
// of them); keys a transaction does not define are refused.

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

// The rules are written as the notes' tables, one field a line (see
// table): "bkkp_sn C30 Y 记账流水号" is the notes' "bkkp_sn 记账流水号 C30
// Y".

const (
	req = true  // the notes' Y
	opt = false // no Y
)

// table reads field rules written one a line:
//
//	name  type  Y|-  label  [codes]  [# comment]
//
// type is C<n> (字符型, at most n characters; C alone: no length given),
// N<p> (数值型, a whole number of at most p digits), N<p>,<s> (a decimal),
// D (日期型) or DT (日期时间型); Y marks a required field and - an optional
// one; codes, comma-separated, are the field's code list. Blank lines are
// skipped. A line it cannot read panics: the tables are this file's own,
// read once when the package starts.
func table(text string) []rule {
	var out []rule
	for i, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) > 5 || len(f) < 4 || (f[2] != "Y" && f[2] != "-") {
			panic(fmt.Sprintf("selfpay rules: line %d %q: write name, type, Y or -, label and, for a code list, the codes separated by commas", i+1, strings.TrimSpace(line)))
		}
		r := rule{name: f[0], label: f[3], required: f[2] == "Y"}
		if err := r.setType(f[1]); err != nil {
			panic(fmt.Sprintf("selfpay rules: line %d, field %s: %v", i+1, f[0], err))
		}
		if len(f) == 5 {
			r.codes = strings.Split(f[4], ",")
		}
		out = append(out, r)
	}
	return out
}

// setType sets the kind and bounds of r from the notes' type: C30, C,
// N4, N16,2, D or DT.
func (r *rule) setType(t string) error {
	bad := fmt.Errorf("type %q: write C<n>, C, N<p>, N<p>,<s>, D or DT", t)
	switch {
	case t == "D":
		r.kind = kindDate
	case t == "DT":
		r.kind = kindDateTime
	case t == "C":
		r.kind = kindString
	case strings.HasPrefix(t, "C"):
		n, err := strconv.Atoi(t[1:])
		if err != nil || n < 1 {
			return bad
		}
		r.kind, r.max = kindString, n
	case strings.HasPrefix(t, "N"):
		p, s, isDecimal := strings.Cut(t[1:], ",")
		prec, err := strconv.Atoi(p)
		if err != nil || prec < 1 {
			return bad
		}
		if !isDecimal {
			r.kind, r.max = kindInteger, prec
			return nil
		}
		scale, err := strconv.Atoi(s)
		if err != nil || scale < 1 || scale >= prec {
			return bad
		}
		r.kind, r.prec, r.scale = kindDecimal, prec, scale
	default:
		return bad
	}
	return nil
}

// node is an object holding one row, whose fields are a table.
func node(name, label string, required bool, fields string) rule {
	return rule{name: name, label: label, kind: kindObject, required: required, fields: table(fields)}
}

// rows is a node of rows, whose fields are a table; a required one needs
// at least one row.
func rows(name, label string, required bool, fields string) rule {
	return rule{name: name, label: label, kind: kindArray, required: required, fields: table(fields)}
}

// visitKey names a visit: the first two fields of 4203, 4204's feedetail,
// 4207 and 4209.
const visitKey = `
	fixmedins_mdtrt_id   C30     Y 医药机构就诊ID
	fixmedins_code       C30     Y 定点医药机构编号
`

// envelopeRules is the request envelope without input (notes §1; app_id
// and enc_type are Fujian's additions, S4). fixmedins_code is C30 as S3
// has it; the msgid rule (sm4.go) separately needs its first 12
// characters to be the code.
var envelopeRules = table(`
	infno                C6      Y 交易编号
	msgid                C30     Y 发送方报文ID
	mdtrtarea_admvs      C6      Y 就医地医保区划
	insuplc_admdvs       C6      - 参保地医保区划  # required only with a 人员编号; self-pay has none
	recer_sys_code       C10     Y 接收方系统代码
	dev_no               C100    - 设备编号
	dev_safe_info        C2000   - 设备安全信息
	cainfo               C1024   - 数字签名信息
	signtype             C10     - 签名类型
	infver               C6      Y 接口版本号
	opter_type           C3      Y 经办人类别 1,2,3  # 1 经办人, 2 自助终端, 3 移动终端
	opter                C30     Y 经办人
	opter_name           C50     Y 经办人姓名
	inf_time             DT      Y 交易时间
	fixmedins_code       C30     Y 定点医药机构编号
	fixmedins_name       C200    Y 定点医药机构名称
	sign_no              C30     - 交易签到流水号
	app_id               C       - 渠道id  # S4 gives no length
	enc_type             C       - 加密方式 SM4  # 不加密传空，加密传SM4
`)

// inputRules are the inputs of the transactions served.
var inputRules = map[string][]rule{
	// 9001 签到: not in the notes, which only say that sign_no comes from
	// 9001; the node is the national interface's signIn.
	"9001": {node("signIn", "签到信息", req, `
		opter_no             C30     Y 操作员编号
		mac                  C20     Y 签到MAC地址
		ip                   C15     Y 签到IP地址
		`)},
	"4201A": {rows("fsiOwnpayPatnFeeListDDTO", "自费病人住院费用明细", req, `
		fixmedins_mdtrt_id   C30     Y 医药机构就诊ID
		med_type             C6      Y 医疗类别
		bkkp_sn              C30     Y 记账流水号
		fee_ocur_time        DT      Y 费用发生时间
		fixmedins_code       C30     Y 定点医药机构编号
		fixmedins_name       C200    Y 定点医药机构名称
		cnt                  N16,4   Y 数量
		pric                 N16,6   Y 单价
		det_item_fee_sumamt  N16,2   Y 明细项目费用总额
		med_list_codg        C50     Y 医疗目录编码
		medins_list_codg     C150    Y 医药机构目录编码
		medins_list_name     C100    Y 医药机构目录名称
		med_chrgitm_type     C6      Y 医疗收费项目类别
		prodname             C200    - 商品名
		bilg_dept_codg       C30     Y 开单科室编码
		bilg_dept_name       C100    Y 开单科室名称
		bilg_dr_code         C30     Y 开单医生编码
		bilg_dr_name         C50     Y 开单医师姓名
		acord_dept_codg      C30     - 受单科室编码
		acord_dept_name      C100    - 受单科室名称
		acord_dr_code        C30     - 受单医生编码
		acord_dr_name        C50     - 受单医生姓名
		tcmdrug_used_way     C6      Y 中药使用方式
		etip_flag            C3      Y 外检标志
		etip_hosp_code       C30     - 外检医院编码
		dscg_tkdrug_flag     C3      Y 出院带药标志
		sin_dos_dscr         C200    - 单次剂量描述
		used_frqu_dscr       C200    - 使用频次描述
		prd_days             N4,2    - 周期天数
		medc_way_dscr        C200    - 用药途径描述
		memo                 C500    - 备注  # S2's C500; S1 sends an object (notes §6.3)
		fulamt_ownpay_amt    N16,2   Y 全自费金额
		overlmt_selfpay      N16,2   Y 超限价自费金额
		preselfpay_amt       N16,2   Y 先行自付金额
		inscp_amt            N16,2   Y 符合政策范围金额
		`)},
	"4202": {
		node("ownPayPatnMdtrtD", "自费病人就诊信息", req, `
			fixmedins_mdtrt_id   C30     Y 医药机构就诊ID
			fixmedins_code       C30     Y 定点医药机构编号
			fixmedins_name       C200    Y 定点医药机构名称
			psn_cert_type        C6      Y 人员证件类型
			certno               C600    Y 证件号码
			psn_name             C50     Y 人员姓名
			gend                 C6      - 性别
			naty                 C3      - 民族
			brdy                 D       - 出生日期
			age                  N4,1    - 年龄
			coner_name           C50     - 联系人姓名
			tel                  C50     - 联系电话
			addr                 C500    - 联系地址
			begntime             DT      Y 开始时间
			endtime              DT      - 结束时间
			med_type             C6      Y 医疗类别
			ipt_otp_no           C30     - 住院/门诊号
			medrcdno             C30     - 病历号
			chfpdr_code          C30     - 主诊医师代码
			adm_diag_dscr        C200    - 入院诊断描述
			adm_dept_codg        C30     - 入院科室编码
			adm_dept_name        C100    - 入院科室名称
			adm_bed              C30     - 入院床位
			wardarea_bed         C50     - 病区床位
			traf_dept_flag       C6      - 转科室标志
			dscg_maindiag_code   C30     - 出院主诊断代码
			dscg_dept_codg       C30     - 出院科室编码
			dscg_dept_name       C100    - 出院科室名称
			dscg_bed             C30     - 出院床位
			dscg_way             C3      - 离院方式
			main_cond_dscr       C1000   - 主要病情描述
			dise_no              C30     - 病种编号
			dise_name            C500    - 病种名称
			oprn_oprt_code       C30     - 手术操作代码
			oprn_oprt_name       C500    - 手术操作名称
			otp_diag_info        C200    - 门诊诊断信息
			inhosp_stas          C3      - 在院状态
			die_date             D       - 死亡日期
			ipt_days             N16     - 住院天数
			fpsc_no              C50     - 计划生育服务证号
			matn_type            C6      - 生育类别
			birctrl_type         C6      - 计划生育手术类别
			latechb_flag         C3      - 晚育标志
			geso_val             N2      - 孕周数
			fetts                N3      - 胎次
			fetus_cnt            N3      - 胎儿数
			pret_flag            C3      - 早产标志
			prey_time            D       - 妊娠时间
			birctrl_matn_date    D       - 计划生育手术或生育日期
			cop_flag             C3      - 伴有并发症标志
			vali_flag            C3      Y 有效标志
			memo                 C500    - 备注
			opter_id             C20     - 经办人ID
			opter_name           C50     - 经办人姓名
			opt_time             DT      - 经办时间
			chfpdr_name          C50     - 主诊医师姓名
			dscg_maindiag_name   C300    - 住院主诊断名称
			medfee_sumamt        N16,2   Y 医疗总费用
			elec_bill_code       C50     - 电子票据代码
			elec_billno_code     C50     - 电子票据号码
			elec_bill_chkcode    C6      - 电子票据校验码
			exp_content          C4000   - 扩展字段
			`),
		// The notes give no Y for the node itself; the transaction is
		// 就诊和诊断信息上传, and a visit without its diagnoses is refused.
		rows("ownPayPatnDiagListD", "自费病人诊断信息", req, `
			inout_diag_type      C6      Y 出入院诊断类别
			diag_type            C3      Y 诊断类别
			maindiag_flag        C3      Y 主诊断标志
			diag_srt_no          C2      Y 诊断排序号
			diag_code            C30     Y 诊断代码
			diag_name            C255    Y 诊断名称
			diag_dept            C50     - 诊断科室
			diag_dr_code         C30     - 诊断医师代码
			diag_dr_name         C50     - 诊断医师姓名
			diag_time            DT      - 诊断时间
			vali_flag            C3      - 有效标志  # C3 inferred in the notes
			`),
	},
	// 完成标志: 1 complete, 0 not (notes §3 and §4 4203: S1 sends "1" to
	// complete and "0" to undo, S2 says the flag goes either way).
	"4203": table(visitKey + `
		cplt_flag            C6      Y 完成标志 0,1
	`),
	// 4204: feedetail names the visit (the notes give no Y, but without it
	// nothing can be deleted); feedetl, when sent, lists the lines to
	// delete, else every line of the visit goes.
	"4204": {
		node("feedetail", "费用明细所属就诊", req, visitKey),
		rows("feedetl", "待删除的费用明细", opt, "bkkp_sn C30 Y 记账流水号"),
	},
	"4207": pagedByVisit(),
	"4208": table(`
		psn_cert_type        C6      - 人员证件类型
		certno               C600    - 证件号码
		psn_name             C50     - 人员姓名
		begntime             DT      - 开始时间
		endtime              DT      - 结束时间
		med_type             C6      - 医疗类别
		medfee_sumamt        N16,2   - 医疗总费用
		elec_billno_code     C50     - 电子票据号码
		cplt_flag            C6      - 完成标志 0,1  # S2 only
		page_num             N4      Y 当前页数
		page_size            N4      Y 本页数据量
	`),
	"4209": pagedByVisit(),
}

// pagedByVisit is the input of 4207 and 4209: one visit, one page.
func pagedByVisit() []rule {
	return table(visitKey + `
		page_num             N4      Y 当前页数
		page_size            N4      Y 本页数据量
	`)
}

// The rules a violation names, in the simulator's own words: err_msg
// reads "<where>[<rule>] <label>(<path>)…".
const (
	ruleRequired = "必填"  // missing, null, empty or white space alone
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
	if r.required && simspec.Blank(v) {
		add(ruleRequired, "为必填项，只有空白字符(空格、全角空格、制表、换行或零宽字符): send "+describeRule(r))
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
