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
		Description: `列出已发送但没有应答（或调用中途停止）的出库单：结果查明前，其追溯码保持出库，
其他单据不能使用。每张单据列出：单据号、状态、起始时间、原因、追溯码，以及从何时起
stockout-reconcile 任务（或 stockout-resolve）可以处理它。

Lists the stock-out documents sent without an answer (or stopped during the call):
their codes stay out of stock, refused to other documents, until the outcome is known.
For each: the document, its status, since when, why, its codes, and from when the
stockout-reconcile job (or stockout-resolve) may resolve it.`,
		Operation: OpHeldList,
		Arguments: []sdk.Argument{{Name: "limit", Type: sdk.SettingInt, Default: "100", Description: "最多列出的单据数（不超过 200）at most this many documents (up to 200)"}},
		Result:    sdk.Display{JSON: true},
	}, {
		Name:    CmdHeldResolve,
		Summary: "处理结果未知的出库单：kept 已出库或 released 未出库 resolve a stock-out whose outcome is unknown: kept (it happened) or released (it did not)",
		Description: `处理结果未知的出库单。先向平台查询单据状态，以平台的回答为准：平台有该单据，追溯码
保持出库；平台没有，追溯码退回库存，不论 -outcome 怎么填。只有平台无法回答（无应答、
应答无法识别）时才按 -outcome 处理：请先在平台自己的页面上核对该单据。处理人（-by）、
原因（-reason）和平台的回答记录在单据上（导出文件的 状态说明）。出库发送不到
stockOutReconcileAfter 的单据会被拒绝：其调用可能仍在进行。

Resolves a held stock-out. The platform is asked for the document's status first, and its
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
		Description: `生成一码通的一键导出 Excel：一个工作簿，包含站点在该日期范围内的身份令牌操作日志、
出入库数据、追溯码明细和医保上传记录。导出在 tracecode 插件中进行（与平台的其他消息
一样，以 tracecode.export 消息经 Kafka 发送）；进度随时打印；工作簿写入插件的
exportDir，并打印其路径、大小和 SHA-256。加 -out 时还复制到该处（仅限同一台机器）并
核对 SHA-256。

Writes the trace-code platform's one-click Excel export: one workbook with the token
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
			{Name: "sheets", Type: sdk.ArgumentList, Description: "工作表，逗号分隔（默认全部）comma-separated sheets (default: all): " + sheetChoices()},
			{Name: "source", Type: sdk.SettingString, Enum: []string{"upload", "platform"}, Description: "来源：只导出 upload 上传或 platform 平台获取的单据（默认两者）only those documents (default: both)"},
		},
		Result: sdk.Display{
			JSON:     true,
			File:     &sdk.FileResult{ArtifactField: "artifact"},
			Progress: &sdk.Progress{Event: EventExportProgress, Match: "exportId", Line: "line", Done: "done"},
		},
	}}
}
