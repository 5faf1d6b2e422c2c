package adapter_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

type exportReply struct {
	Path       string           `json:"path"`
	FileName   string           `json:"fileName"`
	Size       int64            `json:"size"`
	SHA256     string           `json:"sha256"`
	From       string           `json:"from"`
	To         string           `json:"to"`
	Sheets     []string         `json:"sheets"`
	Rows       map[string]int64 `json:"rows"`
	Base64     string           `json:"base64"`
	DurationMS int64            `json:"durationMs"`
	InlineNote string           `json:"inlineNote"`
	Artifact   string           `json:"artifact"`
}

// seeded tells what seed did with the fetched documents' drafts: first was
// adjusted and confirmed (before is how it was fetched), second adjusted.
type seeded struct {
	first, second string
	before        draftView
}

// seed fills a site with token operations, uploads on two days, fetched
// stock-in documents with their sub-codes, a medical-insurance upload,
// adjusted and confirmed drafts and code-hierarchy queries.
func seed(t *testing.T, e *env) seeded {
	t.Helper()
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-A", "102",
		line(1, "2", drugCode("8100001", 1), drugCode("8100001", 2)), line(2, "1", "(01)06901234567892(21)0007"))), sdk.StatusOK)
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-A", "202", line(1, "1", drugCode("8100001", 1)))), sdk.StatusOK)
	old := bill("RK-OLD", "102", line(1, "1", drugCode("8100002", 1)))
	old["billTime"] = "2026-11-20 08:00:00"
	must[uploadReply](t, e.send(adapter.OpStockInUpload, old), sdk.StatusOK)
	fetched := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "RK-A"}), sdk.StatusOK)
	e.sim.ExpireTokens()
	must[map[string]any](t, e.send(adapter.OpCodesByBill, map[string]string{"billNo": "RK-A"}), sdk.StatusOK)
	if len(fetched.Drafts) < 2 {
		t.Fatalf("the fetch made %d drafts; the seed needs two", len(fetched.Drafts))
	}
	// A draft adjusted twice and confirmed, another adjusted and left open;
	// the clock moves so that every step has its own time.
	first, second := fetched.Drafts[0], fetched.Drafts[1]
	d := must[draftView](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": first}), sdk.StatusOK)
	e.clock.Add(90*time.Second + 700*time.Millisecond)
	must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": first, "by": "0107 李药师", "reason": "实收少一盒",
		"changes": []map[string]any{{"op": "setQty", "lineNo": d.Lines[0].LineNo, "qty": "1"}, {"op": "setField", "lineNo": d.Lines[0].LineNo, "field": "itemCode", "value": "YP9999"}}}), sdk.StatusOK)
	e.clock.Add(time.Minute)
	must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": first, "by": "0107 李药师",
		"changes": []map[string]any{{"op": "removeCodes", "lineNo": d.Lines[0].LineNo, "codes": d.Lines[0].Codes[:1]}}}), sdk.StatusOK)
	for _, l := range d.Lines {
		if l.ItemCode == "" {
			must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": first, "by": "0107 李药师",
				"changes": []map[string]any{{"op": "setField", "lineNo": l.LineNo, "field": "itemCode", "value": "YP0100"}}}), sdk.StatusOK)
		}
	}
	e.clock.Add(time.Minute)
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": first, "by": "0201 王主任"}), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": second, "by": "0108 张药师",
		"changes": []map[string]any{{"op": "setField", "lineNo": 1, "field": "batchNo", "value": "B-NEW"}}}), sdk.StatusOK)
	// Hierarchy queries: one by document (the fetch already made one per
	// new document) and one of a single code.
	must[map[string]any](t, e.send(adapter.OpCodesSmallest, map[string]string{"billNo": billOf(second)}), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpCodeSmallest, map[string]string{"code": d.Lines[0].Codes[0]}), sdk.StatusOK)
	return seeded{first: first, second: second, before: d}
}

