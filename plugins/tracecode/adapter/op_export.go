package adapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/export"
)

// Sheets of the export, by the names the request uses.
const (
	sheetToken       = "token"
	sheetBills       = "bills"
	sheetCodes       = "codes"
	sheetSmallest    = "smallest"
	sheetHierarchy   = "hierarchy"
	sheetDrafts      = "drafts"
	sheetAdjustments = "adjustments"
	sheetMI          = "mi"
)

// allSheets are the sheets in workbook order.
var allSheets = []string{sheetToken, sheetBills, sheetCodes, sheetSmallest, sheetHierarchy, sheetDrafts, sheetAdjustments, sheetMI}

// sheetChoices names every sheet for the console's export page and the
// command line, as the request names it and as the workbook's tab does:
// "token 令牌操作日志, bills 出入库数据, …".
func sheetChoices() string {
	choices := make([]string, len(allSheets))
	for i, s := range allSheets {
		choices[i] = s + " " + sheetNames[s]
	}
	return strings.Join(choices, ", ")
}

// maxExportDays bounds the date range of one export.
const maxExportDays = 366

// exportPayload is the payload of tracecode.export.
type exportPayload struct {
	// From and To are the first and last day (2006-01-02, inclusive).
	From string `json:"from"`
	To   string `json:"to"`
	// Sheets selects sheets (default all): token, bills, codes, smallest,
	// hierarchy, drafts, adjustments, mi.
	Sheets []string `json:"sheets"`
	// DocNo keeps only the rows of one document number in every sheet
	// (token operations: those made for a call about it).
	DocNo string `json:"docNo"`
	// Source keeps only uploaded ("upload") or fetched ("platform")
	// documents in the bills and codes sheets (default both).
	Source string `json:"source"`
	// Inline also returns the workbook base64-encoded in the reply when it
	// is at most exportInlineMax bytes.
	Inline bool `json:"inline"`
}

// exportReply is the reply of tracecode.export.
type exportReply struct {
	Path     string           `json:"path"`
	FileName string           `json:"fileName"`
	Size     int64            `json:"size"`
	SHA256   string           `json:"sha256"`
	Site     string           `json:"site"`
	From     string           `json:"from"`
	To       string           `json:"to"`
	DocNo    string           `json:"docNo,omitempty"`
	Sheets   []string         `json:"sheets"`
	Rows     map[string]int64 `json:"rows"`
	// SheetRows is Rows in workbook order with each sheet's tab name,
	// for the console's result table.
	SheetRows  []sheetRows `json:"sheetRows"`
	DurationMS int64       `json:"durationMs"`
	Base64     string      `json:"base64,omitempty"`
	// Artifact is the reference of the workbook in medgate's storage.
	Artifact   string `json:"artifact,omitempty"`
	InlineNote string `json:"inlineNote,omitempty"`
}

// sheetRows is the row count of one sheet of an export. The tab name is
// under "title", not "name": medgate masks every value under "name" as a
// person's name (pii.PersonalKey), which made 令牌操作日志 read 令****志
// in the console's result table and in medgate tracecode export.
type sheetRows struct {
	Sheet string `json:"sheet"`
	Title string `json:"title"`
	Rows  int64  `json:"rows"`
}

// Chinese labels of the workbook.
var (
	sheetNames = map[string]string{sheetToken: "令牌操作日志", sheetBills: "出入库数据", sheetCodes: "追溯码明细", sheetSmallest: "最小子码",
		sheetHierarchy: "码层级关系", sheetDrafts: "入库单草稿", sheetAdjustments: "入库单调整记录", sheetMI: "医保上传记录"}

	tokenActions = map[string]string{"issue": "获取令牌", "refresh": "刷新令牌", "invalidate": "令牌作废"}
	tokenReasons = map[string]string{"first use": "首次使用", "expires soon": "即将过期", "authentication error": "认证失败", "requested": "手动请求", "no valid token": "无有效令牌"}
	sources      = map[string]string{sourceUpload: "医院上传", sourcePlatform: "平台入库数据"}
	directions   = map[string]string{"in": "入库", "out": "出库"}
	statuses     = map[string]string{statusUploaded: "已上传", statusRejected: "被拒绝", statusUnknown: "结果未知(待核对)", statusPending: "待上传",
		statusSending: "上传中", statusFetched: "已获取", statusReleasing: "未出库(码退回中)", statusReleased: "未出库(码已退回)"}
	codeKinds = map[string]string{"drug": "药品追溯码", "gs1": "GS1耗材码", "other": "其他码"}
	miLabels  = map[string]string{miOK: "成功", miRejected: "失败", miUnknown: "结果未知", miPartial: "部分成功", miMismatch: "与入库单不符"}
)

