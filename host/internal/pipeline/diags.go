package pipeline

import (
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

func diagsToErrors(ds sdk.Diagnostics) []message.ReplyError {
	var out []message.ReplyError
	for _, d := range ds {
		if d.Severity != sdk.SeverityError {
			continue
		}
		rule := d.Rule
		if rule == "" {
			rule = "error"
		}
		out = append(out, message.ReplyError{Field: d.Field, Rule: rule, Message: d.Message()})
	}
	return out
}

// diagsToWarnings returns the warnings among a plugin's diagnostics, for
// the reply: what the plugin noticed without refusing the message.
func diagsToWarnings(ds sdk.Diagnostics) []message.ReplyError {
	var out []message.ReplyError
	for _, d := range ds {
		if d.Severity != sdk.SeverityWarning {
			continue
		}
		rule := d.Rule
		if rule == "" {
			rule = "warning"
		}
		out = append(out, message.ReplyError{Field: d.Field, Rule: rule, Message: d.Message()})
	}
	return out
}
