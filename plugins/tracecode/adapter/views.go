package adapter

import "github.com/medgate/medgate/plugins/sdk"

// FormExport is the console's export page.
const FormExport = "export"

// forms declares the plugin's console pages.
func forms() []sdk.Form {
	return []sdk.Form{{
		Name:        FormExport,
		Title:       "追溯码导出 Export",
		Description: "The one-click Excel export of a site: token log, stock in/out data, trace-code details and medical-insurance uploads for a date range.",
		Operation:   OpExport,
		Fields: []sdk.Argument{
			{Name: "from", Type: sdk.SettingString, Required: true, Description: "开始日期 first day, 2006-01-02", Example: "2026-11-01"},
			{Name: "to", Type: sdk.SettingString, Description: "结束日期 last day, 2006-01-02 (default: the first day)"},
			{Name: "sheets", Type: sdk.ArgumentList, Description: "工作表 comma-separated: token, bills, codes, mi (default: all)"},
			{Name: "source", Type: sdk.SettingString, Enum: []string{"upload", "platform"}, Description: "来源 only uploaded or only fetched documents (default: both)"},
		},
		Result: sdk.Display{
			Fields: []sdk.Column{{Field: "site", Title: "站点 site"}, {Field: "from", Title: "开始 from"}, {Field: "to", Title: "结束 to"}, {Field: "rows", Title: "行数 rows"}},
			File:   &sdk.FileResult{ArtifactField: "artifact"},
		},
	}}
}