func label(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

// sheetSpecs are the columns of each sheet.
var sheetSpecs = map[string][]export.Column{
	sheetToken: {
		{Header: "时间", Kind: export.DateTime}, {Header: "操作"}, {Header: "原因", Width: 12}, {Header: "结果", Width: 8},
		{Header: "令牌有效期至", Kind: export.DateTime}, {Header: "耗时(毫秒)", Kind: export.Integer, Width: 11},
		{Header: "触发业务", Width: 30}, {Header: "触发消息", Width: 28}, {Header: "错误信息", Width: 50}, {Header: "关联单据/码", Width: 24},
	},
	sheetBills: {
		{Header: "单据日期", Kind: export.Date}, {Header: "单据时间", Kind: export.DateTime}, {Header: "单据号", Width: 20},
		{Header: "来源", Width: 13}, {Header: "方向", Width: 6}, {Header: "单据类型", Width: 13},
		{Header: "发货单位", Width: 28}, {Header: "收货单位", Width: 20}, {Header: "经办人"},
		{Header: "行号", Kind: export.Integer, Width: 6}, {Header: "院内编码"}, {Header: "医保目录编码", Width: 26},
		{Header: "药品名称", Width: 22}, {Header: "规格", Width: 16}, {Header: "生产企业", Width: 26}, {Header: "批号", Width: 14},
		{Header: "生产日期", Kind: export.Date}, {Header: "有效期至", Kind: export.Date}, {Header: "数量", Kind: export.Decimal},
		{Header: "单位", Width: 6}, {Header: "包装比例", Width: 10}, {Header: "追溯码数", Kind: export.Integer, Width: 9},
		{Header: "上传状态", Width: 16}, {Header: "状态说明", Width: 30}, {Header: "医保上传", Width: 10},
	},
	// The codes sheet is the big one (a row per code): it repeats only what
	// people filter on; the rest of the line is on the stock sheet (join on
	// 单据号 + 来源 + 发货单位 + 行号: a document number is its issuer's own,
	// so two suppliers' documents and the hospital's own may share one),
	// and the product identifier is the code's first 7 digits.
	sheetCodes: {
		{Header: "单据日期", Kind: export.Date}, {Header: "单据号", Width: 20}, {Header: "来源", Width: 13}, {Header: "发货单位", Width: 28},
		{Header: "行号", Kind: export.Integer, Width: 6},
		{Header: "院内编码"}, {Header: "药品名称", Width: 22}, {Header: "批号", Width: 14}, {Header: "有效期至", Kind: export.Date},
		{Header: "追溯码", Width: 24}, {Header: "码类型", Width: 11}, {Header: "包装层级", Kind: export.Integer, Width: 9},
		{Header: "上级码", Width: 24},
	},
	sheetMI: {
		{Header: "上传时间", Kind: export.DateTime}, {Header: "单据号", Width: 20}, {Header: "交易编号", Width: 9},
		{Header: "报文ID", Width: 32}, {Header: "行数", Kind: export.Integer, Width: 6}, {Header: "追溯码数", Kind: export.Integer, Width: 9},
		{Header: "结果", Width: 10}, {Header: "结果代码", Width: 9}, {Header: "结果信息", Width: 40}, {Header: "触发消息", Width: 28},
	},
}

// export serves tracecode.export.
func (h *handler) export(ctx context.Context) (*sdk.HandleResponse, error) {
	var p exportPayload
	if ds := plain(h.req.Payload, &p); ds != nil {
		return invalid(ds)
	}
	if p.To == "" {
		p.To = p.From // one day
	}
	var ds sdk.Diagnostics
	from, errF := time.ParseInLocation(dateLayout, p.From, h.cfg.zone)
	to, errT := time.ParseInLocation(dateLayout, p.To, h.cfg.zone)
	if errF != nil {
		ds.Error("$.from", "format", fmt.Sprintf("开始日期 %q 不是日期 (from is not a date)", p.From), "请按 YYYY-MM-DD 填写，如 2026-11-01 (write the first day as YYYY-MM-DD)")
	}
	if errT != nil {
		ds.Error("$.to", "format", fmt.Sprintf("结束日期 %q 不是日期 (to is not a date)", p.To), "请按 YYYY-MM-DD 填写，或留空只导出开始日期当天 (write the last day as YYYY-MM-DD, or leave it empty for one day)")
	}
	if today := h.a.now().In(h.cfg.zone).Format(dateLayout); errF == nil && p.From > today {
		ds.Error("$.from", "range", fmt.Sprintf("开始日期 %s 晚于今天 %s (the first day is after today)", p.From, today), "请填写今天或之前的日期 (export days that have begun)")
	}
	if errF == nil && errT == nil && (to.Before(from) || to.Sub(from) > (maxExportDays-1)*24*time.Hour) {
		ds.Error("$.to", "range", fmt.Sprintf("开始日期 %s 至结束日期 %s 不是 1 到 %d 天 (the range is not 1 to %d days)", p.From, p.To, maxExportDays, maxExportDays),
			"结束日期不早于开始日期，一次最多导出一年 (export at most a year at a time, to not before from)")
	}
	if len(p.Sheets) == 0 {
		p.Sheets = allSheets
	}
	for i, s := range p.Sheets {
		if !slices.Contains(allSheets, s) {
			ds.Error(fmt.Sprintf("$.sheets[%d]", i), "enum", fmt.Sprintf("sheet %q is not known", s), "use "+strings.Join(allSheets, ", "))
		}
	}
	srcFilter := ""
	switch p.Source {
	case "":
	case "upload":
		srcFilter = sourceUpload
	case "platform":
		srcFilter = sourcePlatform
	default:
		ds.Error("$.source", "enum", fmt.Sprintf("source %q is not known", p.Source), "use upload, platform, or leave it out for both")
	}
	if p.DocNo = strings.TrimSpace(p.DocNo); len(p.DocNo) > 100 {
		ds.Error("$.docNo", "length", "docNo is longer than 100 characters", "send one document number, or leave docNo out for every document")
	}
	if ds.HasError() {
		return invalid(ds)
	}
	rep, err := h.writeExport(ctx, p, from, to, srcFilter)
	if err != nil {
		return nil, err
	}
	return ok(rep)
}

// safeName keeps letters, digits, '-' and '_' of s.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// writeExport streams every selected sheet from host state into a
// workbook under exportDir/<site>/ and returns the reply.
func (h *handler) writeExport(ctx context.Context, p exportPayload, from, to time.Time, srcFilter string) (*exportReply, error) {
	start := h.a.now()
	dir := filepath.Join(h.cfg.exportDir, safeName(h.req.Site))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create the export directory %s: %w; check exportDir", dir, err)
	}
	name := fmt.Sprintf("tracecode-%s-%s-%s-%s.xlsx", safeName(h.req.Site), from.Format(dayLayout), to.Format(dayLayout), safeName(h.req.MessageID))
	path := filepath.Join(dir, name)
	exportID := h.req.MessageID
	progress := func(pr export.Progress) {
		h.a.log.Info("export progress", "site", h.req.Site, "export", exportID, "sheet", pr.Sheet, "rows", pr.Rows, "done", pr.Done)
		line := fmt.Sprintf("%s: %d rows (%d in all)", pr.Sheet, pr.SheetRows, pr.Rows)
		if pr.Done {
			line = fmt.Sprintf("written: %d rows in all", pr.Rows)
		}
		ev, _ := json.Marshal(map[string]any{"exportId": exportID, "sheet": pr.Sheet, "sheetRows": pr.SheetRows, "rows": pr.Rows, "done": pr.Done, "line": line})
		id := fmt.Sprintf("tracecode-export-%s-%s-%d", h.req.Site, exportID, pr.Rows)
		if pr.Done {
			id += "-done"
		} else if pr.Sheet != "" {
			id += "-" + pr.Sheet
		}
		if err := h.req.Host.Publish(ctx, sdk.Event{ID: id, Type: EventExportProgress, Key: exportID, Payload: ev, OccurredAt: h.a.now()}); err != nil {
			h.a.log.Warn("cannot publish export progress", "export", exportID, "err", err)
		}
	}
	wb, err := export.New(export.Options{Progress: progress, ProgressEvery: h.cfg.progressEvery, TmpDir: dir, Creator: "medgate tracecode " + Version,
		Created: start.In(h.cfg.zone)})
	if err != nil {
		return nil, err
	}
	defer wb.Close()
	rep := &exportReply{Site: h.req.Site, From: p.From, To: p.To, DocNo: p.DocNo, Rows: map[string]int64{}}
	f := filter{from: from, to: to, source: srcFilter, docNo: p.DocNo}
	// The stock sheet and the trace-code sheet read the documents in
	// passes of their own: the second lists the version the first did.
	var listed listedDocs
	if slices.Contains(p.Sheets, sheetBills) && slices.Contains(p.Sheets, sheetCodes) {
		listed = listedDocs{}
	}
	for _, s := range allSheets {
		if !slices.Contains(p.Sheets, s) {
			continue
		}
		sh, err := wb.Sheet(export.SheetSpec{Name: sheetNames[s], Columns: sheetSpecs[s]})
		if err != nil {
			return nil, err
		}
		switch s {
		case sheetToken:
			err = h.tokenRows(ctx, sh, f)
		case sheetBills:
			err = h.billRows(ctx, sh, f, listed)
		case sheetCodes:
			err = h.codeRows(ctx, sh, f, listed)
		case sheetSmallest:
			err = h.smallestRows(ctx, sh, f)
		case sheetHierarchy:
			err = h.hierarchyRows(ctx, sh, f)
		case sheetDrafts:
			err = h.draftRows(ctx, sh, f)
		case sheetAdjustments:
			err = h.adjustmentRows(ctx, sh, f)
		case sheetMI:
			err = h.miRows(ctx, sh, f)
		}
		if err != nil {
			return nil, fmt.Errorf("export sheet %s: %w", sheetNames[s], err)
		}
		if err := sh.Close(); err != nil {
			return nil, err
		}
		rep.Sheets = append(rep.Sheets, s)
		rep.Rows[s] = sh.Rows()
		rep.SheetRows = append(rep.SheetRows, sheetRows{Sheet: s, Title: sheetNames[s], Rows: sh.Rows()})
	}
	res, err := wb.Save(path)
	if err != nil {
		return nil, err
	}
	rep.Path, rep.FileName, rep.Size, rep.SHA256 = res.Path, name, res.Size, res.SHA256
	// Hand the workbook to medgate, which serves it by reference only.
	wbFile, err := os.Open(res.Path)
	if err != nil {
		return nil, fmt.Errorf("read the export back for medgate: %w", err)
	}
	ref, err := sdk.PutArtifact(ctx, h.req.Host, sdk.Artifact{Name: name, ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}, wbFile)
	wbFile.Close()
	switch {
	case errors.Is(err, sdk.ErrNoArtifacts): // an older medgate: the path only
	case err != nil:
		return nil, fmt.Errorf("hand the workbook to medgate: %w", err)
	default:
		rep.Artifact = ref.ID
	}
	rep.DurationMS = h.a.now().Sub(start).Milliseconds()
	if p.Inline {
		switch {
		case h.cfg.inlineMax > 0 && res.Size <= h.cfg.inlineMax:
			data, err := os.ReadFile(res.Path)
			if err != nil {
				return nil, fmt.Errorf("read the export back for inline delivery: %w", err)
			}
			rep.Base64 = base64.StdEncoding.EncodeToString(data)
		default:
			rep.InlineNote = fmt.Sprintf("the workbook is %d bytes, more than exportInlineMax (%d): fetch it from path", res.Size, h.cfg.inlineMax)
		}
	}
	return rep, nil
}

