package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/pipeline"
)

const exportUsage = `usage: medgate export tracecode [-config FILE] -site S -from 2006-01-02 -to 2006-01-02
                                [-sheets token,bills,codes,mi] [-source upload|platform] [-out FILE] [-timeout D]

Writes the trace-code platform's one-click Excel export: one workbook with the token
operation log, the stock in/out data, the trace-code details and the medical-insurance
upload records of the site for the date range. The export runs in the tracecode plugin
(message tracecode.export through Kafka, like any platform message); progress is printed
as it comes; the workbook is written to the plugin's exportDir and its path, size and
SHA-256 are printed. With -out the file is also copied there (same machine only) and
its SHA-256 checked.`

// exportCmd serves `medgate export <target>`; only tracecode exists.
func exportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tracecode" {
		return errors.New(exportUsage)
	}
	return exportTracecode(ctx, args[1:], stdout, stderr)
}

// exportTracecode sends tracecode.export, prints the progress events of
// that export, then the reply.
func exportTracecode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export tracecode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tg := targetFlags(fs, 10*time.Minute, "how long to wait for the export")
	from := fs.String("from", "", "first day, 2006-01-02 (required)")
	to := fs.String("to", "", "last day, 2006-01-02 (default: from)")
	sheets := fs.String("sheets", "", "comma-separated sheets: token, bills, codes, mi (default: all)")
	source := fs.String("source", "", "upload or platform: only those documents (default: both)")
	out := fs.String("out", "", "also copy the workbook to this file (same machine)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n\n%s", err, exportUsage)
	}
	var problems []string
	if *tg.site == "" {
		problems = append(problems, "-site is required")
	}
	if _, err := time.Parse("2006-01-02", *from); err != nil {
		problems = append(problems, "-from is required, as 2006-01-02")
	}
	if *to == "" {
		*to = *from
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s\n\n%s", strings.Join(problems, "; "), exportUsage)
	}
	payload := map[string]any{"from": *from, "to": *to}
	if *sheets != "" {
		payload["sheets"] = strings.Split(*sheets, ",")
	}
	if *source != "" {
		payload["source"] = *source
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	id := newID("export-")
	env := pipeline.Envelope{ID: id, Site: *tg.site, Type: "tracecode.export", OccurredAt: time.Now().Format(time.RFC3339), Format: "json", Payload: raw}
	c, err := tg.client("medgate-export")
	if err != nil {
		return err
	}
	r, _, err := c.do(ctx, call{env: env, timeout: *tg.timeout,
		hint: "is medgate running with the tracecode plugin? (a very large export may need a longer -timeout and processing.callTimeout)",
		sent: func(string) {
			fmt.Fprintf(stderr, "export %s of site %s, %s to %s, requested; waiting…\n", id, *tg.site, *from, *to)
		},
		progress: func(ctx context.Context, events *bus.Tail, done chan<- struct{}) {
			printProgress(ctx, events, id, stderr, done)
		}})
	if err != nil {
		return err
	}
	if err := printJSON(stdout, r); err != nil {
		return err
	}
	if r.Status != pipeline.StatusOK {
		var msgs []string
		for _, e := range r.Errors {
			msgs = append(msgs, strings.TrimSpace(e.Field+" "+e.Message))
		}
		return fmt.Errorf("the export %s: %s", r.Status, strings.Join(msgs, "; "))
	}
	if *out != "" {
		var rep struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
		}
		if err := json.Unmarshal(r.Payload, &rep); err != nil {
			return fmt.Errorf("read the export reply: %w", err)
		}
		if err := copyChecked(rep.Path, *out, rep.SHA256); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "copied to %s\n", *out)
	}
	return nil
}

// printProgress prints the progress events of one export and closes done
// after the last one.
func printProgress(ctx context.Context, events *bus.Tail, id string, w io.Writer, done chan<- struct{}) {
	for {
		m, err := events.Next(ctx)
		if err != nil || m == nil {
			return
		}
		var ev struct {
			Type    string `json:"type"`
			Payload struct {
				ExportID  string `json:"exportId"`
				Sheet     string `json:"sheet"`
				SheetRows int64  `json:"sheetRows"`
				Rows      int64  `json:"rows"`
				Done      bool   `json:"done"`
			} `json:"payload"`
		}
		if json.Unmarshal(m.Value, &ev) != nil || ev.Type != "tracecode.export.progress" || ev.Payload.ExportID != id {
			continue
		}
		if ev.Payload.Done {
			fmt.Fprintf(w, "  written: %d rows in all\n", ev.Payload.Rows)
			close(done)
			return
		}
		fmt.Fprintf(w, "  %s: %d rows (%d in all)\n", ev.Payload.Sheet, ev.Payload.SheetRows, ev.Payload.Rows)
	}
}

// copyChecked copies src to dst and checks its SHA-256.
func copyChecked(src, dst, want string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open the workbook %s: %w; -out works on the machine medgate writes exports on, otherwise fetch the file from exportDir", src, err)
	}
	defer in.Close()
	o, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(o, h), in); err != nil {
		o.Close()
		return fmt.Errorf("copy the workbook to %s: %w", dst, err)
	}
	if err := o.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dst, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("the copy %s has SHA-256 %s, the export reported %s; the file changed meanwhile, export again", dst, got, want)
	}
	return nil
}
