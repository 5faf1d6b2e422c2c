// Package cli implements the medgate command line: the built-in commands
// (run, check-config, send, the admin shortcuts, transform test,
// import-spec, version, help) and the generic path
// `medgate <plugin> <command>` through which every plugin's declared
// commands run.
//
// Exit codes: 0 done (and -h), 1 the command was refused or failed (a
// reply of send or of a plugin command that is not ok among them), 2 the
// command line is wrong (no such command, an unknown flag, a missing or
// extra argument). The README has the table.
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
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/checkconfig"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
)

// command is one built-in command of medgate.
type command struct {
	name  string // as typed; "job run" is two words
	usage string // the arguments after the name
	help  string // one line
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands are the built-in commands. Plugins add theirs through their
// declarations: `medgate <plugin> <command>` (see plugincmd.go).
var commands = []command{
	{"run", "[-config FILE]", "start the gateway", run},
	{"check-config", "[-config FILE]", "check the configuration, plugins and site settings; list every problem",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return checkConfig(ctx, args, stdout)
		}},
	{"send", "[-config FILE] [-brokers B] -site S -type T (-payload JSON | -payload-file F) [-format json|hl7v2] [-key K] [-id ID] [-occurred-at T] [-timeout D] [-reveal]",
		"put one message on the request topic and print its reply (personal data masked unless -reveal is granted)",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error { return send(ctx, args, stdout) }},
	{"reload", "[-config FILE] [-addr HOST:PORT]", "ask the running medgate to reload its configuration (same as SIGHUP)",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return admin(ctx, args, "POST", "/admin/reload", stdout)
		}},
	{"plugins", "[-config FILE] [-addr HOST:PORT]", "list plugins, their operations, jobs and sites (from the running medgate)",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return admin(ctx, args, "GET", "/admin/plugins", stdout)
		}},
	{"jobs", "[-config FILE] [-addr HOST:PORT]", "list scheduled jobs",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return admin(ctx, args, "GET", "/admin/jobs", stdout)
		}},
	{"job run", "[-config FILE] [-addr HOST:PORT] [-json] PLUGIN/SITE/JOB", "run a job now and print what it did",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error { return jobRun(ctx, args, stdout) }},
	{"replay", "[-config FILE] [-addr HOST:PORT] ID | -failed [-site S[,S2]] [-type T] [-since 2h | -from T [-to T]] [-dry-run]", "send a failed message through again (the plugin reconciles first); -failed: every failed message the filters select, at most 1000 a run",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error { return replay(ctx, args, stdout) }},
	{"unlock", "[-config FILE] [-addr HOST:PORT] [-from IP] USER | -token",
		"lift a user's sign-in lockout (console and admin API), or with -token the admin token's (console sign-ins with it, failed bearer tokens), on the running medgate: every address, or -from one; with several instances, run it against each",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error { return unlock(ctx, args, stdout) }},
	{"transform test", "[-dir DIR] [-schemas DIR] [-v] [MAPPING…]", "run the examples of the transform mappings",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return transformTest(ctx, args, stdout)
		}},
	{"import-spec", "-system SYSTEM [-out DIR] [-force] SPEC.docx|SPEC.xlsx|SPEC.csv", "turn an official spec's field tables into schema files",
		func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return importSpec(ctx, args, stdout)
		}},
	{"version", "", "print the version",
		func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "medgate", daemon.Version)
			return nil
		}},
}

// builtins are the commands by name, for their -h (flagSet), which the
// commands' own functions print: set at init.
var builtins = map[string]command{}

// help lists the commands, so it joins them at init.
func init() {
	commands = append(commands, command{"help", "[-config FILE]", "this list, with the commands of the configured plugins", help})
	for _, c := range commands {
		builtins[c.name] = c
	}
}

const intro = "medgate connects the hospital integration platform (Kafka) to external systems through adapter plugins.\n"

const outro = `
The configuration file defaults to $MEDGATE_CONFIG, else medgate.yaml.
`

// usage lists the built-in commands.
func usage(w io.Writer) {
	fmt.Fprint(w, intro, "\nUsage:\n")
	for _, c := range commands {
		commandLine(w, c.name+" "+c.usage, c.help)
	}
}

