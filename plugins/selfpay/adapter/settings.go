package adapter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
)

// Self-pay setting names (the envelope's are in package hsa).
const (
	SetBatchSize         = "batchSize"
	SetPageSize          = "pageSize"
	SetSchemaDir         = "schemaDir"
	SetPendingColumns    = "pendingColumns"
	SetCheckTotals       = "checkTotals"
	SetClaimLapse        = "claimLapse"
	SetNothingToDelete   = "nothingToDelete"
	SetNothingToReopen   = "nothingToReopen"
	SetTransientRefusals = "transientRefusals"
	SetPartsKeep         = "partsKeep"
)

// DefaultNothingToDelete lists the phrases of err_msg with which the
// platform refuses a 4204 that finds no fee detail to delete (the
// simulator's 未查询到自费病人住院费用明细 among them). The platform's
// wording is not public (spec notes §6): these are specific to fee
// details, so that a refusal for another cause (a sign-in, a signature,
// malformed input: "签到信息不存在" contains 不存在) is not taken for one.
const DefaultNothingToDelete = "未查询到自费病人住院费用明细|未查询到费用明细|费用明细不存在|不存在费用明细|无费用明细|无可删除|没有可删除|无数据"

// DefaultNothingToReopen lists the phrases of err_msg with which the
// platform refuses a 4203 cplt_flag=0 (the first step of a re-upload)
// because the visit is not complete, so there is nothing to undo. The
// platform's wording is not public (spec notes §6): these name the
// completion state, so that a refusal for another cause (a signature, a
// sign-in, malformed input, a visit it does not know: 未查询到该就诊信息)
// is not taken for one.
const DefaultNothingToReopen = "未完成状态|非完成状态|不是完成状态|未上传完成|尚未完成|已是未完成|已为未完成|无需撤销|无需取消完成|无需撤回"

// DefaultTransientRefusals lists the phrases of err_msg with which the
// platform refuses a call for a passing reason (busy, rate limited),
// so that it is tried again rather than ended rejected. They are a
// reading, not the platform's wording, which is not public (spec notes
// §6): the words busy or rate-limited services commonly use, none naming
// anything about the data, so that a refusal of the data is not retried
// for ever (the host never gives an upload up). A site replaces them
// with the access document's wording once known.
const DefaultTransientRefusals = "系统繁忙|服务繁忙|稍后再试|稍后重试|请求过于频繁|访问过于频繁"

// DefaultPendingColumns maps the columns of a pending list exported from
// the medical-insurance system to fields: FIELD=HEADER|HEADER…, separated
// by ";". The header row is the first row (of the first ten) naming at
// least two of the headers. Names are matched without surrounding spaces.
const DefaultPendingColumns = "fixmedins_mdtrt_id=医药机构就诊ID|就诊ID|医药机构就诊流水号|住院号|fixmedins_mdtrt_id;" +
	"psn_name=姓名|人员姓名|患者姓名|psn_name;" +
	"certno=证件号码|身份证号|身份证号码|公民身份号码|certno;" +
	"psn_cert_type=证件类型|人员证件类型|psn_cert_type;" +
	"begntime=入院时间|入院日期|开始时间|begntime;" +
	"endtime=出院时间|出院日期|结束时间|endtime;" +
	"medfee_sumamt=医疗总费用|总费用|总金额|medfee_sumamt"

// pendingFields are the fields a pending list may map.
var pendingFields = []string{"fixmedins_mdtrt_id", "psn_name", "certno", "psn_cert_type", "begntime", "endtime", "medfee_sumamt"}

// options are the self-pay settings of one site.
type options struct {
	batchSize   int
	pageSize    int
	schemaDir   string
	columns     map[string][]string // field → header names
	checkTotals bool
	claimLapse  time.Duration
	// partsKeep is how long the parts of a stay sent in parts are kept
	// after the last one while the set is unfinished (parts.go).
	partsKeep time.Duration
	// nothingCodes and nothingPhrases are the refusals of the 4204 before
	// an upload that mean there was nothing to delete (nothingToDelete).
	nothingCodes   []int
	nothingPhrases []string
	// reopenCodes and reopenPhrases are the refusals of the 4203
	// cplt_flag=0 before a re-upload or a cancel's 4204 that mean the
	// visit was not complete (nothingToReopen).
	reopenCodes   []int
	reopenPhrases []string
	// transientCodes and transientPhrases are the refusals of any call
	// that mean a passing cause, not the data (transientRefusals).
	transientCodes   []int
	transientPhrases []string
}

