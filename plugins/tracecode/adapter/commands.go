package adapter

import (
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// CmdExport is `medgate tracecode export`.
const CmdExport = "export"

// commands declares the plugin's command-line verbs.
func commands() []sdk.Command {
	return []sdk.Command{{
		Name:    CmdExport,
		Summary: "write the one-click Excel export of a site for a date range",
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
			{Name: "from", Type: sdk.SettingString, Required: true, Description: "first day, 2006-01-02", Example: "2025-03-01"},
			{Name: "to", Type: sdk.SettingString, Description: "last day, 2006-01-02 (default: from)"},
			{Name: "sheets", Type: sdk.ArgumentList, Description: "comma-separated sheets: token, bills, codes, mi (default: all)"},
			{Name: "source", Type: sdk.SettingString, Enum: []string{"upload", "platform"}, Description: "only those documents (default: both)"},
		},
		Result: sdk.Display{
			JSON:     true,
			File:     &sdk.FileResult{ArtifactField: "artifact"},
			Progress: &sdk.Progress{Event: EventExportProgress, Match: "exportId", Line: "line", Done: "done"},
		},
	}}
}