// commandLine prints one command of a list: its usage, then what it does.
func commandLine(w io.Writer, use, help string) {
	fmt.Fprintf(w, "  medgate %s\n        %s\n", strings.TrimSpace(use), help)
}

// help lists every command: the built-in ones, then those the configured
// plugins declare.
func help(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage(stdout)
	cfgPath := configPath(args)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(stdout, "\nPlugin commands: none listed, the configuration %s cannot be read (%v); give -config FILE.\n%s", cfgPath, err, outro)
		return nil
	}
	fmt.Fprintf(stdout, "\nPlugin commands (from %s; `medgate PLUGIN COMMAND -h` for each):\n", cfg.File)
	for _, p := range cfg.Plugins {
		proc, err := launchPlugin(ctx, cfg, p.Name, stderr)
		if err != nil {
			commandLine(stdout, p.Name+" …", fmt.Sprintf("(cannot start the plugin: %v)", err))
			continue
		}
		for _, c := range proc.Description().Commands {
			commandLine(stdout, p.Name+" "+c.Name+" "+commandSynopsis(c), c.Summary)
		}
		proc.Close()
	}
	fmt.Fprint(stdout, outro)
	return nil
}

// find returns the built-in command args start with and the remaining
// arguments.
func find(args []string) (*command, []string) {
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c, args[len(words):]
		}
	}
	return nil, nil
}

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		fmt.Fprint(stderr, "\nPlugin commands: `medgate help` lists them.\n", outro)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "-version", "--version":
		args = []string{"version"}
	case "-h", "-help", "--help":
		args = []string{"help"}
	}
	if c, rest := find(args); c != nil {
		err = c.run(ctx, rest, stdout, stderr)
	} else {
		err = pluginCommand(ctx, args, stdout, stderr)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ps config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
			return 1
		}
		fmt.Fprintln(stderr, "medgate:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError is a wrong command line: no such command, an unknown flag,
// a missing or extra argument. Main exits 2 on it (1 is a command that
// failed), as the flag package does.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// flagSet is the flag set of the built-in command name, whose -h prints
// the command's usage line, what it does, its flags and the exit codes.
func flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		if c, ok := builtins[name]; ok {
			fmt.Fprintf(w, "usage: medgate %s %s\n\n%s\n\n", c.name, c.usage, c.help)
		}
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
		fmt.Fprintln(w, "\nExit: 0 done, 1 refused or failed (stderr says why), 2 a wrong command line.")
	}
	return fs
}

// parseFlags parses args with fs; a wrong command line is a usageError.
// More than maxArgs arguments after the flags are refused (maxArgs < 0:
// any number, the command checks them).
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%s: %v; `medgate %s -h` lists its flags", fs.Name(), err, fs.Name())}
	}
	if maxArgs >= 0 && fs.NArg() > maxArgs {
		return usageError{fmt.Sprintf("%s: unexpected argument %q (flags go before arguments; a value with spaces needs quotes); `medgate %s -h` lists its flags", fs.Name(), fs.Arg(maxArgs), fs.Name())}
	}
	return nil
}

func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("MEDGATE_CONFIG")
	if def == "" {
		def = "medgate.yaml"
	}
	return fs.String("config", def, "configuration file")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("run")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := configMissing(*cfgPath, ""); err != nil {
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
		site, typ := firstOperation(cfg, func(name string) []string {
			var types []string
			if in := d.Plugin(name); in != nil && in.Description() != nil {
				for _, op := range in.Description().Operations {
					types = append(types, op.Type)
				}
			}
			return types
		})
		if typ == "" {
			fmt.Fprintf(stdout, "No site enables a plugin with operations yet: enable one under sites[].plugins, then reload.\n")
		} else {
			firstMessageHint(stdout, os.Args[0], *cfgPath, d.HTTPAddr(), site, typ, ingressAuth(cfg, site))
		}
		fmt.Fprintf(stdout, "Stop with Ctrl-C. Reload the configuration with: kill -HUP %d\n", os.Getpid())
	}})
}

