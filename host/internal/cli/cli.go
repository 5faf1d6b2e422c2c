// Package cli implements the medgate command line: run, check-config,
// send, import-keys, ping, version, and the admin shortcuts (reload,
// plugins, jobs, job run).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
)

const usage = `medgate connects the hospital integration platform (Kafka) to external systems through adapter plugins.

Usage:
  medgate run          [-config FILE]     start the gateway
  medgate check-config [-config FILE]     check the configuration, plugins and site settings; list every problem
  medgate send         [-config FILE] -site S -type T (-payload JSON | -payload-file F) [-key K] [-id ID] [-occurred-at T] [-timeout D]
                                          put one message on the request topic and print its reply
  medgate reload       [-config FILE]     ask the running medgate to reload its configuration (same as SIGHUP)
  medgate plugins      [-config FILE]     list plugins, their operations, jobs and sites
  medgate jobs         [-config FILE]     list scheduled jobs
  medgate job run      [-config FILE] PLUGIN/SITE/JOB   run a job now
  medgate replay       [-config FILE] ID  send a failed message through again (the plugin reconciles first)
  medgate import-keys  [-config FILE] -site S -private FILE -peer-public FILE [-password-env VAR]
                                          import the SM2 keys of the work-injury system into the site's keyDir
  medgate ping         [-config FILE] workinjury -site S
                                          connectivity test (GYU000) through the running medgate
  medgate version                         print the version

The configuration file defaults to $MEDGATE_CONFIG, else medgate.yaml.
`

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = run(ctx, args[1:], stdout, stderr)
	case "check-config":
		err = checkConfig(ctx, args[1:], stdout)
	case "send":
		err = send(ctx, args[1:], stdout)
	case "reload":
		err = admin(ctx, args[1:], "POST", "/admin/reload", stdout)
	case "plugins":
		err = admin(ctx, args[1:], "GET", "/admin/plugins", stdout)
	case "jobs":
		err = admin(ctx, args[1:], "GET", "/admin/jobs", stdout)
	case "replay":
		if len(args) < 2 {
			err = errors.New("usage: medgate replay [-config FILE] MESSAGE-ID (a message whose outcome is failed)")
			break
		}
		id := args[len(args)-1]
		err = admin(ctx, args[1:len(args)-1], "POST", "/admin/messages/"+url.PathEscape(id)+"/replay", stdout)
	case "job":
		err = jobRun(ctx, args[1:], stdout)
	case "export":
		err = exportCmd(ctx, args[1:], stdout, stderr)
	case "selfpay":
		err = selfpayCmd(ctx, args[1:], stdout)
	case "transform":
		err = transformTest(ctx, args[1:], stdout)
	case "import-keys":
		err = importKeys(ctx, args[1:], stdout)
	case "import-spec":
		err = importSpec(ctx, args[1:], stdout)
	case "ping":
		err = ping(ctx, args[1:], stdout)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "medgate", daemon.Version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "medgate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
			return 1
		}
		fmt.Fprintln(stderr, "medgate:", err)
		return 1
	}
	return 0
}

func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("MEDGATE_CONFIG")
	if def == "" {
		def = "medgate.yaml"
	}
	return fs.String("config", def, "configuration file")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	return daemon.Run(ctx, *cfgPath, reload, daemon.Options{Out: stderr, Ready: func(d *daemon.Daemon) {
		cfg := d.Config()
		fmt.Fprintf(stdout, "medgate %s is running\n", daemon.Version)
		fmt.Fprintf(stdout, "  Kafka brokers:  %s (requests: %s, replies: %s, events: %s, dlq: %s)\n", strings.Join(d.Brokers(), ","),
			cfg.Kafka.Topics.Requests, cfg.Kafka.Topics.Replies, cfg.Kafka.Topics.Events, cfg.Kafka.Topics.DLQ)
		fmt.Fprintf(stdout, "  HTTP:           http://%s  (POST /v1/messages, /healthz, /readyz, /metrics, /admin/...)\n", d.HTTPAddr())
		var sites []string
		for _, s := range cfg.Sites {
			sites = append(sites, s.Code)
		}
		fmt.Fprintf(stdout, "  Sites:          %s\n", strings.Join(sites, ", "))
		fmt.Fprintf(stdout, "Send a first message from another terminal:\n")
		fmt.Fprintf(stdout, "  bin/medgate send -config %s -site %s -type ledger.record -payload '{\"seq\":1}'\n", *cfgPath, firstOr(sites, "demo"))
		fmt.Fprintf(stdout, "  curl -s http://%s/v1/messages -d '{\"id\":\"m-1\",\"site\":\"%s\",\"type\":\"ledger.record\",\"payload\":{\"seq\":1}}'\n", d.HTTPAddr(), firstOr(sites, "demo"))
		fmt.Fprintf(stdout, "Stop with Ctrl-C. Reload the configuration with: kill -HUP %d\n", os.Getpid())
	}})
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func checkConfig(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := daemon.Check(ctx, *cfgPath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: configuration OK (plugins verified and launched, every site's settings accepted)\n", *cfgPath)
	return nil
}

// admin calls the running medgate's admin API.
func admin(ctx context.Context, args []string, method, path string, stdout io.Writer) error {
	fs := flag.NewFlagSet(strings.TrimPrefix(path, "/admin/"), flag.ContinueOnError)
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "HTTP address of medgate (default: http.listen from the configuration)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return adminCall(ctx, *cfgPath, *addr, method, path, stdout)
}

func jobRun(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		return errors.New("usage: medgate job run [-config FILE] PLUGIN/SITE/JOB")
	}
	fs := flag.NewFlagSet("job run", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "HTTP address of medgate")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 || strings.Count(fs.Arg(0), "/") != 2 {
		return errors.New("usage: medgate job run [-config FILE] PLUGIN/SITE/JOB (see `medgate jobs`)")
	}
	return adminCall(ctx, *cfgPath, *addr, "POST", "/admin/jobs/"+fs.Arg(0)+"/run", stdout)
}

func adminCall(ctx context.Context, cfgPath, addr, method, path string, stdout io.Writer) error {
	var token string
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	if addr == "" {
		addr = cfg.HTTP.Listen
	}
	if cfg.HTTP.AdminToken != "" {
		if token, err = cfg.Secret(cfg.HTTP.AdminToken); err != nil {
			return fmt.Errorf("http.adminToken: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach medgate at %s: %w; is it running (medgate run)?", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var pretty any
	if json.Unmarshal(body, &pretty) == nil {
		_ = printJSON(stdout, pretty)
	} else {
		stdout.Write(body)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return nil
}
