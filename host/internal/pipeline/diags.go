package pipeline

import (
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

func diagsToErrors(ds sdk.Diagnostics) []message.ReplyError {
	return diagsOf(ds, sdk.SeverityError, "error")
}

// diagsToWarnings returns the warnings among a plugin's diagnostics, for
// the reply: what the plugin noticed without refusing the message.
func diagsToWarnings(ds sdk.Diagnostics) []message.ReplyError {
	return diagsOf(ds, sdk.SeverityWarning, "warning")
}

// diagsOf returns the diagnostics of severity sev as reply entries, rule
// defaulting to rule.
func diagsOf(ds sdk.Diagnostics, sev sdk.Severity, rule string) []message.ReplyError {
	var out []message.ReplyError
	for _, d := range ds {
		if d.Severity != sev {
			continue
		}
		r := d.Rule
		if r == "" {
			r = rule
		}
		out = append(out, message.ReplyError{Field: d.Field, Rule: r, Message: d.Message()})
	}
	return out
}