// localTime parses a "2006-01-02[ 15:04:05]" value in the site's zone; the
// zero time (an empty cell) when it does not parse.
func (h *handler) localTime(s string) time.Time {
	layout := dateTimeLayout
	if len(s) == len(dateLayout) {
		layout = dateLayout
	}
	t, err := time.ParseInLocation(layout, s, h.cfg.zone)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (h *handler) tokenRows(ctx context.Context, sh *export.Sheet, f filter) error {
	row := make([]any, len(sheetSpecs[sheetToken]))
	return scanLog(ctx, h.req.Host, kindToken, f.from, f.to, func(_ string, v []byte) error {
		var e tokenLogEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode a token log record: %w", err)
		}
		if !f.doc(e.Subject) {
			return nil
		}
		result := "成功"
		if !e.OK {
			result = "失败"
		}
		var exp any
		if !e.ExpiresAt.IsZero() {
			exp = e.ExpiresAt.In(h.cfg.zone)
		}
		msg := e.Error
		if msg == "" {
			// An expiry the platform gave that was not used.
			msg = e.Warning
		}
		row[0], row[1], row[2], row[3] = e.At.In(h.cfg.zone), label(tokenActions, e.Action), label(tokenReasons, e.Reason), result
		row[4], row[5], row[6], row[7], row[8], row[9] = exp, e.DurationMS, e.Trigger, e.MessageID, msg, e.Subject
		return sh.Row(row...)
	})
}

