package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/host/internal/console"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// showReply shows the reply of a remote command as its Display says. A
// reply that is not ok shows the result fields d declares that its
// payload has (showRefusedFields), the external system's answer and its
// errors; any reply its warnings, last.
// What the plugin and the external system wrote is shown as the console
// shows it (shownReply): values of the fields and columns d declares
// personal masked (console.MaskPersonal), the errors, warnings and the
// external system's message with ID and mobile numbers and named personal
// values masked (logging.Mask), a payload printed as JSON masked as the
// console's message page masks it (logging.MaskJSON), unless reveal
// (granted by the running medgate: see grantReveal), which shows them as
// they came with secrets still redacted. r itself is not changed.
func showReply(w io.Writer, d sdk.Display, r *message.Reply, raw []byte, asJSON, reveal bool) error {
	r, err := shownReply(d, r, reveal)
	if err != nil {
		return err
	}
	switch {
	case d.JSON:
		if len(r.Payload) > 0 {
			r.Payload = jsonShown(r.Payload, reveal)
		}
		return printJSON(w, r)
	case asJSON:
		return printRawJSON(w, jsonShown(r.Payload, reveal))
	}
	if r.Status != message.StatusOK {
		fmt.Fprintf(w, "%s: %s\n", r.Type, r.Status)
		showRefusedFields(w, d, r.Payload, textShown(reveal))
		if r.External != nil && (r.External.Code != "" || r.External.Message != "") {
			fmt.Fprintf(w, "  %s answered %s: %s\n", r.External.System, r.External.Code, r.External.Message)
		}
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %s\n", errorLine(e))
		}
		showWarnings(w, r.Warnings)
		return nil
	}
	if r.External != nil && r.External.MsgID != "" {
		fmt.Fprintf(w, "%s: ok (%s serial %s)\n", r.Type, r.External.System, r.External.MsgID)
	}
	if len(r.Payload) == 0 {
		if r.External == nil {
			fmt.Fprintf(w, "%s: ok\n", r.Type)
		}
		showWarnings(w, r.Warnings)
		return nil
	}
	_ = raw
	if err := showPayload(w, d, r.Payload, reveal); err != nil { // masking again what shownReply masked changes nothing
		return err
	}
	showWarnings(w, r.Warnings)
	return nil
}

// showRefusedFields prints the result fields d declares that a refused
// reply's payload has, "  title: value" each, as the console's notice shows
// them above a refusal's errors (the card an ID number is registered to, a
// scan's sentence for the person at the counter): each value as shown says,
// a declared code as "meaning (code)". payload comes from shownReply, so a
// field declared personal is already masked unless revealed. Nothing when
// the payload is not a JSON object; the headline and the table of rows are
// a result's and are not shown for a refusal, as in the console.
func showRefusedFields(w io.Writer, d sdk.Display, payload []byte, shown func(string) string) {
	var obj map[string]any
	if len(d.Fields) == 0 || json.Unmarshal(payload, &obj) != nil {
		return
	}
	for _, f := range d.Fields {
		if v := text(field(obj, f.Field)); v != "" {
			fmt.Fprintf(w, "  %s: %s\n", f.Title, f.Shown(v, shown(v)))
		}
	}
}

// errorLine is one error or warning of a reply: "field: rule: message",
// an empty part left out with its separator (an error of no one field is
// "rule: message").
// refusalReasons is why reply r is not ok, for the error line of a
// command whose -json printed only the payload: "; " then the external
// system's answer and the errors, masked as showReply masks them unless
// reveal ("" when the reply says nothing).
func refusalReasons(d sdk.Display, r *message.Reply, reveal bool) string {
	r, err := shownReply(d, r, reveal)
	if err != nil {
		return ""
	}
	var why []string
	if r.External != nil && (r.External.Code != "" || r.External.Message != "") {
		why = append(why, fmt.Sprintf("%s answered %s: %s", r.External.System, r.External.Code, r.External.Message))
	}
	for _, e := range r.Errors {
		why = append(why, errorLine(e))
	}
	if len(why) == 0 {
		return ""
	}
	return ": " + strings.Join(why, "; ")
}

func errorLine(e message.ReplyError) string {
	var parts []string
	for _, p := range []string{e.Field, e.Rule, e.Message} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ": ")
}