// expected rebuilds, from the state, what each sheet must hold for the
// days 2026-11-25 and 2026-11-26 (source "" = both).
func expected(t *testing.T, e *env, source string) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for _, s := range e.state("log/token/2026112") {
		var m struct {
			At, ExpiresAt, Action, Reason, Trigger, MessageID, Error, Subject string
			OK                                                                bool
			DurationMS                                                        int64
		}
		_ = json.Unmarshal(s.Value, &m)
		result := "成功"
		if !m.OK {
			result = "失败"
		}
		action := map[string]string{"issue": "获取令牌", "refresh": "刷新令牌", "invalidate": "令牌作废"}[m.Action]
		reason := map[string]string{"first use": "首次使用", "expires soon": "即将过期", "authentication error": "认证失败"}[m.Reason]
		out["令牌操作日志"] = append(out["令牌操作日志"], trim([]string{local(m.At), action, reason, result, local(m.ExpiresAt), strconv.FormatInt(m.DurationMS, 10), m.Trigger, m.MessageID, m.Error, m.Subject}))
	}
	expectedQueries(t, e, out)
	expectedDrafts(t, e, out)
	srcLabel := map[string]string{"up": "医院上传", "in": "平台入库数据"}
	kinds := map[string]string{"drug": "药品追溯码", "gs1": "GS1耗材码", "other": "其他码"}
	for _, s := range append(e.state("log/doc/20261125/"), e.state("log/doc/20261126/")...) {
		var d struct {
			DocNo, Source, Direction, BillType, BillTime, FromOrgCode, FromOrgName, ToOrgCode, ToOrgName, Operator, Status, StatusText, MIStatus string
			Duplicate, Scoped                                                                                                                    bool
			Chunks                                                                                                                               int
			CodesVersion                                                                                                                         string
			Lines                                                                                                                                []struct {
				LineNo                                                                                                      int
				ItemCode, MedListCode, ItemName, Spec, Manufacturer, BatchNo, ProduceDate, ExpiryDate, Qty, Unit, PackRatio string
				CodeCount                                                                                                   int
			}
		}
		_ = json.Unmarshal(s.Value, &d)
		if source != "" && d.Source != source {
			continue
		}
		billType := map[string]string{"102": "102 采购入库", "202": "202 退货出库", "209": "209 供应出库"}[d.BillType]
		status := map[string]string{"uploaded": "已上传", "fetched": "已获取"}[d.Status]
		mi := map[string]string{"ok": "成功", "": ""}[d.MIStatus]
		org := func(code, name string) string {
			switch {
			case code == "":
				return name
			case name == "":
				return code
			}
			return name + " (" + code + ")"
		}
		lines := map[int]int{}
		for i, l := range d.Lines {
			lines[l.LineNo] = i
			out["出入库数据"] = append(out["出入库数据"], trim([]string{d.BillTime[:10], d.BillTime, d.DocNo, srcLabel[d.Source], map[string]string{"in": "入库", "out": "出库"}[d.Direction],
				billType, org(d.FromOrgCode, d.FromOrgName), org(d.ToOrgCode, d.ToOrgName), d.Operator, strconv.Itoa(l.LineNo), l.ItemCode, l.MedListCode,
				l.ItemName, l.Spec, l.Manufacturer, l.BatchNo, l.ProduceDate, l.ExpiryDate, l.Qty, l.Unit, l.PackRatio, strconv.Itoa(l.CodeCount), status, d.StatusText, mi}))
		}
		for c := 0; c < d.Chunks; c++ {
			scope := ""
			if d.Scoped {
				scope = "/" + d.FromOrgCode
			}
			version := "" // the chunks of the record's version: codes/…/;<version>/<%05d>
			if d.CodesVersion != "" {
				version = ";" + d.CodesVersion + "/"
			}
			for _, ch := range e.state(fmt.Sprintf("codes/%s/%s%s/%s%05d", d.Source, d.DocNo, scope, version, c)) {
				var rows []struct {
					L int    `json:"l"`
					C string `json:"c"`
					K string `json:"k"`
					V int    `json:"v"`
					P string `json:"p"`
				}
				_ = json.Unmarshal(ch.Value, &rows)
				for _, r := range rows {
					l := d.Lines[lines[r.L]]
					level := ""
					if r.V > 0 {
						level = strconv.Itoa(r.V)
					}
					out["追溯码明细"] = append(out["追溯码明细"], trim([]string{d.BillTime[:10], d.DocNo, srcLabel[d.Source], org(d.FromOrgCode, d.FromOrgName), strconv.Itoa(r.L), l.ItemCode, l.ItemName, l.BatchNo,
						l.ExpiryDate, r.C, kinds[r.K], level, r.P}))
				}
			}
		}
	}
	for _, s := range e.state("log/mi/2026112") {
		var m struct {
			At, DocNo, Infno, Status, Message, MessageID string
			MsgIDs                                       []string
			Lines, Codes                                 int
			Infcode                                      *int
		}
		_ = json.Unmarshal(s.Value, &m)
		code := ""
		if m.Infcode != nil {
			code = strconv.Itoa(*m.Infcode)
		}
		out["医保上传记录"] = append(out["医保上传记录"], trim([]string{local(m.At), m.DocNo, m.Infno, strings.Join(m.MsgIDs, ","), strconv.Itoa(m.Lines), strconv.Itoa(m.Codes),
			map[string]string{"ok": "成功"}[m.Status], code, m.Message, m.MessageID}))
	}
	return out
}

