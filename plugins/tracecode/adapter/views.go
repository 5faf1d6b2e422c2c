package adapter

import "github.com/medgate/medgate/plugins/sdk"

// FormExport is the console's export page.
const FormExport = "export"

// forms declares the plugin's console pages.
func forms() []sdk.Form {
	return []sdk.Form{{
		Name:        FormExport,
		Title:       "追溯码导出 Export",
		Description: "一键导出 Excel：所选日期范围内的令牌操作日志、出入库数据、追溯码明细和医保上传记录。The one-click Excel export of a site: token log, stock in/out data, trace-code details and medical-insurance uploads for a date range.",
		Operation:   OpExport,
		Fields: []sdk.Argument{
			{Name: "from", Type: sdk.SettingString, Required: true, Description: "开始日期 YYYY-MM-DD first day", Example: "2026-11-01"},
			{Name: "to", Type: sdk.SettingString, Description: "结束日期 YYYY-MM-DD，留空同开始日期 last day (default: the first day)"},
			{Name: "sheets", Type: sdk.ArgumentList, Description: "工作表 comma-separated (default: all): " + sheetChoices()},
			{Name: "source", Type: sdk.SettingString, Enum: []string{"upload", "platform"}, Description: "来源：只导出上传的或只导出从平台获取的单据（默认两者）only uploaded or only fetched documents (default: both)"},
		},
		Result: sdk.Display{
			Fields:  []sdk.Column{{Field: "site", Title: "站点 site"}, {Field: "from", Title: "开始 from"}, {Field: "to", Title: "结束 to"}},
			Rows:    "sheetRows",
			Columns: []sdk.Column{{Field: "title", Title: "工作表 sheet"}, {Field: "rows", Title: "行数 rows"}},
			File:    &sdk.FileResult{ArtifactField: "artifact"},
		},
	}}
}

// workListViews declares the columns and row actions of the plugin's work
// lists.
func workListViews() []sdk.WorkListView {
	resolve := func(outcome, label, question string) sdk.Action {
		return sdk.Action{Name: outcome, Label: label, Operation: OpHeldResolve, Row: map[string]string{"billNo": "billNo"},
			Operator: "by", Confirm: question,
			Fields: []sdk.Argument{
				{Name: "outcome", Type: sdk.SettingString, Required: true, Enum: []string{outcome}, Default: outcome, Description: "结果 outcome"},
				{Name: "reason", Type: sdk.SettingString, Required: true, Description: "原因 how the outcome was checked (recorded)"},
			}}
	}
	return []sdk.WorkListView{{
		// The draft-receipts list: its status and bill time as staff read
		// them (statusName, billAt in the console's zone), not the codes.
		List: WorkListDrafts,
		Columns: []sdk.Column{{Field: "id", Title: "编号 id"}, {Field: "statusName", Title: "状态 status"}, {Field: "version", Title: "版本 version"},
			{Field: "supplierBillNo", Title: "供货单号 supplier bill"}, {Field: "supplierName", Title: "供货单位 supplier"},
			{Field: "billAt", Title: "单据时间 bill time"}, {Field: "createdAt", Title: "生成时间 created"}, {Field: "lines", Title: "行数 lines"},
			{Field: "qty", Title: "数量 qty"}, {Field: "codes", Title: "追溯码数 codes"}, {Field: "missingItemCodes", Title: "缺院内编码 missing item codes"},
			{Field: "adjustments", Title: "调整次数 adjustments"}, {Field: "receiptNo", Title: "采购入库单号 receipt"},
			{Field: "platformChanged", Title: "平台单据已变更 changed on the platform"}},
	}, {
		List: WorkListHeld,
		Columns: []sdk.Column{{Field: "billNo", Title: "单据号"}, {Field: "status", Title: "状态"}, {Field: "since", Title: "发送时间"},
			{Field: "reason", Title: "原因"}, {Field: "codeCount", Title: "追溯码数"}, {Field: "codes", Title: "追溯码"}, {Field: "resolvesAt", Title: "可核对时间"}},
		Actions: []sdk.Action{
			resolve(outcomeReleased, "未出库 released", "系统先查询平台；仅当平台无法判断时，才按您的确认将追溯码退回库存。已在平台核实此出库未发生？The platform is asked first; only if it cannot tell are the codes put back in stock on your word. Checked on the platform that this stock-out did not happen?"),
			resolve(outcomeKept, "已出库 kept", "系统先查询平台；仅当平台无法判断时，才按您的确认保持追溯码已出库。已核实此出库已发生？The platform is asked first; only if it cannot tell are the codes kept out on your word. Checked that this stock-out happened?"),
		},
	}}
}