// firstMessageHint prints how to send a first message of type typ to site
// from another terminal, with the configuration medgate runs with: the
// commands name the medgate binary as it was started (prog, os.Args[0]:
// /opt/medgate/bin/medgate on a server, where there is no bin/medgate),
// and the curl line sends the ingress token (auth, see ingressAuth) when
// the ingress needs one, else it is answered 401.
func firstMessageHint(w io.Writer, prog, cfgPath, addr, site, typ, auth string) {
	fmt.Fprintf(w, "Send a first message from another terminal (an invalid reply lists every field the payload lacks):\n")
	fmt.Fprintf(w, "  %s send -config %s -site %s -type %s -payload '{}'\n", prog, cfgPath, site, typ)
	fmt.Fprintf(w, "  %s\n", curlHint(addr, site, typ, auth))
	fmt.Fprintf(w, "Every operation of the running plugins: %s plugins -config %s\n", prog, cfgPath)
}

// curlHint is the command line that posts a first message to the HTTP
// ingress, which takes only JSON bodies sent as application/json, with
// the header auth (none when empty).
func curlHint(addr, site, typ, auth string) string {
	body := fmt.Sprintf(`{"id":"m-1","site":%q,"type":%q,"payload":{}}`, site, typ)
	if auth != "" {
		auth += " "
	}
	return fmt.Sprintf("curl -s http://%s/v1/messages %s-H 'Content-Type: application/json' -d '%s'", addr, auth, body)
}

// ingressAuth is the curl option that sends an ingress token site's
// messages are accepted with (the first http.clients entry allowed the
// site, else http.ingressToken), the shell reading it where the
// configuration keeps it, so the hint shows no secret: -H "Authorization:
// Bearer $(cat 'FILE')" or "… $VARIABLE". Empty when the ingress needs no
// token, or none is allowed the site.
func ingressAuth(cfg *config.Config, site string) string {
	ref := ""
	for _, c := range cfg.HTTP.Clients {
		if len(c.Sites) == 0 || slices.Contains(c.Sites, site) {
			ref = c.Token
			break
		}
	}
	if ref == "" {
		ref = cfg.HTTP.IngressToken
	}
	if name, ok := strings.CutPrefix(ref, "env:"); ok && name != "" {
		return `-H "Authorization: Bearer $` + name + `"`
	}
	if path, ok := strings.CutPrefix(ref, "file:"); ok && path != "" {
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(cfg.File), path)
		}
		return `-H "Authorization: Bearer $(cat '` + strings.ReplaceAll(path, "'", `'\''`) + `')"`
	}
	return ""
}

// firstOperation picks the message type of the first-message hint: the
// first operation of the first enabled plugin (by name) of the first site
// that enables one. The host knows no plugin by name, so the hint comes
// from what the running plugins declare (operations of a plugin by name).
func firstOperation(cfg *config.Config, operations func(plugin string) []string) (site, typ string) {
	for _, s := range cfg.Sites {
		names := make([]string, 0, len(s.Plugins))
		for name, p := range s.Plugins {
			if p.IsEnabled() {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			if types := operations(name); len(types) > 0 {
				return s.Code, types[0]
			}
		}
	}
	return "", ""
}

func checkConfig(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flagSet("check-config")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := configMissing(*cfgPath, ""); err != nil {
		return err
	}
	// Warnings are printed first, also above the problems: they do not
	// fail the check (exit 0 when there is nothing else).
	warnings, err := checkconfig.CheckWarn(ctx, *cfgPath)
	for _, w := range warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: configuration OK (plugins verified and launched, every site's settings accepted)\n", *cfgPath)
	return nil
}

// admin calls the running medgate's admin API.
func admin(ctx context.Context, args []string, method, path string, stdout io.Writer) error {
	fs := flagSet(strings.TrimPrefix(path, "/admin/"))
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "HTTP address of medgate (default: http.listen from the configuration)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	return adminCall(ctx, *cfgPath, *addr, method, path, stdout)
}

// jobRun runs a job now through the admin API and prints what the run
// did: its summary, the records it processed, when it started and how
// long it took; a run that failed is an error with the job's error and
// what to do next (exit 1). With -json it prints the API's answer (api.JobRun
// and its status, or the error with the run's fields) and exits the same.
func jobRun(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flagSet("job run")
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "HTTP address of medgate (default: http.listen from the configuration)")
	asJSON := fs.Bool("json", false, "print the admin API's answer as JSON instead")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 || strings.Count(fs.Arg(0), "/") != 2 {
		return usageError{"usage: medgate job run [-config FILE] [-json] PLUGIN/SITE/JOB (see `medgate jobs`)"}
	}
	if *asJSON {
		return adminCall(ctx, *cfgPath, *addr, "POST", "/admin/jobs/"+fs.Arg(0)+"/run", stdout)
	}
	a, err := adminRequest(ctx, *cfgPath, *addr, "POST", "/admin/jobs/"+fs.Arg(0)+"/run")
	if err != nil {
		return err
	}
	var run struct {
		api.JobRun
		Code, Message string
	}
	if a.status != http.StatusOK && a.status != http.StatusBadGateway || json.Unmarshal(a.body, &run) != nil || run.Job == "" {
		// Refused, not run (unknown job, another instance's, the role),
		// or a medgate older than this command.
		if err := a.err(); err != nil {
			return err
		}
		stdout.Write(a.body)
		return nil
	}
	when := ""
	if !run.StartedAt.IsZero() {
		when = ", started " + showTime(run.StartedAt, a.loc)
	}
	if a.status == http.StatusBadGateway {
		msg := run.Message
		if !run.NextRun.IsZero() {
			// The API's retry time, shown as every time the CLI prints.
			msg = strings.Replace(msg, "the scheduler tries it again at "+run.NextRun.Format(time.RFC3339), "it is tried again at "+showTime(run.NextRun, a.loc), 1)
		}
		return fmt.Errorf("job %s failed (took %s%s): %s", run.Job, run.Took, when, msg)
	}
	fmt.Fprintf(stdout, "job %s ran: took %s%s\n", run.Job, run.Took, when)
	if run.Summary != "" {
		fmt.Fprintf(stdout, "summary: %s\n", run.Summary)
	}
	fmt.Fprintf(stdout, "processed: %d\n", run.Processed)
	return nil
}

// showTime formats a time as the CLI prints times (as the console shows
// them): in console.timeZone of the configuration (loc), its offset shown,
// 2026-12-05 16:02:03 UTC+08:00.
func showTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04:05 UTC-07:00")
}