// transientRefusal tells whether a refusal (infcode, err_msg) is one of
// the listed ones meaning a passing cause (the platform busy): the call
// was not run and is tried again.
func (o options) transientRefusal(infcode int, msg string) bool {
	return listedRefusal(o.transientCodes, o.transientPhrases, infcode, msg)
}

// nothingToDelete tells whether a refusal (infcode, err_msg) of the 4204
// that clears a visit before its upload is one of the listed ones meaning
// there was nothing to delete.
func (o options) nothingToDelete(infcode int, msg string) bool {
	return listedRefusal(o.nothingCodes, o.nothingPhrases, infcode, msg)
}

// nothingToReopen tells whether a refusal (infcode, err_msg) of the 4203
// cplt_flag=0 that opens a visit before its re-upload (or a cancel's
// 4204) is one of the listed ones meaning the visit was not complete.
func (o options) nothingToReopen(infcode int, msg string) bool {
	return listedRefusal(o.reopenCodes, o.reopenPhrases, infcode, msg)
}

// listedRefusal tells whether infcode is one of codes or msg contains
// one of phrases.
func listedRefusal(codes []int, phrases []string, infcode int, msg string) bool {
	for _, c := range codes {
		if c == infcode {
			return true
		}
	}
	for _, p := range phrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// parseRefusals reads CODE|PHRASE|… (nothingToDelete, nothingToReopen):
// a whole number is an infcode, anything else a phrase of err_msg. 0
// (success) and -1 (every refusal, 失败) would make any refusal pass and
// are refused; meaning says what a listed refusal means.
func parseRefusals(s, meaning string) (codes []int, phrases []string, err error) {
	for _, e := range strings.Split(s, "|") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if n, cerr := strconv.Atoi(e); cerr == nil {
			if n == 0 || n == -1 {
				return nil, nil, fmt.Errorf("infcode %d is not a refusal meaning %s (0 is success, -1 any failure); list the code or a phrase of the message the platform answers when %s", n, meaning, meaning)
			}
			codes = append(codes, n)
			continue
		}
		phrases = append(phrases, e)
	}
	return codes, phrases, nil
}

// Bounds of claimLapse. The shortest must outlast the longest gap between
// two attempts of a message in progress (the host's callTimeout plus
// maxBackoff, or a circuit breaker's cooldown: about 1.5 minutes with
// the host's defaults), or a live workflow's claim would be taken over
// and two workflows of a visit interleave; beyond a day a visit given up
// on stays blocked past any use.
const (
	defaultClaimLapse = 30 * time.Minute
	minClaimLapse     = 5 * time.Minute
	maxClaimLapse     = 24 * time.Hour
)

// Bounds of partsKeep: the parts of one stay follow each other within
// seconds, but a HIS stopped part-way may need a working day to send the
// rest; beyond a month an unfinished set only takes space.
const (
	defaultPartsKeep = 24 * time.Hour
	minPartsKeep     = time.Hour
	maxPartsKeep     = 30 * 24 * time.Hour
)

