package adapter

import (
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// CmdExport is `medgate tracecode export`.
const CmdExport = "export"

// CmdHeld is `medgate tracecode stockouts`; CmdHeldResolve is `medgate
// tracecode stockout-resolve`.
const (
	CmdHeld        = "stockouts"
	CmdHeldResolve = "stockout-resolve"
)

// commands declares the plugin's command-line verbs.
func commands() []sdk.Command {
	return []sdk.Command{{
		Name:    CmdHeld,
		Summary: "列出结果未知的出库单及其暂不入库的追溯码 list the stock-outs whose outcome is unknown and the codes each holds out of stock",
		Description: `Lists the stock-out documents sent without an answer (or stopped during the call):
their codes stay out of stock, refused to other documents, until the outcome is known.
For each: the document, its status, since when, why, its codes, and from when the
stockout-reconcile job (or stockout-resolve) may resolve it.`,
		Operation: OpHeldList,
		Arguments: []sdk.Argument{{Name: "limit", Type: sdk.SettingInt, Default: "100", Description: "最多列出的单据数（不超过 200）at most this many documents (up to 200)"}},
		Result:    sdk.Display{JSON: true},
	}, {
		Name:    CmdHeldResolve,
		Summary: "处理结果未知的出库单：kept 已出库或 released 未出库 resolve a stock-out whose outcome is unknown: kept (it happened) or released (it did not)",
		Description: `Resolves a held stock-out. The platform is asked for the document's status first, and its
answer decides: a document it has keeps its codes out, one it does not have puts them
back in stock, whatever -outcome says. Only when the platform cannot tell (no answer,
an answer not understood) is -outcome applied: check the document on the platform's
own pages first. Who (-by), why (-reason) and what the platform answered are recorded on
the document (the export's 状态说明). A stock-out attempted less than
stockOutReconcileAfter ago is refused: its call may still be under way.`,
		Operation: OpHeldResolve,
		Arguments: []sdk.Argument{
			{Name: "billNo", Type: sdk.SettingString, Required: true, Description: "出库单号 the stock-out document number"},
			{Name: "outcome", Type: sdk.SettingString, Required: true, Enum: []string{outcomeKept, outcomeReleased}, Description: "结果：kept 已出库，追溯码保持出库；released 未出库，追溯码退回库存 kept: it happened, the codes stay out; released: it did not, the codes go back in stock"},
			{Name: "by", Type: sdk.SettingString, Required: true, Description: "操作员（记录在单据上）who resolves it (recorded)"},
			{Name: "reason", Type: sdk.SettingString, Required: true, Description: "原因：如何核实的（记录在单据上）how the outcome was checked (recorded)"},
		},
		Result: sdk.Display{JSON: true},
	}, {
		Name:    CmdExport,
		Summary: "按日期范围一键导出站点的 Excel write the one-click Excel export of a site for a date range",
		Description: `Writes the trace-code platform's one-click Excel export: one workbook with the token
operation log, the stock in/out data, the trace-code details and the medical-insurance
upload records of the site for the date range. The export runs in the tracecode plugin
(message tracecode.export through Kafka, like any platform message); progress is printed
as it comes; the workbook is written to the plugin's exportDir and its path, size and
SHA-256 are printed. With -out the file is also copied there (same machine only) and
its SHA-256 checked.`,
		Operation: OpExport,
		Timeout:   10 * time.Minute,
		Arguments: []sdk.Argument{
			{Name: "from", Type: sdk.SettingString, Required: true, Description: "开始日期 YYYY-MM-DD first day", Example: "2025-03-01"},
			{Name: "to", Type: sdk.SettingString, Description: "结束日期 YYYY-MM-DD，默认同开始日期 last day (default: from)"},
			{Name: "sheets", Type: sdk.ArgumentList, Description: "comma-separated sheets (default: all): " + sheetChoices()},
			{Name: "source", Type: sdk.SettingString, Enum: []string{"upload", "platform"}, Description: "来源：只导出 upload 上传或 platform 平台获取的单据（默认两者）only those documents (default: both)"},
		},
		Result: sdk.Display{
			JSON:     true,
			File:     &sdk.FileResult{ArtifactField: "artifact"},
			Progress: &sdk.Progress{Event: EventExportProgress, Match: "exportId", Line: "line", Done: "done"},
		},
	}}
}