// docs calls fn for every stored document the filter keeps, in date
// order, once each.
//
// A document whose date moves while the export reads the days is stored
// anew on its new day and its index names the new record; a forwarding
// record stays at the old place (saveDoc). So a record the index does not
// name is passed over when the document is now on a day still to be read
// (it is met there), and stands for it when the document is now on a day
// read already (it moved back behind the export): then the record the
// index names is the document. A document already given to fn (before
// it moved ahead) is not given again. A document moved out of the range
// meanwhile is not in it.
func (h *handler) docs(ctx context.Context, f filter, fn func(*docRecord) error) error {
	host := h.req.Host
	done := map[string]bool{} // index keys of the documents given to fn
	first, last := f.from.Format(dayLayout), f.to.Format(dayLayout)
	inRange := func(key string) bool {
		day, ok := strings.CutPrefix(key, "log/"+kindDoc+"/")
		return ok && len(day) > len(dayLayout) && day[:len(dayLayout)] >= first && day[:len(dayLayout)] <= last
	}
	return scanLog(ctx, host, kindDoc, f.from, f.to, func(key string, v []byte) error {
		var rec docRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		if f.source != "" && rec.Source != f.source || !f.doc(rec.DocNo) {
			return nil
		}
		idx := rec.indexKey()
		if done[idx] {
			return nil
		}
		// Only the record the index names is the document: a store that
		// failed between appending a record and indexing it, or a record
		// moved to another day, left another one.
		e, err := host.Get(ctx, idx)
		if errors.Is(err, sdk.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the index of %s: %w", rec.DocNo, err)
		}
		var ref docRef
		if err := json.Unmarshal(e.Value, &ref); err != nil {
			return fmt.Errorf("decode the index of %s: %w", rec.DocNo, err)
		}
		if ref.Key != key {
			// Log keys sort in the order the days are read.
			if ref.Key > key || !inRange(ref.Key) {
				return nil
			}
			d, err := host.Get(ctx, ref.Key)
			if errors.Is(err, sdk.ErrNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s (%s): %w", rec.DocNo, ref.Key, err)
			}
			rec = docRecord{}
			if err := json.Unmarshal(d.Value, &rec); err != nil {
				return fmt.Errorf("decode %s: %w", ref.Key, err)
			}
			if rec.MovedTo != "" || rec.indexKey() != idx {
				return nil
			}
		}
		done[idx] = true
		return fn(&rec)
	})
}