// showWarnings prints a reply's warnings (what the plugin noticed without
// refusing), one "warning: …" line each, as a local command's diagnostics
// are printed.
func showWarnings(w io.Writer, warnings []message.ReplyError) {
	for _, e := range warnings {
		fmt.Fprintf(w, "warning: %s\n", errorLine(e))
	}
}

// shownReply returns a copy of r as the command line shows it: the
// values d declares personal masked in its payload, the messages of its
// errors and warnings and the external system's message masked as the
// console masks them (logging.Mask); revealed, those texts with their
// secrets redacted (logging.Redact), as the console's reveal shows them.
func shownReply(d sdk.Display, r *message.Reply, reveal bool) (*message.Reply, error) {
	rr := *r
	text := textShown(reveal)
	if !reveal && d.HasPersonal() && len(r.Payload) > 0 {
		masked, err := maskPayload(d, r.Payload)
		if err != nil {
			return nil, err
		}
		rr.Payload = masked
	}
	rr.Errors, rr.Warnings = shownErrors(r.Errors, text), shownErrors(r.Warnings, text)
	if r.External != nil {
		x := *r.External
		x.Message = text(x.Message)
		rr.External = &x
	}
	return &rr, nil
}

// shownErrors returns a copy of errs with each message passed through
// text.
func shownErrors(errs []message.ReplyError, text func(string) string) []message.ReplyError {
	if errs == nil {
		return nil
	}
	out := make([]message.ReplyError, len(errs))
	for i, e := range errs {
		e.Message = text(e.Message)
		out[i] = e
	}
	return out
}

// textShown is how a text of a plugin or an external system is shown:
// masked as the console masks it (logging.Mask), or, revealed, with only
// its secrets redacted (logging.Redact).
func textShown(reveal bool) func(string) string {
	if reveal {
		return logging.Redact
	}
	return logging.Mask
}

// jsonShown is how a JSON payload printed whole is shown: masked as the
// console's message page masks a reply (logging.MaskJSON), or, revealed,
// with only its secrets redacted (logging.RedactJSON).
func jsonShown(b []byte, reveal bool) []byte {
	if len(b) == 0 {
		return b
	}
	if reveal {
		return logging.RedactJSON(b)
	}
	return logging.MaskJSON(b)
}

// showPayload shows a JSON payload: the headline, the single fields, then
// the table of rows; a value whose column declares its code
// (sdk.Column.Codes) as "meaning (code)". Unless reveal, every value is
// masked as the console masks a cell (logging.Mask: ID and mobile numbers,
// a name after 姓名, whatever column holds them) and a value of a field
// or column declared personal (sdk.Column.Personal) masked whole
// (console.MaskPersonal). With nothing declared it prints the payload as
// JSON, masked as the console shows such a result (logging.MaskJSON)
// unless reveal.
func showPayload(w io.Writer, d sdk.Display, payload []byte, reveal bool) error {
	if !reveal && d.HasPersonal() {
		masked, err := maskPayload(d, payload)
		if err != nil {
			return err
		}
		payload = masked
	}
	if d.Headline == "" && len(d.Fields) == 0 && d.Rows == "" {
		return printRawJSON(w, jsonShown(payload, reveal))
	}
	var obj map[string]any
	if err := json.Unmarshal(payload, &obj); err != nil {
		return fmt.Errorf("the reply payload is not a JSON object (%w); run with -json to see it", err)
	}
	shown := textShown(reveal)
	if d.Headline != "" {
		if h := shown(text(field(obj, d.Headline))); h != "" {
			fmt.Fprintln(w, h)
		}
	}
	for _, f := range d.Fields {
		if v := text(field(obj, f.Field)); v != "" {
			fmt.Fprintf(w, "%s: %s\n", f.Title, f.Shown(v, shown(v)))
		}
	}
	if d.Rows == "" {
		return nil
	}
	rows, _ := field(obj, d.Rows).([]any)
	return table(w, d.Columns, rows, shown)
}

