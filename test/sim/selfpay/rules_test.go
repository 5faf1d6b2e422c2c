package selfpay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/schemas"
)

// raw sends hand-made envelopes to a simulator, signed as the gateway wants,
// so that the envelope itself can break the rules (medgate's client checks
// its envelope before sending).
type raw struct {
	t   *testing.T
	url string
	seq atomic.Int64
}

func newRaw(t *testing.T, url string) *raw {
	r := &raw{t: t, url: url}
	r.seq.Store(9000) // above the client's sequence numbers
	return r
}

// msgid is a fresh msgid of the test institution.
func (r *raw) msgid() string {
	return code + time.Now().Format("20060102150405") + fmt.Sprintf("%04d", r.seq.Add(1))
}

// envelope is a valid envelope around input.
func (r *raw) envelope(infno string, input any) map[string]any {
	return map[string]any{
		"infno": infno, "msgid": r.msgid(), "mdtrtarea_admvs": "350200", "insuplc_admdvs": "", "recer_sys_code": "CSTEST",
		"dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "OP1",
		"opter_name": "接口", "inf_time": time.Now().Format(timeLayout), "fixmedins_code": code, "fixmedins_name": "示例医院",
		"sign_no": "", "input": input,
	}
}

// post sends body and returns the answer's infcode and err_msg.
func (r *raw) post(body []byte) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+"/", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := fmt.Sprintf("raw-%d", r.seq.Add(1))
	sum := sha256.Sum256([]byte(ts + token + nonce + ts))
	req.Header.Set("x-tif-paasid", paas)
	req.Header.Set("x-tif-timestamp", ts)
	req.Header.Set("x-tif-nonce", nonce)
	req.Header.Set("x-tif-signature", hex.EncodeToString(sum[:]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Infcode int    `json:"infcode"`
		ErrMsg  string `json:"err_msg"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != http.StatusOK {
		r.t.Fatalf("HTTP %d, %v", resp.StatusCode, err)
	}
	return ans.Infcode, ans.ErrMsg
}

func (r *raw) send(env map[string]any) (int, string) {
	r.t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.post(b)
}

func fee4204(id string, sns ...string) map[string]any {
	in := map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": id, "fixmedins_code": code}}
	if len(sns) > 0 {
		var l []any
		for _, sn := range sns {
			l = append(l, map[string]any{"bkkp_sn": sn})
		}
		in["feedetl"] = l
	}
	return in
}

func query(id string) map[string]any {
	return map[string]any{"fixmedins_mdtrt_id": id, "fixmedins_code": code, "page_num": 1, "page_size": 10}
}

// TestFieldRules: each kind of field rule (required, length, type, code
// list, date layout, unknown key), for every transaction served, is
// enforced by the simulator itself: infcode -1, an err_msg in its own
// words naming the rule, the field and its path, and nothing applied. The
// "ok" cases guard against rules stricter than the notes.
func TestFieldRules(t *testing.T) {
	t.Parallel()
	n := 0 // each line its own bkkp_sn, so that valid ones do not clash
	line := func(edit func(m map[string]any)) map[string]any {
		n++
		r := feeRow("R", n, "10")
		edit(r)
		return fees(r)
	}
	visit := func(edit func(mdtrt, diag map[string]any)) map[string]any {
		in := visitIn("R", "10")
		edit(in["ownPayPatnMdtrtD"].(map[string]any), in["ownPayPatnDiagListD"].([]any)[0].(map[string]any))
		return in
	}
	with := func(in map[string]any, k string, v any) map[string]any {
		in[k] = v
		return in
	}
	without := func(in map[string]any, k string) map[string]any {
		delete(in, k)
		return in
	}
	const certno = "350203198001011234"
	cases := map[string]struct {
		infno string
		in    any
		want  string // "" = accepted
	}{
		// 4201A 自费病人住院费用明细信息上传
		"4201A ok":                         {"4201A", line(func(m map[string]any) { m["cnt"], m["pric"] = "1.0000", json.Number("10.000000") }), ""},
		"4201A missing bkkp_sn":            {"4201A", line(func(m map[string]any) { delete(m, "bkkp_sn") }), "[必填] 记账流水号(fsiOwnpayPatnFeeListDDTO[0].bkkp_sn)"},
		"4201A empty med_type":             {"4201A", line(func(m map[string]any) { m["med_type"] = "" }), "[必填] 医疗类别(fsiOwnpayPatnFeeListDDTO[0].med_type)"},
		"4201A blank med_type":             {"4201A", line(func(m map[string]any) { m["med_type"] = "\u3000" }), "[必填] 医疗类别(fsiOwnpayPatnFeeListDDTO[0].med_type)为必填项，只有空白字符"},
		"4201A blank amount":               {"4201A", line(func(m map[string]any) { m["inscp_amt"] = " " }), "[必填] 符合政策范围金额(fsiOwnpayPatnFeeListDDTO[0].inscp_amt)"},
		"4201A blank fee_ocur_time":        {"4201A", line(func(m map[string]any) { m["fee_ocur_time"] = "\t\r\n" }), "[必填] 费用发生时间(fsiOwnpayPatnFeeListDDTO[0].fee_ocur_time)"},
		"4201A blank optional prodname":    {"4201A", line(func(m map[string]any) { m["prodname"] = "  " }), ""},
		"4201A null inscp_amt":             {"4201A", line(func(m map[string]any) { m["inscp_amt"] = nil }), "[必填] 符合政策范围金额(fsiOwnpayPatnFeeListDDTO[0].inscp_amt)"},
		"4201A med_type C6 too long":       {"4201A", line(func(m map[string]any) { m["med_type"] = "1234567" }), "[超长] 医疗类别(fsiOwnpayPatnFeeListDDTO[0].med_type)"},
		"4201A medins_list_name C100":      {"4201A", line(func(m map[string]any) { m["medins_list_name"] = strings.Repeat("药", 101) }), "[超长] 医药机构目录名称(fsiOwnpayPatnFeeListDDTO[0].medins_list_name)"},
		"4201A medins_list_name 100 chars": {"4201A", line(func(m map[string]any) { m["medins_list_name"] = strings.Repeat("药", 100) }), ""},
		"4201A cnt not a number":           {"4201A", line(func(m map[string]any) { m["cnt"] = "one" }), "[类型] 数量(fsiOwnpayPatnFeeListDDTO[0].cnt)"},
		"4201A amount with 3 decimals":     {"4201A", line(func(m map[string]any) { m["fulamt_ownpay_amt"] = "10.005" }), "[类型] 全自费金额(fsiOwnpayPatnFeeListDDTO[0].fulamt_ownpay_amt)"},
		"4201A pric N16,6 too large":       {"4201A", line(func(m map[string]any) { m["pric"] = "12345678901" }), "[超长] 单价(fsiOwnpayPatnFeeListDDTO[0].pric)"},
		"4201A med_list_codg a number":     {"4201A", line(func(m map[string]any) { m["med_list_codg"] = 42 }), "[类型] 医疗目录编码(fsiOwnpayPatnFeeListDDTO[0].med_list_codg)"},
		"4201A fee_ocur_time a date":       {"4201A", line(func(m map[string]any) { m["fee_ocur_time"] = "2025-03-26" }), "[格式] 费用发生时间(fsiOwnpayPatnFeeListDDTO[0].fee_ocur_time)"},
		"4201A misspelt key":               {"4201A", line(func(m map[string]any) { m["det_item_fee_sumamt_"] = "1" }), "[未定义] fsiOwnpayPatnFeeListDDTO[0].det_item_fee_sumamt_"},
		"4201A node not an array":          {"4201A", map[string]any{"fsiOwnpayPatnFeeListDDTO": feeRow("R", 1, "10")}, "[类型] 自费病人住院费用明细(fsiOwnpayPatnFeeListDDTO)"},
		"4201A no lines":                   {"4201A", fees(), "[必填] 自费病人住院费用明细(fsiOwnpayPatnFeeListDDTO)"},
		// 4202 自费病人住院就诊和诊断信息上传
		"4202 ok": {"4202", visit(func(m, _ map[string]any) {
			m["brdy"], m["age"], m["ipt_days"], m["tel"] = "1980-01-01", json.Number("45.5"), "3", "13812345678"
		}), ""},
		"4202 missing psn_name":      {"4202", visit(func(m, _ map[string]any) { delete(m, "psn_name") }), "[必填] 人员姓名(ownPayPatnMdtrtD.psn_name)"},
		"4202 blank psn_name":        {"4202", visit(func(m, _ map[string]any) { m["psn_name"] = "\u00a0\u200b" }), "[必填] 人员姓名(ownPayPatnMdtrtD.psn_name)"},
		"4202 blank visit":           {"4202", with(visitIn("R", "10"), "ownPayPatnMdtrtD", " "), "[必填] 自费病人就诊信息(ownPayPatnMdtrtD)"},
		"4202 blank optional brdy":   {"4202", visit(func(m, _ map[string]any) { m["brdy"] = " " }), "[格式] 出生日期(ownPayPatnMdtrtD.brdy)"},
		"4202 missing visit":         {"4202", without(visitIn("R", "10"), "ownPayPatnMdtrtD"), "[必填] 自费病人就诊信息(ownPayPatnMdtrtD)"},
		"4202 missing diagnoses":     {"4202", without(visitIn("R", "10"), "ownPayPatnDiagListD"), "[必填] 自费病人诊断信息(ownPayPatnDiagListD)"},
		"4202 certno C600 too long":  {"4202", visit(func(m, _ map[string]any) { m["certno"] = certno + strings.Repeat("9", 600) }), "[超长] 证件号码(ownPayPatnMdtrtD.certno)"},
		"4202 brdy not yyyy-MM-dd":   {"4202", visit(func(m, _ map[string]any) { m["brdy"] = "1980/01/01" }), "[格式] 出生日期(ownPayPatnMdtrtD.brdy)"},
		"4202 age N4,1 too large":    {"4202", visit(func(m, _ map[string]any) { m["age"] = "1000" }), "[超长] 年龄(ownPayPatnMdtrtD.age)"},
		"4202 ipt_days not whole":    {"4202", visit(func(m, _ map[string]any) { m["ipt_days"] = "1.5" }), "[类型] 住院天数(ownPayPatnMdtrtD.ipt_days)"},
		"4202 visit is a list":       {"4202", with(visitIn("R", "10"), "ownPayPatnMdtrtD", []any{}), "[类型] 自费病人就诊信息(ownPayPatnMdtrtD)"},
		"4202 diag_code missing":     {"4202", visit(func(_, dg map[string]any) { delete(dg, "diag_code") }), "[必填] 诊断代码(ownPayPatnDiagListD[0].diag_code)"},
		"4202 diag_srt_no a number":  {"4202", visit(func(_, dg map[string]any) { dg["diag_srt_no"] = 1 }), "[类型] 诊断排序号(ownPayPatnDiagListD[0].diag_srt_no)"},
		"4202 diag_srt_no C2":        {"4202", visit(func(_, dg map[string]any) { dg["diag_srt_no"] = "100" }), "[超长] 诊断排序号(ownPayPatnDiagListD[0].diag_srt_no)"},
		"4202 diag_time a date-time": {"4202", visit(func(_, dg map[string]any) { dg["diag_time"] = "2025-03-25T10:00:00" }), "[格式] 诊断时间(ownPayPatnDiagListD[0].diag_time)"},
		// 4203 自费病人就诊以及费用明细上传完成
		"4203 missing cplt_flag": {"4203", without(complete("R", "1"), "cplt_flag"), "[必填] 完成标志(cplt_flag)"},
		"4203 blank cplt_flag":   {"4203", with(complete("R", "1"), "cplt_flag", "\u3000"), "[必填] 完成标志(cplt_flag)"},
		"4203 cplt_flag 2":       {"4203", complete("R", "2"), `[代码] 完成标志(cplt_flag)值"2"不在代码表中`},
		"4203 cplt_flag number":  {"4203", with(complete("R", "1"), "cplt_flag", 1), "[类型] 完成标志(cplt_flag)"},
		"4203 mdtrt_id C30":      {"4203", complete(strings.Repeat("R", 31), "1"), "[超长] 医药机构就诊ID(fixmedins_mdtrt_id)"},
		// 4204 自费病人住院费用明细删除
		"4204 missing visit id":  {"4204", map[string]any{"feedetail": map[string]any{"fixmedins_code": code}}, "[必填] 医药机构就诊ID(feedetail.fixmedins_mdtrt_id)"},
		"4204 missing feedetail": {"4204", map[string]any{"feedetl": []any{map[string]any{"bkkp_sn": "R-1"}}}, "[必填] 费用明细所属就诊(feedetail)"},
		"4204 bkkp_sn C30":       {"4204", fee4204("R", strings.Repeat("9", 31)), "[超长] 记账流水号(feedetl[0].bkkp_sn)"},
		"4204 feedetl a row":     {"4204", with(fee4204("R"), "feedetl", map[string]any{"bkkp_sn": "R-1"}), "[类型] 待删除的费用明细(feedetl)"},
		"4204 feedetI typo":      {"4204", with(fee4204("R"), "feedetI", []any{}), "[未定义] feedetI"},
		// 4207 自费病人就医费用明细查询
		"4207 ok":                {"4207", query("R"), ""},
		"4207 page_num N4":       {"4207", with(query("R"), "page_num", 10000), "[超长] 当前页数(page_num)"},
		"4207 page_size not num": {"4207", with(query("R"), "page_size", "ten"), "[类型] 本页数据量(page_size)"},
		"4207 missing page_size": {"4207", without(query("R"), "page_size"), "[必填] 本页数据量(page_size)"},
		"4207 blank page_num":    {"4207", with(query("R"), "page_num", " "), "[必填] 当前页数(page_num)"},
		"4207 missing mdtrt id":  {"4207", without(query("R"), "fixmedins_mdtrt_id"), "[必填] 医药机构就诊ID(fixmedins_mdtrt_id)"},
		"4207 input not object":  {"4207", []any{query("R")}, "[类型] input"},
		// 4208 自费病人就医就诊信息查询
		"4208 ok":                 {"4208", map[string]any{"certno": certno, "cplt_flag": "1", "begntime": "2025-03-25 00:00:00", "page_num": 1, "page_size": 10}, ""},
		"4208 cplt_flag Y":        {"4208", map[string]any{"cplt_flag": "Y", "page_num": 1, "page_size": 10}, `[代码] 完成标志(cplt_flag)值"Y"不在代码表中`},
		"4208 missing page_num":   {"4208", map[string]any{"page_size": 10}, "[必填] 当前页数(page_num)"},
		"4208 medfee_sumamt text": {"4208", map[string]any{"medfee_sumamt": "十元", "page_num": 1, "page_size": 10}, "[类型] 医疗总费用(medfee_sumamt)"},
		"4208 endtime a date":     {"4208", map[string]any{"endtime": "2025-03-26", "page_num": 1, "page_size": 10}, "[格式] 结束时间(endtime)"},
		"4208 psn_name C50":       {"4208", map[string]any{"psn_name": strings.Repeat("名", 51), "page_num": 1, "page_size": 10}, "[超长] 人员姓名(psn_name)"},
		// 4209 自费病人就医诊断信息查询
		"4209 ok":                {"4209", query("R"), ""},
		"4209 missing code":      {"4209", without(query("R"), "fixmedins_code"), "[必填] 定点医药机构编号(fixmedins_code)"},
		"4209 page_num fraction": {"4209", with(query("R"), "page_num", 1.5), "[类型] 当前页数(page_num)"},
		// 9001 签到
		"9001 ok":           {"9001", map[string]any{"signIn": map[string]any{"opter_no": "OP1", "mac": "00:16:3e:00:00:01", "ip": "10.0.0.8"}}, ""},
		"9001 missing node": {"9001", map[string]any{}, "[必填] 签到信息(signIn)"},
		"9001 mac C20":      {"9001", map[string]any{"signIn": map[string]any{"opter_no": "OP1", "mac": strings.Repeat("0", 21), "ip": "10.0.0.8"}}, "[超长] 签到MAC地址(signIn.mac)"},
		"9001 missing ip":   {"9001", map[string]any{"signIn": map[string]any{"opter_no": "OP1", "mac": "00:16:3e:00:00:01"}}, "[必填] 签到IP地址(signIn.ip)"},
	}
	f := newFixture(t, Options{}, nil)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.do(tc.infno, tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("a valid %s input was refused: %v", tc.infno, err)
				}
				return
			}
			refused(t, err, "入参校验失败: "+tc.want)
			var be *hsa.BusinessError
			if errors.As(err, &be) && be.Infcode != -1 {
				t.Errorf("infcode %d, want -1", be.Infcode)
			}
			if strings.Contains(be.Message, certno) {
				t.Errorf("the refusal echoes the certno: %s", be.Message)
			}
		})
	}
	// Nothing refused was applied: visit R holds the lines of the three
	// valid 4201A and the valid 4202.
	if v := f.sim.Visit(code, "R"); len(v.Fees) != 3 || !v.VisitUploaded || v.Complete {
		t.Errorf("visit R after the refusals: %+v", v)
	}
}

// TestEnvelopeRules: the envelope's own rules (notes §1), sent by hand
// because medgate's client checks its envelope before sending.
func TestEnvelopeRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, nil)
	r := newRaw(t, f.url)
	in := query("E")
	cases := map[string]struct {
		edit func(env map[string]any)
		want string // "" = accepted
	}{
		"ok":                     {func(map[string]any) {}, ""},
		"Fujian fields":          {func(e map[string]any) { e["app_id"], e["enc_type"] = "app-1", "" }, ""},
		"missing recer_sys_code": {func(e map[string]any) { delete(e, "recer_sys_code") }, "[必填] 接收方系统代码(recer_sys_code)"},
		"empty opter_name":       {func(e map[string]any) { e["opter_name"] = "" }, "[必填] 经办人姓名(opter_name)"},
		"blank opter_name":       {func(e map[string]any) { e["opter_name"] = "\u3000" }, "[必填] 经办人姓名(opter_name)为必填项，只有空白字符"},
		"blank dev_no":           {func(e map[string]any) { e["dev_no"] = " " }, ""},
		"opter_type 9":           {func(e map[string]any) { e["opter_type"] = "9" }, `[代码] 经办人类别(opter_type)值"9"不在代码表中`},
		"enc_type AES":           {func(e map[string]any) { e["enc_type"] = "AES" }, `[代码] 加密方式(enc_type)值"AES"不在代码表中`},
		"infver C6":              {func(e map[string]any) { e["infver"] = "V1.0.0.1" }, "[超长] 接口版本号(infver)"},
		"mdtrtarea_admvs C6":     {func(e map[string]any) { e["mdtrtarea_admvs"] = "3502001" }, "[超长] 就医地医保区划(mdtrtarea_admvs)"},
		"inf_time ISO":           {func(e map[string]any) { e["inf_time"] = "2025-04-01T09:30:00" }, "[格式] 交易时间(inf_time)"},
		"infver a number":        {func(e map[string]any) { e["infver"] = 1 }, "[类型] 接口版本号(infver)"},
		"unknown envelope key":   {func(e map[string]any) { e["opter_tpye"] = "1" }, "[未定义] opter_tpye"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			env := r.envelope("4207", in)
			tc.edit(env)
			infcode, msg := r.send(env)
			if tc.want == "" {
				if infcode != 0 {
					t.Fatalf("a valid envelope was refused: %d %s", infcode, msg)
				}
				return
			}
			if infcode != -1 || !strings.Contains(msg, "报文头校验失败: "+tc.want) {
				t.Fatalf("infcode %d, err_msg %q; want -1 and %q", infcode, msg, tc.want)
			}
		})
	}
}

// capture records the last request body of each infno on its way to h.
type capture struct {
	h      http.Handler
	mu     sync.Mutex
	bodies map[string][]byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var env struct {
		Infno string `json:"infno"`
	}
	if json.Unmarshal(b, &env) == nil && env.Infno != "" {
		c.mu.Lock()
		c.bodies[env.Infno] = b
		c.mu.Unlock()
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	c.h.ServeHTTP(w, r)
}

// loosened returns medgate's own schemas with one required flag dropped
// from selfpay/<infno>.yaml (the first "required: true" after "- name:
// <field>"), as a wrong edit of schemas/selfpay or a site overlay would.
func loosened(t *testing.T, infno, field string) *schemas.Set {
	t.Helper()
	b, err := fs.ReadFile(schemas.EmbeddedFS(), "selfpay/"+infno+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	at := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "- name: "+field {
			at = i
			break
		}
	}
	for i := at + 1; at >= 0 && i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "- name:"); i++ {
		if strings.TrimSpace(lines[i]) == "required: true" {
			lines = append(lines[:i], lines[i+1:]...)
			at = -2
			break
		}
	}
	if at != -2 {
		t.Fatalf("selfpay/%s.yaml: no required %s to drop", infno, field)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "selfpay"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "selfpay", infno+".yaml"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := hsa.Schemas(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestAdapterRequestWithoutRequiredField: a request medgate's client
// produced and the simulator accepted, with one required field taken out,
// is refused by the simulator, though medgate's own schema, loosened as a
// wrong edit of schemas/selfpay would loosen it, lets the stripped input
// through: the simulator's rules are its own.
func TestAdapterRequestWithoutRequiredField(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		infno string
		in    map[string]any
		path  []string // to the field, through objects; an int-like "0" is a row
		want  string
	}{
		"4201A bkkp_sn":      {"4201A", fees(feeRow("W", 1, "10")), []string{"fsiOwnpayPatnFeeListDDTO", "0", "bkkp_sn"}, "[必填] 记账流水号(fsiOwnpayPatnFeeListDDTO[0].bkkp_sn)"},
		"4201A med_type":     {"4201A", fees(feeRow("W", 1, "10")), []string{"fsiOwnpayPatnFeeListDDTO", "0", "med_type"}, "[必填] 医疗类别(fsiOwnpayPatnFeeListDDTO[0].med_type)"},
		"4202 psn_name":      {"4202", visitIn("W", "10"), []string{"ownPayPatnMdtrtD", "psn_name"}, "[必填] 人员姓名(ownPayPatnMdtrtD.psn_name)"},
		"4202 medfee_sumamt": {"4202", visitIn("W", "10"), []string{"ownPayPatnMdtrtD", "medfee_sumamt"}, "[必填] 医疗总费用(ownPayPatnMdtrtD.medfee_sumamt)"},
		"4203 cplt_flag":     {"4203", complete("W", "0"), []string{"cplt_flag"}, "[必填] 完成标志(cplt_flag)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Options{}, nil)
			cp := &capture{h: f.sim, bodies: map[string][]byte{}}
			srv := httptest.NewServer(cp)
			t.Cleanup(srv.Close)
			cfg := hsa.Defaults()
			cfg.BaseURL, cfg.FixmedinsCode, cfg.FixmedinsName, cfg.MdtrtareaAdmvs = srv.URL+"/", code, "示例医院", "350200"
			cfg.RecerSysCode, cfg.Opter, cfg.OpterName, cfg.PaasID, cfg.Token = "CSTEST", "OP1", "接口", paas, token
			c, err := hsa.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			f.client = c
			if tc.infno == "4203" { // 4203 needs a visit to act on
				if _, err := f.do("4201A", fees(feeRow("W", 1, "10"))); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.do(tc.infno, tc.in); err != nil {
				t.Fatalf("the client's valid %s was refused: %v", tc.infno, err)
			}
			var env map[string]any
			dec := json.NewDecoder(bytes.NewReader(cp.bodies[tc.infno]))
			dec.UseNumber()
			if err := dec.Decode(&env); err != nil {
				t.Fatal(err)
			}
			// Take the field out of what was sent.
			var node any = env["input"]
			for _, k := range tc.path[:len(tc.path)-1] {
				if i, err := strconv.Atoi(k); err == nil {
					node = node.([]any)[i]
				} else {
					node = node.(map[string]any)[k]
				}
			}
			delete(node.(map[string]any), tc.path[len(tc.path)-1])
			// medgate's rules, loosened, would let it through.
			sc, ok := loosened(t, tc.infno, tc.path[len(tc.path)-1]).Get("selfpay", tc.infno)
			if !ok {
				t.Fatalf("no selfpay/%s schema", tc.infno)
			}
			if errs := sc.ValidateInput(env["input"]); errs != nil {
				t.Fatalf("the loosened schema refuses the stripped input: %v", errs)
			}
			r := newRaw(t, srv.URL)
			env["msgid"] = r.msgid()
			infcode, msg := r.send(env)
			if infcode != -1 || !strings.Contains(msg, "入参校验失败: "+tc.want) {
				t.Fatalf("infcode %d, err_msg %q; want -1 and %q", infcode, msg, tc.want)
			}
		})
	}
}