func (h *handler) billTypeLabel(t string) string {
	if t == "" {
		return ""
	}
	if ct, ok := h.cfg.schemas.CodeTable("tracecode", "billType"); ok {
		if n, ok := ct.Codes[t]; ok {
			return t + " " + n
		}
	}
	return t
}

// listedDocs is, between the stock sheet's pass over the documents and
// the trace-code sheet's, the version (codesVersion: saveDoc gives every
// version of the lines and codes a new one) and the content hash of each
// document the stock sheet listed, by index key.
type listedDocs map[string]listedDoc

type listedDoc struct {
	docNo, version, hash string
}

// check is the trace-code pass's test of a document it reads against the
// stock sheet's: list reports whether to list it (false: the stock sheet
// did not, since it was stored, or moved into the export's days, after
// that pass read them; on neither sheet then), and an errDocChanged says
// it was saved again in between with other content (the export is
// retried, reading both sheets anew). A nil listedDocs lists everything.
func (l listedDocs) check(d *docRecord) (list bool, err error) {
	if l == nil {
		return true, nil
	}
	idx := d.indexKey()
	was, ok := l[idx]
	if !ok {
		return false, nil
	}
	delete(l, idx)
	// A document saved again with the same content (an upload whose
	// attempt went unanswered, sent again as it was: every attempt saves
	// it, under a new version) has the lines and codes the stock sheet
	// listed: during an outage such retries come every few seconds, and
	// failing on them failed every attempt of a long export.
	if was.version != d.CodesVersion && (was.hash == "" || was.hash != d.Hash) {
		return false, fmt.Errorf("%w: document %s (%s) was saved again (a later fetch or upload of it) between the export's 出入库数据 and 追溯码明细 sheets, which would show two versions of it; the export is made again",
			errDocChanged, d.DocNo, idx)
	}
	return true, nil
}

