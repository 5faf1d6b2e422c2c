package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pipeline"
)

const selfpayUsage = `usage: medgate selfpay import-pending [-config FILE] [-site S] [-sheet NAME] [-verify] [-json] [-timeout D] LIST.xlsx|LIST.csv

Reads the pending self-pay list exported from the medical-insurance system
and reports, per patient, whether medgate has uploaded it, failed (and why)
or not seen it yet. -verify also asks the platform (4208) about each patient.
The file goes to the running medgate as a selfpay.import-pending message.`

// selfpayCmd runs `medgate selfpay …`.
func selfpayCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "import-pending" {
		return errors.New(selfpayUsage)
	}
	fs := flag.NewFlagSet("selfpay import-pending", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := configFlag(fs)
	site := fs.String("site", "", "site code (default: the only site with the selfpay plugin enabled)")
	sheet := fs.String("sheet", "", "XLSX sheet (default: the first)")
	verify := fs.Bool("verify", false, "also ask the platform (4208) about each patient")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the report")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w\n\n%s", err, selfpayUsage)
	}
	if fs.NArg() != 1 {
		return errors.New(selfpayUsage)
	}
	file := fs.Arg(0)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read the pending list: %w", err)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *site == "" {
		if *site, err = selfpaySite(cfg); err != nil {
			return err
		}
	}
	payload, _ := json.Marshal(map[string]any{"filename": filepath.Base(file), "content": base64.StdEncoding.EncodeToString(data), "sheet": *sheet, "verify": *verify})
	reply, err := request(ctx, cfg, *site, "selfpay.import-pending", payload, *timeout)
	if err != nil {
		return err
	}
	if reply.Status != pipeline.StatusOK {
		for _, e := range reply.Errors {
			fmt.Fprintf(stdout, "%s: %s: %s\n", e.Field, e.Rule, e.Message)
		}
		return fmt.Errorf("import-pending: %s", reply.Status)
	}
	if *asJSON {
		return printRawJSON(stdout, reply.Payload)
	}
	return printPending(stdout, reply.Payload)
}

// selfpaySite returns the only site that enables the selfpay plugin.
func selfpaySite(cfg *config.Config) (string, error) {
	var sites []string
	for _, s := range cfg.Sites {
		if p, ok := s.Plugins["selfpay"]; ok && p.IsEnabled() {
			sites = append(sites, s.Code)
		}
	}
	switch len(sites) {
	case 1:
		return sites[0], nil
	case 0:
		return "", errors.New("no site enables the selfpay plugin; enable it in the configuration or give -site")
	}
	return "", fmt.Errorf("several sites enable the selfpay plugin (%s); choose one with -site", strings.Join(sites, ", "))
}

// request puts one selfpay message on the request topic and waits for its
// reply.
func request(ctx context.Context, cfg *config.Config, site, typ string, payload []byte, timeout time.Duration) (*pipeline.Reply, error) {
	c, err := newClient(cfg, "medgate-selfpay", "")
	if err != nil {
		return nil, err
	}
	env := pipeline.Envelope{ID: newID("cli-"), Site: site, Type: typ, OccurredAt: time.Now().Format(time.RFC3339), Format: "json", Payload: payload}
	r, _, err := c.do(ctx, call{env: env, timeout: timeout,
		hint: fmt.Sprintf("is medgate running (medgate run) with the selfpay plugin enabled for site %s?", site),
		sent: func(topic string) {
			fmt.Fprintf(os.Stderr, "sent %s (%s) to %s; waiting for the reply…\n", env.ID, typ, topic)
		}})
	return r, err
}

// pendingReport is the part of the plugin's report the table shows.
type pendingReport struct {
	File     string            `json:"file"`
	Rows     int               `json:"rows"`
	Verified bool              `json:"verified"`
	Summary  map[string]int    `json:"summary"`
	Columns  map[string]string `json:"columns"`
	Patients []struct {
		Row      int    `json:"row"`
		MdtrtID  string `json:"fixmedinsMdtrtId"`
		Name     string `json:"psnName"`
		Certno   string `json:"certno"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		Platform string `json:"platform"`
	} `json:"patients"`
}

// printPending prints the report as a summary line and a table.
func printPending(w io.Writer, payload []byte) error {
	var rep pendingReport
	if err := json.Unmarshal(payload, &rep); err != nil {
		return fmt.Errorf("the report is not readable (%w); run with -json to see it", err)
	}
	var counts []string
	for _, s := range []string{"pending", "uploading", "uploaded", "failed", "cancelling", "cancelled", "invalid"} {
		if n := rep.Summary[s]; n > 0 {
			counts = append(counts, fmt.Sprintf("%s %d", s, n))
		}
	}
	fmt.Fprintf(w, "%s: %d patients — %s\n", rep.File, rep.Rows, strings.Join(counts, ", "))
	if len(rep.Columns) > 0 {
		var cols []string
		for f, h := range rep.Columns {
			cols = append(cols, f+"="+h)
		}
		sort.Strings(cols)
		fmt.Fprintf(w, "columns: %s\n", strings.Join(cols, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "ROW\tVISIT\tNAME\tID NUMBER\tSTATUS\tREASON"
	if rep.Verified {
		header = "ROW\tVISIT\tNAME\tID NUMBER\tSTATUS\tPLATFORM\tREASON"
	}
	fmt.Fprintln(tw, header)
	for _, p := range rep.Patients {
		if rep.Verified {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Row, dash(p.MdtrtID), dash(p.Name), dash(p.Certno), p.Status, dash(p.Platform), p.Reason)
		} else {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.Row, dash(p.MdtrtID), dash(p.Name), dash(p.Certno), p.Status, p.Reason)
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