// replay asks the running medgate to replay one failed message, or with
// -failed every failed message its filters select (replaybulk.go). Its
// flags come before the id, as for job run, so that -h prints its usage.
func replay(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flagSet("replay")
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "HTTP address of medgate (default: http.listen from the configuration)")
	bulk := bulkFlags(fs)
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if *bulk.failed {
		if fs.NArg() > 0 {
			return usageError{fmt.Sprintf("replay: -failed replays the failed messages its filters select and takes no MESSAGE-ID (got %q): give either -failed with -site, -type, -since…, or one MESSAGE-ID without -failed", fs.Arg(0))}
		}
		return bulk.run(ctx, *cfgPath, *addr, stdout)
	}
	if set := bulk.filtersSet(fs); len(set) > 0 {
		return usageError{fmt.Sprintf("replay: %s select(s) failed messages to replay in bulk: add -failed (medgate replay -failed %s…), or give one MESSAGE-ID without them", strings.Join(set, ", "), set[0])}
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		return usageError{"usage: medgate replay [-config FILE] [-addr HOST:PORT] MESSAGE-ID (a message whose outcome is failed), or medgate replay -failed [-site S[,S2]] [-type T] [-since 2h | -from T -to T] [-dry-run] (every failed message they select); see `medgate replay -h`"}
	}
	return adminCall(ctx, *cfgPath, *addr, "POST", "/admin/messages/"+url.PathEscape(fs.Arg(0))+"/replay", stdout)
}

func adminCall(ctx context.Context, cfgPath, addr, method, path string, stdout io.Writer) error {
	a, err := adminRequest(ctx, cfgPath, addr, method, path)
	if err != nil {
		return err
	}
	var pretty any
	if json.Unmarshal(a.body, &pretty) == nil {
		_ = printJSON(stdout, inZone(pretty, a.loc))
	} else {
		stdout.Write(a.body)
	}
	return a.err()
}

// inZone returns the decoded JSON v with every time in it (a string that
// is a whole RFC 3339 time, as the admin API writes them in UTC) written
// in loc, console.timeZone, with its offset: the same instant, still RFC
// 3339, so that `medgate jobs` shows a Xiamen operator 10:54+08:00 as
// the console does, not 02:54Z.
func inZone(v any, loc *time.Location) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = inZone(e, loc)
		}
	case []any:
		for i, e := range v {
			v[i] = inZone(e, loc)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && loc != nil {
			return t.In(loc).Format(time.RFC3339Nano)
		}
	}
	return v
}