func settings() []sdk.Setting {
	own := []sdk.Setting{
		{Name: SetBatchSize, Type: sdk.SettingInt, Default: "50", Description: "每次 4201A 调用最多的费用明细条数；调用也保持在 maxInputChars 以内。most fee lines per 4201A call; calls are also kept under maxInputChars"},
		{Name: SetPageSize, Type: sdk.SettingInt, Default: "100", Description: "medgate 为核对和校验发出的 4207/4208/4209 查询的每页条数 page_size。page_size of the 4207/4208/4209 queries medgate makes to reconcile and verify"},
		{Name: SetSchemaDir, Type: sdk.SettingPath, Description: "覆盖内置模式文件的目录（selfpay/<code>.yaml、envelope/request.yaml …）。directory of schema files overriding the built-in ones (selfpay/<code>.yaml, envelope/request.yaml …)"},
		{Name: SetPendingColumns, Type: sdk.SettingString, Default: DefaultPendingColumns,
			Description: "待上传自费名单的列：FIELD=表头|表头;…，字段有 fixmedins_mdtrt_id、psn_name、certno、psn_cert_type、begntime、endtime、medfee_sumamt；同一名单中一个字段有多个表头时，取列在前面的那个。columns of the pending self-pay list: FIELD=HEADER|HEADER;… for fixmedins_mdtrt_id, psn_name, certno, psn_cert_type, begntime, endtime, medfee_sumamt; of a field's headers found in one list, the one listed first is used"},
		{Name: SetCheckTotals, Type: sdk.SettingBool, Default: "true", Description: "费用明细合计与就诊的 medfee_sumamt 不符时拒绝上传。refuse an upload whose fee lines do not add up to the visit's medfee_sumamt"},
		{Name: SetClaimLapse, Type: sdk.SettingDuration, Default: "30m",
			Description: "消息对其就诊的占用（每次就诊一个流程）在最后一次尝试后保持多久（以防消息不再被处理：放弃、进入 DLQ）；5m 到 24h，且须长于主机的 processing.callTimeout 加 processing.maxBackoff；默认值为主机默认的 uploadDeadline。how long a message's claim on its visit (one workflow per visit) holds after its last attempt, should the message stop being tried (given up on, in the DLQ); " +
				"from 5m to 24h, and longer than the host's processing.callTimeout plus processing.maxBackoff; the default is the host's default uploadDeadline"},
		{Name: SetPartsKeep, Type: sdk.SettingDuration, Default: "24h",
			Description: "分几条消息发送的住院（selfpay.upload 带 part）未收齐时，最后一部分到达后保留多久；过期后整套丢弃，之后到达的部分被拒绝，须从第 1 部分重新发送；1h 到 720h。how long the parts of a stay sent in several selfpay.upload messages (part) are kept after the last one received while the set is unfinished; " +
				"then the set is dropped, a later part of it is refused, and the stay must be sent again from part 1; 1h to 720h"},
		{Name: SetNothingToDelete, Type: sdk.SettingString, Default: DefaultNothingToDelete,
			Description: "上传前清除就诊明细的 4204 被拒绝时，表示“本来就没有可删除的”的拒绝，格式 CODE|PHRASE|…：infcode（不是 0 或 -1）或 err_msg 中的短语；其他拒绝只有在 4207 显示该就诊没有费用明细时才容忍，否则上传以 rejected 结束。refusals of the 4204 that clears a visit before its upload meaning there was nothing to delete, CODE|PHRASE|…: an infcode (not 0 or -1) or a phrase of err_msg; " +
				"another refusal is tolerated only when 4207 shows the visit has no fee details, and otherwise ends the upload rejected"},
		{Name: SetNothingToReopen, Type: sdk.SettingString, Default: DefaultNothingToReopen,
			Description: "重新上传前、或 selfpay.cancel 删除明细前，用 4203 cplt_flag=0 打开就诊时，表示“就诊本来未完成”的拒绝，格式 CODE|PHRASE|…：infcode（不是 0 或 -1）或 err_msg 中的短语；其他拒绝只有在 4208 显示该就诊未完成（cpltFlag 0）时才容忍，否则上传或撤销以 rejected 结束。refusals of the 4203 cplt_flag=0 that opens a visit before its re-upload, or before selfpay.cancel deletes its details, meaning the visit was not complete, CODE|PHRASE|…: an infcode (not 0 or -1) or a phrase of err_msg; " +
				"another refusal is tolerated only when 4208 shows the visit not complete (cpltFlag 0), and otherwise ends the upload or cancel rejected"},
		{Name: SetTransientRefusals, Type: sdk.SettingString, Default: DefaultTransientRefusals,
			Description: "表示暂时原因（平台繁忙、限流）而非数据错误的拒绝，格式 CODE|PHRASE|…：infcode（不是 0 或 -1）或 err_msg 中的短语；这样被拒绝的调用以 failed（可重试）结束，下次尝试从该步骤继续，其他拒绝以 rejected 结束。默认短语是推测（平台的措辞未公开），取得接入文档后按其措辞和代码替换。不要列出表示数据错误的拒绝：上传会一直重试。refusals meaning a passing cause (the platform busy, rate limited), not the data, CODE|PHRASE|…: an infcode (not 0 or -1) or a phrase of err_msg; " +
				"a call refused so ends the attempt failed, retryable, and the next attempt goes on from that step; any other refusal ends the message rejected. The default phrases are a reading (the platform's wording is not public): replace them with the access document's wording and codes once known. Do not list a refusal of the data: an upload would be retried for ever"},
	}
	return append(hsa.Settings(), own...)
}