// local formats an RFC 3339 time in China time as the workbook shows it.
func local(s string) string {
	if s == "" || strings.HasPrefix(s, "0001") {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.In(cst).Format("2006-01-02 15:04:05")
}

// trim drops trailing empty cells, as excelize's GetRows does.
func trim(row []string) []string {
	for len(row) > 0 && row[len(row)-1] == "" {
		row = row[:len(row)-1]
	}
	return row
}

var headers = map[string][]string{
	"令牌操作日志": {"时间", "操作", "原因", "结果", "令牌有效期至", "耗时(毫秒)", "触发业务", "触发消息", "错误信息", "关联单据/码"},
	"出入库数据": {"单据日期", "单据时间", "单据号", "来源", "方向", "单据类型", "发货单位", "收货单位", "经办人", "行号", "院内编码", "医保目录编码", "药品名称", "规格", "生产企业", "批号",
		"生产日期", "有效期至", "数量", "单位", "包装比例", "追溯码数", "上传状态", "状态说明", "医保上传"},
	"追溯码明细":   {"单据日期", "单据号", "来源", "发货单位", "行号", "院内编码", "药品名称", "批号", "有效期至", "追溯码", "码类型", "包装层级", "上级码"},
	"医保上传记录":  {"上传时间", "单据号", "交易编号", "报文ID", "行数", "追溯码数", "结果", "结果代码", "结果信息", "触发消息"},
	"最小子码":    {"查询时间", "单据号", "行号", "顶级码", "最小子码", "查询码", "查询", "触发", "触发消息"},
	"码层级关系":   {"查询时间", "单据号", "查询码", "查询", "行号", "追溯码", "上级码", "顶级码", "包装层级(1=最大)", "包装级别(1=最小)", "最小包装", "包装比例", "箱状态", "核对结果", "触发", "触发消息"},
	"入库单草稿":   {"单据日期", "单据号", "状态", "发货单位", "生成时间", "行号", "院内编码", "医保目录编码", "药品名称", "规格", "生产企业", "批号", "生产日期", "有效期至", "数量", "单位", "包装比例", "追溯码数", "调整次数", "确认时间", "确认人", "入库单号", "已发布"},
	"入库单调整记录": {"时间", "单据日期", "单据号", "操作人", "操作", "行号", "字段", "调整前", "调整后", "原因", "触发消息"},
}

// sheetOrder is the workbook's sheet order and keys is each sheet's name
// in requests and replies.
var (
	sheetOrder = []string{"令牌操作日志", "出入库数据", "追溯码明细", "最小子码", "码层级关系", "入库单草稿", "入库单调整记录", "医保上传记录"}
	keys       = map[string]string{"令牌操作日志": "token", "出入库数据": "bills", "追溯码明细": "codes", "最小子码": "smallest", "码层级关系": "hierarchy",
		"入库单草稿": "drafts", "入库单调整记录": "adjustments", "医保上传记录": "mi"}
)

func TestExportWorkbookMatchesTheData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seed(t, e)
	r := e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26", "inline": true})
	rep := must[exportReply](t, r, sdk.StatusOK)
	data, err := os.ReadFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	// The workbook is handed to medgate; the reply carries its reference.
	if arts := e.host.Artifacts(); len(arts) != 1 || arts[0].Ref.ID != rep.Artifact || arts[0].Site != "s1" ||
		arts[0].Ref.SHA256 != hex.EncodeToString(sum[:]) || !strings.HasSuffix(arts[0].Artifact.Name, ".xlsx") {
		t.Errorf("artifacts %+v, reply artifact %q", arts, rep.Artifact)
	}
	if rep.Size != int64(len(data)) || rep.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("reply size %d sha %s does not describe the %d-byte file", rep.Size, rep.SHA256, len(data))
	}
	if inline, _ := base64.StdEncoding.DecodeString(rep.Base64); string(inline) != string(data) {
		t.Errorf("the inline copy differs from the file")
	}
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := expected(t, e, "")
	if diff := cmp.Diff(sheetOrder, f.GetSheetList()); diff != "" {
		t.Fatalf("sheets (-want +got):\n%s", diff)
	}
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(headers[sheet], rows[0]); diff != "" {
			t.Errorf("%s header (-want +got):\n%s", sheet, diff)
		}
		if len(want[sheet]) == 0 {
			t.Errorf("%s: the seed produced no rows; the check proves nothing", sheet)
		}
		if diff := cmp.Diff(want[sheet], rows[1:]); diff != "" {
			t.Errorf("%s rows (-want +got):\n%s", sheet, diff)
		}
		if rep.Rows[keys[sheet]] != int64(len(want[sheet])) {
			t.Errorf("%s: reply counts %d rows, want %d", sheet, rep.Rows[keys[sheet]], len(want[sheet]))
		}
		panes, _ := f.GetPanes(sheet)
		if !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: header not frozen: %+v", sheet, panes)
		}
		if w, _ := f.GetColWidth(sheet, "B"); w < 8 {
			t.Errorf("%s: column B width %v", sheet, w)
		}
	}
	// Dates are real dates with a date format, not text.
	raw, _ := f.GetCellValue("出入库数据", "A2", excelize.Options{RawCellValue: true})
	if _, err := strconv.ParseFloat(raw, 64); err != nil {
		t.Errorf("document date is not a date serial: %q", raw)
	}
	// Out-of-range documents are left out.
	for _, row := range want["出入库数据"] {
		if row[2] == "RK-OLD" {
			t.Errorf("a document of 2026-11-20 is in the 25-26 export")
		}
	}
	// Progress events: every 5 rows and at the end.
	evs := e.events(adapter.EventExportProgress)
	if len(evs) < 3 {
		t.Fatalf("%d progress events", len(evs))
	}
	var last struct {
		Rows int64
		Done bool
		Line string
	}
	_ = json.Unmarshal(evs[len(evs)-1].Payload, &last)
	total := int64(0)
	for _, n := range rep.Rows {
		total += n
	}
	if !last.Done || last.Rows != total {
		t.Errorf("last progress %+v, want done with %d rows", last, total)
	}
	// The line `medgate tracecode export` prints, as its declaration says.
	if want := fmt.Sprintf("written: %d rows in all", total); last.Line != want {
		t.Errorf("last progress line %q, want %q", last.Line, want)
	}
	e.assertNoSecrets(data)
}

func TestExportFiltersAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["exportInlineMax"] = "100" })
	seed(t, e)
	if one := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "sheets": []string{"token"}}), sdk.StatusOK); one.To != "2026-11-26" {
		t.Errorf("an export without to covers %s to %s, want the one day", one.From, one.To)
	}
	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26", "sheets": []string{"codes"}, "source": "upload", "inline": true}), sdk.StatusOK)
	if rep.Base64 != "" || rep.InlineNote == "" {
		t.Errorf("a workbook over exportInlineMax was inlined: note %q", rep.InlineNote)
	}
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if diff := cmp.Diff([]string{"追溯码明细"}, f.GetSheetList()); diff != "" {
		t.Fatalf("sheets (-want +got):\n%s", diff)
	}
	rows, _ := f.GetRows("追溯码明细")
	if diff := cmp.Diff(expected(t, e, "up")["追溯码明细"], rows[1:]); diff != "" {
		t.Errorf("upload-only codes (-want +got):\n%s", diff)
	}
	testCases := map[string]struct {
		payload map[string]any
		field   string
	}{
		"bad from":       {map[string]any{"from": "x", "to": "2026-11-26"}, "$.from"},
		"to before from": {map[string]any{"from": "2026-11-26", "to": "2026-11-01"}, "$.to"},
		"too long":       {map[string]any{"from": "2024-01-01", "to": "2026-11-26"}, "$.to"},
		"unknown sheet":  {map[string]any{"from": "2026-11-26", "to": "2026-11-26", "sheets": []string{"money"}}, "$.sheets[0]"},
		"unknown source": {map[string]any{"from": "2026-11-26", "to": "2026-11-26", "source": "x"}, "$.source"},
		"unknown field":  {map[string]any{"from": "2026-11-26", "to": "2026-11-26", "site": "s2"}, "$.site"},
	}
	for name, tc := range testCases {
		if r := e.send(adapter.OpExport, tc.payload); r.Status != sdk.StatusInvalid || r.Diagnostics[0].Field != tc.field {
			t.Errorf("%s: %s %s", name, r.Status, r.Diagnostics)
		}
	}
}