// adminAnswer is the running medgate's answer to one admin API request.
type adminAnswer struct {
	method, path string
	// addr is the address asked (-addr, else http.listen).
	addr       string
	status     int
	statusText string
	body       []byte
	cfgFile    string
	sentToken  bool
	// loc is console.timeZone of the configuration: the zone the
	// command prints times in (showTime).
	loc *time.Location
}

// adminRequest sends one request to the admin API of the medgate that
// runs with the configuration cfgPath (at addr, else its http.listen),
// signed as adminAuth says, and reads the answer.
func adminRequest(ctx context.Context, cfgPath, addr, method, path string) (*adminAnswer, error) {
	var token string
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	addrFrom := "-addr"
	if addr == "" {
		addr, addrFrom = cfg.HTTP.Listen, "http.listen of "+cfg.File
	}
	if cfg.HTTP.AdminToken != "" && os.Getenv("MEDGATE_USER") == "" {
		if token, err = cfg.Secret(cfg.HTTP.AdminToken); err != nil {
			return nil, fmt.Errorf("http.adminToken of %s: %w; this command reads the admin token as medgate does, so it needs the same variable or file: export it in this shell (or run as the account medgate runs as), or sign in as a console user instead: MEDGATE_USER=NAME (the password is asked)", cfg.File, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	if err := adminAuth(req, token); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach medgate at %s (from %s): %w; is it running (medgate run)? If it listens elsewhere, give -addr HOST:PORT, or -config the file it runs with", addr, addrFrom, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &adminAnswer{method: method, path: path, addr: addr, status: resp.StatusCode, statusText: resp.Status, body: body,
		cfgFile: cfg.File, sentToken: token != "", loc: cfg.Console.Location()}, nil
}

// err is the error of an answer that is not a success (nil for one):
// the request, the status, the API's own message and, for a refusal of
// the credentials, how to send others.
func (a *adminAnswer) err() error {
	if a.status < 300 {
		return nil
	}
	var e struct{ Code, Message string }
	_ = json.Unmarshal(a.body, &e)
	msg := ""
	if e.Message != "" {
		msg = ": " + e.Message
	}
	return fmt.Errorf("%s %s: %s%s%s", a.method, a.path, a.statusText, msg, refusalHint(a.status, e.Code, a.method, a.path, a.cfgFile, a.sentToken))
}

// refusalHint says, for an admin API refusal (401, 403), which
// credentials were sent and how to send others. It never holds a secret.
func refusalHint(status int, code, method, path, cfgFile string, sentToken bool) string {
	user := os.Getenv("MEDGATE_USER")
	switch {
	case status == http.StatusUnauthorized && user != "":
		return fmt.Sprintf("; medgate user %q and that password were refused (wrong password, disabled, or locked out after failures): check with `medgate user list`, or unset MEDGATE_USER to use http.adminToken of %s", user, cfgFile)
	case status == http.StatusUnauthorized && sentToken:
		return fmt.Sprintf("; the running medgate refused http.adminToken of %s: is it the configuration that medgate runs with (-config)? Or sign in as a medgate user: MEDGATE_USER=NAME (the password is asked)", cfgFile)
	case status == http.StatusUnauthorized:
		return fmt.Sprintf("; no credentials were sent: %s sets no http.adminToken and MEDGATE_USER is empty; give -config the file medgate runs with, or sign in as a medgate user: MEDGATE_USER=NAME (the password is asked)", cfgFile)
	case status == http.StatusTooManyRequests && code == "too_many_failures" && sentToken:
		return "; the address this command calls from waits after failed tokens, so the admin token is refused from here for now: wait the seconds the message gives, " +
			"or sign in as a medgate admin user (MEDGATE_USER=NAME; a user's sign-in does not wait for failed tokens) and lift the wait with medgate unlock -token -from ADDRESS"
	case status == http.StatusForbidden && code == "site_scoped":
		return "" // the API's message names the sites and what to do
	case status == http.StatusForbidden:
		return fmt.Sprintf("; the credentials are valid but their role may not call %s %s: sign in as a user with the role it needs (README, route → role table) or use http.adminToken", method, path)
	}
	return ""
}