// missing returns an errDocChanged naming a document the stock sheet
// listed and the trace-code pass did not find (its date moved out of the
// export's days in between: lines without codes), nil when there is none.
func (l listedDocs) missing() error {
	for idx, was := range l {
		return fmt.Errorf("%w: document %s (%s) left the export's days (its date changed) between the export's 出入库数据 and 追溯码明细 sheets, which would list its lines without its codes; the export is made again",
			errDocChanged, was.docNo, idx)
	}
	return nil
}

// billRows writes the stock sheet, and records in listed (if not nil)
// the version of each document it lists.
func (h *handler) billRows(ctx context.Context, sh *export.Sheet, f filter, listed listedDocs) error {
	row := make([]any, len(sheetSpecs[sheetBills]))
	return h.docs(ctx, f, func(d *docRecord) error {
		if listed != nil {
			listed[d.indexKey()] = listedDoc{docNo: d.DocNo, version: d.CodesVersion, hash: d.Hash}
		}
		at := h.localTime(d.BillTime)
		day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, h.cfg.zone)
		status := label(statuses, d.Status)
		if d.Status == statusUploaded && d.Duplicate {
			status = "已上传(平台已有)"
		}
		from, to := orgText(d.FromOrgCode, d.FromOrgName), orgText(d.ToOrgCode, d.ToOrgName)
		note := d.StatusText
		if d.StockNote != "" {
			note = strings.TrimPrefix(note+"; "+d.StockNote, "; ")
		}
		for _, l := range d.Lines {
			row[0], row[1], row[2], row[3], row[4], row[5] = day, at, d.DocNo, label(sources, d.Source), label(directions, d.Direction), h.billTypeLabel(d.BillType)
			row[6], row[7], row[8], row[9], row[10], row[11] = from, to, d.Operator, int64(l.LineNo), l.ItemCode, l.MedListCode
			row[12], row[13], row[14], row[15] = l.ItemName, l.Spec, l.Manufacturer, l.BatchNo
			row[16], row[17], row[18], row[19], row[20] = h.localTime(l.ProduceDate), h.localTime(l.ExpiryDate), l.Qty, l.Unit, l.PackRatio
			row[21], row[22], row[23], row[24] = int64(l.CodeCount), status, note, label(miLabels, d.MIStatus)
			if err := sh.Row(row...); err != nil {
				return err
			}
		}
		return nil
	})
}