// TestExportSkipsRecordsOfFailedWrites: storing a document appends its
// record to the daily log, then indexes it. When the index write failed,
// the retry appended a second record of the same document, and the
// export listed its lines and every code twice.
func TestExportSkipsRecordsOfFailedWrites(t *testing.T) {
	t.Parallel()
	e, host := newFaultEnv(t)
	var once sync.Once
	host.mu.Lock()
	host.putFail = func(key string) bool {
		hit := false
		if strings.HasPrefix(key, "docidx/up/") {
			once.Do(func() { hit = true })
		}
		return hit
	}
	host.casFail = host.putFail // the index is written with compare-and-set
	host.mu.Unlock()
	doc := bill("RK-X", "102", line(1, "2", drugCode("8100001", 1), drugCode("8100001", 2)))
	payload, _ := json.Marshal(doc)
	r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInUpload, MessageID: "u-1", Format: "json", Payload: payload, Attempt: 1})
	if err == nil && r.Status == sdk.StatusOK {
		t.Fatal("the upload succeeded despite the fault")
	}
	must[uploadReply](t, e.sendID("u-1", adapter.OpStockInUpload, payload, true), sdk.StatusOK)
	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "sheets": []string{"bills", "codes"}}), sdk.StatusOK)
	if rep.Rows["bills"] != 1 || rep.Rows["codes"] != 2 {
		t.Errorf("export rows %v, want 1 document line and 2 codes", rep.Rows)
	}
}