// table prints rows under the columns, aligned by display width (see
// writeTable), each value as shown says; a column empty in every row is
// left out, an empty cell shows as "-", a code the column declares as
// "meaning (code)".
func table(w io.Writer, cols []sdk.Column, rows []any, shown func(string) string) error {
	cells := make([][]string, len(rows))
	used := make([]bool, len(cols))
	for i, r := range rows {
		m, _ := r.(map[string]any)
		cells[i] = make([]string, len(cols))
		for j, c := range cols {
			v := text(field(m, c.Field))
			cells[i][j] = c.Shown(v, shown(v))
			used[j] = used[j] || cells[i][j] != ""
		}
	}
	var head []string
	for j, c := range cols {
		if used[j] {
			head = append(head, c.Title)
		}
	}
	lines := [][]string{head}
	for _, row := range cells {
		var line []string
		for j, v := range row {
			if !used[j] {
				continue
			}
			if v == "" {
				v = "-"
			}
			line = append(line, v)
		}
		lines = append(lines, line)
	}
	return writeTable(w, lines)
}

// maskPayload returns payload with every value of a field or row column
// d declares personal masked as the console masks it
// (console.MaskPersonal), whatever the plugin sent.
func maskPayload(d sdk.Display, payload []byte) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(payload, &obj); err != nil {
		return nil, fmt.Errorf("the reply payload is not a JSON object (%w); it declares personal data, so it is not shown", err)
	}
	for _, f := range d.Fields {
		if f.Personal {
			maskField(obj, f.Field)
		}
	}
	if d.Rows != "" {
		rows, _ := field(obj, d.Rows).([]any)
		for _, r := range rows {
			for _, c := range d.Columns {
				if c.Personal {
					maskField(r, c.Field)
				}
			}
		}
	}
	return json.Marshal(obj)
}

// maskField masks the value at the dotted path in v, if there is one.
func maskField(v any, path string) {
	parts := strings.Split(path, ".")
	for _, part := range parts[:len(parts)-1] {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		v = m[part]
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	last := parts[len(parts)-1]
	if x, ok := m[last]; ok && x != nil {
		if t := text(x); t != "" {
			m[last] = console.MaskPersonal(t)
		}
	}
}

// field is the value at a dotted path ("label.lines") in a decoded JSON
// object, as sdk.Display names fields (the console reads them the same
// way), or nil.
func field(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// text is a JSON value as one line of text.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64, bool:
		return fmt.Sprint(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// copyResult copies the artifact a reply names to dst. The artifact store
// checks the file against its SHA-256 before handing it out.
func copyResult(f *sdk.FileResult, plugin, dir string, payload []byte, dst string) (artifact.Meta, error) {
	var obj map[string]any
	if err := json.Unmarshal(payload, &obj); err != nil {
		return artifact.Meta{}, fmt.Errorf("read the reply: %w", err)
	}
	id := text(field(obj, f.ArtifactField))
	if id == "" {
		return artifact.Meta{}, fmt.Errorf("the reply names no file (field %q is empty); -out cannot copy it", f.ArtifactField)
	}
	store, err := artifact.New(dir, 0)
	if err != nil {
		return artifact.Meta{}, err
	}
	m, in, err := store.Open(id)
	if errors.Is(err, artifact.ErrNotFound) {
		return artifact.Meta{}, fmt.Errorf("artifact %s is not in %s (artifacts.dir): -out works on the machine medgate runs on, with its configuration", id, dir)
	}
	if err != nil {
		return artifact.Meta{}, err
	}
	defer in.Close()
	if m.Plugin != plugin {
		return artifact.Meta{}, fmt.Errorf("the reply names a file of plugin %s, not of %s; not copied", m.Plugin, plugin)
	}
	// The copy is made beside dst and renamed over it once complete, so a
	// full disk or an interrupted copy never leaves a truncated file
	// under dst's name; it is readable by its owner only (the export may
	// hold patients' data).
	o, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return artifact.Meta{}, fmt.Errorf("create %s: %w", dst, err)
	}
	defer os.Remove(o.Name()) // after the rename there is nothing left to remove
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return artifact.Meta{}, fmt.Errorf("copy %s to %s: %w; %s is unchanged", m.Name, dst, err, dst)
	}
	if err := o.Sync(); err != nil {
		o.Close()
		return artifact.Meta{}, fmt.Errorf("copy %s to %s: %w; %s is unchanged", m.Name, dst, err, dst)
	}
	if err := o.Close(); err != nil {
		return artifact.Meta{}, fmt.Errorf("copy %s to %s: %w; %s is unchanged", m.Name, dst, err, dst)
	}
	if err := os.Rename(o.Name(), dst); err != nil {
		return artifact.Meta{}, fmt.Errorf("copy %s to %s: %w", m.Name, dst, err)
	}
	return m, nil
}