func parseOptions(s map[string]string) (options, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	o := options{batchSize: 50, pageSize: 100, checkTotals: true, claimLapse: defaultClaimLapse, partsKeep: defaultPartsKeep}
	intSetting := func(name string, dst *int, lo, hi int) {
		v := strings.TrimSpace(s[name])
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			ds.Error(name, "range", fmt.Sprintf("%q is not a whole number from %d to %d", v, lo, hi), fmt.Sprintf("write a number from %d to %d", lo, hi))
			return
		}
		*dst = n
	}
	intSetting(SetBatchSize, &o.batchSize, 1, 500)
	intSetting(SetPageSize, &o.pageSize, 1, 9999)
	o.schemaDir = strings.TrimSpace(s[SetSchemaDir])
	if v := strings.TrimSpace(s[SetCheckTotals]); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			ds.Error(SetCheckTotals, "type", fmt.Sprintf("%q is not true or false", v), "write true or false")
		}
		o.checkTotals = b
	}
	if v := strings.TrimSpace(s[SetClaimLapse]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minClaimLapse || d > maxClaimLapse {
			ds.Error(SetClaimLapse, "range", fmt.Sprintf("%q is not a duration from 5m to 24h", v),
				"write a duration from 5m to 24h (e.g. \"30m\"), longer than the host's processing.callTimeout plus processing.maxBackoff, or leave it out for the default 30m")
		} else {
			o.claimLapse = d
		}
	}
	if v := strings.TrimSpace(s[SetPartsKeep]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minPartsKeep || d > maxPartsKeep {
			ds.Error(SetPartsKeep, "range", fmt.Sprintf("%q is not a duration from 1h to 720h", v),
				"write a duration from 1h to 720h (e.g. \"24h\"), or leave it out for the default 24h")
		} else {
			o.partsKeep = d
		}
	}
	ntd := s[SetNothingToDelete]
	if strings.TrimSpace(ntd) == "" {
		ntd = DefaultNothingToDelete
	}
	var nerr error
	if o.nothingCodes, o.nothingPhrases, nerr = parseRefusals(ntd, "there is nothing to delete"); nerr != nil {
		ds.Error(SetNothingToDelete, "format", "cannot read the 4204 refusals meaning nothing to delete", nerr.Error())
	}
	ntr := s[SetNothingToReopen]
	if strings.TrimSpace(ntr) == "" {
		ntr = DefaultNothingToReopen
	}
	if o.reopenCodes, o.reopenPhrases, nerr = parseRefusals(ntr, "the visit is not complete"); nerr != nil {
		ds.Error(SetNothingToReopen, "format", "cannot read the 4203 cplt_flag=0 refusals meaning the visit is not complete", nerr.Error())
	}
	tr := s[SetTransientRefusals]
	if strings.TrimSpace(tr) == "" {
		tr = DefaultTransientRefusals
	}
	if o.transientCodes, o.transientPhrases, nerr = parseRefusals(tr, "a passing cause"); nerr != nil {
		ds.Error(SetTransientRefusals, "format", "cannot read the refusals meaning a passing cause", nerr.Error())
	}
	cols := s[SetPendingColumns]
	if strings.TrimSpace(cols) == "" {
		cols = DefaultPendingColumns
	}
	var err error
	if o.columns, err = parseColumns(cols); err != nil {
		ds.Error(SetPendingColumns, "format", "cannot read the pending-list columns", err.Error())
	}
	return o, ds
}

// parseColumns reads FIELD=HEADER|HEADER;…
func parseColumns(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		field, headers, ok := strings.Cut(part, "=")
		field = strings.TrimSpace(field)
		if !ok || field == "" {
			return nil, fmt.Errorf("%q is not FIELD=HEADER|HEADER; write e.g. psn_name=姓名|人员姓名", part)
		}
		known := false
		for _, f := range pendingFields {
			known = known || f == field
		}
		if !known {
			return nil, fmt.Errorf("field %q is not one of %s", field, strings.Join(pendingFields, ", "))
		}
		for _, h := range strings.Split(headers, "|") {
			if h = strings.TrimSpace(h); h != "" {
				out[field] = append(out[field], h)
			}
		}
	}
	if len(out["fixmedins_mdtrt_id"]) == 0 && len(out["certno"]) == 0 {
		return nil, fmt.Errorf("map fixmedins_mdtrt_id or certno to a column: medgate matches patients by one of them")
	}
	return out, nil
}