func orgText(code, name string) string {
	switch {
	case code == "":
		return name
	case name == "":
		return code
	}
	return name + " (" + code + ")"
}

// codeBatch is one chunk of code rows with its document, passed from the
// reader to the writer of the codes sheet.
type codeBatch struct {
	doc    *docRecord
	source string // 来源 and 发货单位, as the stock sheet shows them
	from   string
	lines  map[int]*docLine
	expiry map[int]time.Time
	day    time.Time
	rows   []codeRow
}

// codeRows writes the trace-code details. Reading and decoding (state
// scans and chunk reads over the plugin connection) run in a goroutine of
// their own, at most a few chunks ahead of the workbook writer, so both
// use a core while memory stays bounded. With listed (the stock sheet was
// written) it lists the documents the stock sheet did, in the versions it
// did (listedDocs.check).
func (h *handler) codeRows(ctx context.Context, sh *export.Sheet, f filter, listed listedDocs) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan codeBatch, 4)
	var readErr error
	go func() {
		defer close(batches)
		readErr = h.docs(ctx, f, func(d *docRecord) error {
			if list, err := listed.check(d); !list || err != nil {
				return err
			}
			at := h.localTime(d.BillTime)
			b := codeBatch{doc: d, source: label(sources, d.Source), from: orgText(d.FromOrgCode, d.FromOrgName), lines: map[int]*docLine{}, expiry: map[int]time.Time{},
				day: time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, h.cfg.zone)}
			for i := range d.Lines {
				b.lines[d.Lines[i].LineNo] = &d.Lines[i]
				b.expiry[d.Lines[i].LineNo] = h.localTime(d.Lines[i].ExpiryDate)
			}
			return readChunks(ctx, h.req.Host, d, func(rows []codeRow) error {
				b.rows = rows
				select {
				case batches <- b:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		})
		if readErr == nil {
			readErr = listed.missing()
		}
	}()
	row := make([]any, len(sheetSpecs[sheetCodes]))
	var writeErr error
	for b := range batches {
		if writeErr != nil {
			continue // drain so the reader ends
		}
		for _, r := range b.rows {
			var item, name, batch string
			if l := b.lines[r.Line]; l != nil {
				item, name, batch = l.ItemCode, l.ItemName, l.BatchNo
			}
			var level any
			if r.Level > 0 {
				level = int64(r.Level)
			}
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = b.day, b.doc.DocNo, b.source, b.from, int64(r.Line), item, name
			row[7], row[8], row[9], row[10], row[11], row[12] = batch, b.expiry[r.Line], r.Code, label(codeKinds, r.Kind), level, r.Parent
			if writeErr = sh.Row(row...); writeErr != nil {
				cancel()
				break
			}
		}
	}
	if writeErr != nil {
		return writeErr
	}
	return readErr
}

func (h *handler) miRows(ctx context.Context, sh *export.Sheet, f filter) error {
	row := make([]any, len(sheetSpecs[sheetMI]))
	return scanLog(ctx, h.req.Host, kindMI, f.from, f.to, func(_ string, v []byte) error {
		var m miRecord
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode a medical-insurance upload record: %w", err)
		}
		if !f.doc(m.DocNo) {
			return nil
		}
		code := ""
		if m.Infcode != nil {
			code = strconv.Itoa(*m.Infcode)
		}
		row[0], row[1], row[2], row[3], row[4] = m.At.In(h.cfg.zone), m.DocNo, m.Infno, strings.Join(m.MsgIDs, ","), int64(m.Lines)
		row[5], row[6], row[7], row[8], row[9] = int64(m.Codes), label(miLabels, m.Status), code, m.Message, m.MessageID
		return sh.Row(row...)
	})
}
