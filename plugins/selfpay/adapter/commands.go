package adapter

import (
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// CmdImportPending is `medgate selfpay import-pending`.
const CmdImportPending = "import-pending"

// commands declares the plugin's command-line verbs.
func commands() []sdk.Command {
	return []sdk.Command{{
		Name:    CmdImportPending,
		Summary: "核对待上传自费名单：逐个病人报告已上传、失败（及原因）或未收到 report, per patient of a pending self-pay list, whether medgate uploaded it, failed (and why) or has not seen it",
		Description: `读取从医保系统导出的待上传自费名单（XLSX 或 CSV），逐个病人报告 medgate 已上传、
上传失败（及原因）或尚未收到。加 -verify 时还就每个病人向医保平台查询（4208）。文件作为
selfpay.import-pending 消息发给运行中的 medgate。

Reads the pending self-pay list exported from the medical-insurance system
(XLSX or CSV) and reports, per patient, whether medgate has uploaded it, failed
(and why) or not seen it yet. -verify also asks the platform (4208) about each
patient. The file goes to the running medgate as a selfpay.import-pending message.`,
		Operation: OpImportPending,
		Timeout:   5 * time.Minute,
		Arguments: []sdk.Argument{
			{Name: "list", Type: sdk.ArgumentFile, Required: true, Positional: true, Description: "待上传名单 LIST.xlsx 或 LIST.csv the pending list"},
			{Name: "sheet", Type: sdk.SettingString, Description: "XLSX 工作表（默认第一个）XLSX sheet (default: the first)"},
			{Name: "verify", Type: sdk.SettingBool, Description: "同时向医保平台（4208）查询每个病人 also ask the platform (4208) about each patient"},
		},
		Result: sdk.Display{
			Headline: "headline",
			Rows:     "patients",
			Columns: []sdk.Column{
				{Field: "row", Title: "行号 ROW"}, {Field: "fixmedinsMdtrtId", Title: "就诊ID VISIT"}, {Field: "psnName", Title: "姓名 NAME"},
				{Field: "certno", Title: "证件号 ID NUMBER"}, {Field: "status", Title: "状态 STATUS"}, {Field: "platform", Title: "平台 PLATFORM"},
				{Field: "reason", Title: "原因 REASON"},
			},
		},
	}}
}

// pendingStatuses orders the statuses of a pending-list report.
var pendingStatuses = []string{"pending", "uploading", "uploaded", "failed", "cancelling", "cancelled", "invalid"}

// pendingStatusNames name the statuses of a pending-list report in
// Chinese, for the headline staff read.
var pendingStatusNames = map[string]string{
	"pending": "待上传", "uploading": "上传中", "uploaded": "已上传", "failed": "失败",
	"cancelling": "撤销中", "cancelled": "已撤销", "invalid": "无效",
}

// pendingHeadline is the report's first line: the file, its patients and
// the count of each status, in Chinese with the status codes, e.g.
// "list.csv：3 名病人 patients — 待上传 pending 1，已上传 uploaded 1，失败 failed 1".
func pendingHeadline(file string, rows int, summary map[string]int) string {
	var counts []string
	for _, s := range pendingStatuses {
		if n := summary[s]; n > 0 {
			counts = append(counts, fmt.Sprintf("%s %s %d", pendingStatusNames[s], s, n))
		}
	}
	return fmt.Sprintf("%s：%d 名病人 patients — %s", file, rows, strings.Join(counts, "，"))
}
