package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk"
)

// defaultCommandTimeout bounds a remote command that declares no timeout.
const defaultCommandTimeout = time.Minute

// configPath returns the value of -config among args, or the default.
func configPath(args []string) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	return *configFlag(fs)
}

// launchPlugin starts the configured plugin name, checksum verified, to
// read its declarations or run a local command.
func launchPlugin(ctx context.Context, cfg *config.Config, name string, _ io.Writer) (*pluginhost.Process, error) {
	for _, p := range cfg.Plugins {
		if p.Name != name {
			continue
		}
		sum, err := cfg.Checksum(p)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return pluginhost.Launch(ctx, pluginhost.Spec{Name: p.Name, Path: p.Path, SHA256: sum}, io.Discard)
	}
	return nil, fmt.Errorf("no plugin %q in %s", name, cfg.File)
}

// pluginCommand runs `medgate <plugin> <command> …`: the command as the
// plugin declared it.
func pluginCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name := args[0]
	unknown := usageError{fmt.Sprintf("unknown command %q; `medgate help` lists the commands", name)}
	if strings.HasPrefix(name, "-") {
		return unknown
	}
	cfg, err := loadConfig(configPath(args[1:]))
	if err != nil {
		unknown.msg += unknownCommandHint(args, nil)
		return fmt.Errorf("%w (reading the configuration to look for a plugin %q: %w)", unknown, name, err)
	}
	if !hasPlugin(cfg, name) {
		var plugins []string
		for _, p := range cfg.Plugins {
			plugins = append(plugins, p.Name)
		}
		return usageError{fmt.Sprintf("unknown command %q: not built in, and %s configures no such plugin; `medgate help` lists the commands%s", name, cfg.File, unknownCommandHint(args, plugins))}
	}
	proc, err := launchPlugin(ctx, cfg, name, stderr)
	if err != nil {
		return err
	}
	defer proc.Close()
	desc := proc.Description()
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		pluginHelp(stdout, desc)
		if len(args) >= 2 && isHelpFlag(args[1]) {
			return nil
		}
		return usageError{fmt.Sprintf("give one of the %s commands listed above", name)}
	}
	for _, c := range desc.Commands {
		if c.Name == args[1] {
			return runDeclared(ctx, cfg, proc, name, c, args[2:], stdout, stderr)
		}
	}
	pluginHelp(stderr, desc)
	var names []string
	for _, c := range desc.Commands {
		names = append(names, name+" "+c.Name)
	}
	return usageError{fmt.Sprintf("the %s plugin has no command %q%s", name, args[1], didYouMean(name+" "+args[1], names))}
}

func isHelpFlag(a string) bool {
	switch a {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

func hasPlugin(cfg *config.Config, name string) bool {
	for _, p := range cfg.Plugins {
		if p.Name == name {
			return true
		}
	}
	return false
}

// pluginHelp lists a plugin's commands.
func pluginHelp(w io.Writer, d *sdk.DescribeResponse) {
	fmt.Fprintf(w, "%s %s: %s\n", d.Name, d.Version, d.Description)
	if len(d.Commands) == 0 {
		fmt.Fprintf(w, "The %s plugin declares no commands; send its operations with `medgate send`.\n", d.Name)
		return
	}
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range d.Commands {
		commandLine(w, d.Name+" "+c.Name+" "+commandSynopsis(c), c.Summary)
	}
}

// commandSynopsis is the argument part of a command's usage line.
func commandSynopsis(c sdk.Command) string {
	parts := []string{"[-config FILE]", "[-site S]"}
	var positional []string
	for _, a := range c.Arguments {
		v := strings.ToUpper(a.Name)
		if len(a.Enum) > 0 {
			v = strings.Join(a.Enum, "|")
		}
		var p string
		switch {
		case a.Positional:
			positional = append(positional, optional(v, a.Required))
			continue
		case a.Type == sdk.SettingBool:
			p = "-" + a.Name
		default:
			p = "-" + a.Name + " " + v
		}
		parts = append(parts, optional(p, a.Required))
	}
	if c.Result.File != nil {
		parts = append(parts, "[-out FILE]")
	}
	if c.Result.HasPersonal() {
		parts = append(parts, "[-reveal]")
	}
	if !c.Local {
		parts = append(parts, "[-timeout D]", "[-json]")
	}
	return strings.Join(append(parts, positional...), " ")
}

func optional(s string, required bool) string {
	if required {
		return s
	}
	return "[" + s + "]"
}

// commandHelp is the help of one command, generated from its declaration.
func commandHelp(w io.Writer, plugin string, c sdk.Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: medgate %s %s %s\n\n%s\n", plugin, c.Name, commandSynopsis(c), c.Summary)
	if c.Description != "" {
		fmt.Fprintf(w, "\n%s\n", c.Description)
	}
	if c.Local {
		fmt.Fprintf(w, "\nRuns on this machine, in the %s plugin binary (checksum verified), with the site's settings.\n", plugin)
	} else {
		fmt.Fprintf(w, "\nSends %s through the running medgate and waits for the reply.\n", c.Operation)
	}
	if role := sdk.RoleOf(c.Role); role != sdk.RoleOperator {
		fmt.Fprintf(w, "The %s plugin declares that it needs the role %s: the running medgate checks the user first (MEDGATE_USER=NAME, else http.adminToken).\n", plugin, role)
	}
	fmt.Fprintln(w, "\nArguments:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	for _, a := range c.Arguments {
		if a.Positional {
			fmt.Fprintf(w, "  %s\n    \t%s\n", strings.ToUpper(a.Name), argumentHelp(a))
		}
	}
}

func argumentHelp(a sdk.Argument) string {
	h := a.Description
	if a.Type != "" && a.Type != sdk.SettingString {
		h += " (" + a.Type + ")"
	}
	if a.Required {
		h += "; required"
	}
	if a.Example != "" {
		h += "; for example " + a.Example
	}
	return h
}

// argFlag is a command-line flag of a declared argument.
type argFlag struct {
	name   string
	vals   map[string]string
	isBool bool
}

func (f *argFlag) String() string {
	if f == nil || f.vals == nil {
		return ""
	}
	return f.vals[f.name]
}

func (f *argFlag) Set(v string) error { f.vals[f.name] = v; return nil }

func (f *argFlag) IsBoolFlag() bool { return f.isBool }

// runDeclared parses the arguments of command c of plugin and runs it.
func runDeclared(ctx context.Context, cfg *config.Config, proc *pluginhost.Process, plugin string, c sdk.Command, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(plugin+" "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configFlag(fs)
	site := fs.String("site", "", "site code (default: the only site that enables "+plugin+")")
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	var brokers, out *string
	var asJSON *bool
	if !c.Local {
		fs.DurationVar(&timeout, "timeout", timeout, "how long to wait for the reply")
		brokers = fs.String("brokers", "", "comma-separated brokers (default: from the configuration)")
		asJSON = fs.Bool("json", false, "print the reply payload as JSON instead")
	}
	if c.Result.File != nil {
		out = fs.String("out", "", "copy the file of the reply here (on the machine medgate runs on)")
	}
	reveal := new(bool)
	if c.Result.HasPersonal() {
		fs.BoolVar(reveal, "reveal", false, "show the values the plugin declares personal (names, ID and phone numbers) unmasked; "+
			"the running medgate must grant it (an admin: MEDGATE_USER=NAME, else http.adminToken) and records it in its audit log (personal.reveal) first")
	}
	vals := map[string]string{}
	var positional []sdk.Argument
	for _, a := range c.Arguments {
		if a.Positional {
			positional = append(positional, a)
			continue
		}
		fs.Var(&argFlag{name: a.Name, vals: vals, isBool: a.Type == sdk.SettingBool}, a.Name, argumentHelp(a))
	}
	fs.Usage = func() { commandHelp(stdout, plugin, c, fs) }
	// Positional arguments may come before, between or after the flags.
	var given []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			var help strings.Builder
			commandHelp(&help, plugin, c, fs)
			return usageError{fmt.Sprintf("%v\n\n%s", err, help.String())}
		}
		if fs.NArg() == 0 {
			break
		}
		given, rest = append(given, fs.Arg(0)), fs.Args()[1:]
	}
	if len(given) > len(positional) {
		return usageError{fmt.Sprintf("medgate %s %s takes %d argument(s) without a flag, got %q; see -h", plugin, c.Name, len(positional), given)}
	}
	for i, v := range given {
		vals[positional[i].Name] = v
	}
	code, err := siteFor(cfg, plugin, *site)
	if err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	checked, problems := pluginhost.CheckSettings(argumentSettings(c.Arguments), vals, cwd, config.IsSecretRef, cfg.Secret)
	if len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = fmt.Sprintf("  %s: %s", p.Setting, p.Message)
		}
		return usageError{fmt.Sprintf("medgate %s %s: the arguments have problems:\n%s\n(see -h)", plugin, c.Name, strings.Join(msgs, "\n"))}
	}
	noteRunningPlugin(ctx, cfg, plugin, proc.Description().Version, c.Local, stderr)
	id := newID("cli-")
	if !c.Local {
		// Checked (and audited) before anything is sent: a refusal
		// leaves nothing done.
		if err := requireRole(ctx, cfg, plugin, code, id, c); err != nil {
			return err
		}
	}
	if *reveal {
		// Granted (and audited) before anything is sent or run: a
		// refusal leaves nothing done.
		target := id
		if c.Local {
			target = plugin + " " + c.Name
		}
		if err := grantReveal(ctx, cfg, code, target); err != nil {
			return err
		}
	}
	if c.Local {
		return runLocal(ctx, cfg, proc, plugin, code, c, checked, *reveal, stdout, stderr)
	}
	payload, err := commandPayload(c.Arguments, checked)
	if err != nil {
		return err
	}
	r, raw, err := sendCommand(ctx, cfg, plugin, code, id, c, payload, timeout, *brokers, *reveal, stderr)
	if err != nil {
		return err
	}
	if err := showReply(stdout, c.Result, r, raw, *asJSON, *reveal); err != nil {
		return err
	}
	if r.Status != message.StatusOK {
		why := ""
		if *asJSON && !c.Result.JSON {
			// -json printed the payload only: say why here (stderr).
			why = refusalReasons(c.Result, r, *reveal)
		}
		return fmt.Errorf("%s %s at site %s: %s%s", plugin, c.Name, code, r.Status, why)
	}
	if out != nil && *out != "" {
		m, err := copyResult(c.Result.File, plugin, cfg.Artifacts.Dir, r.Payload, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "copied %s (%d bytes, SHA-256 %s) to %s\n", m.Name, m.Size, m.SHA256, *out)
	}
	return nil
}

// argumentSettings declares the arguments as settings, so they are checked
// like settings are.
func argumentSettings(args []sdk.Argument) []sdk.Setting {
	out := make([]sdk.Setting, len(args))
	for i, a := range args {
		t := a.Type
		if t == sdk.ArgumentFile {
			t = sdk.SettingPath
		}
		out[i] = sdk.Setting{Name: a.Name, Type: t, Required: a.Required, Default: a.Default, Description: a.Description, Example: a.Example, Enum: a.Enum}
	}
	return out
}

// siteFor returns the site to run a command for: the given one, or the
// only site that enables the plugin.
func siteFor(cfg *config.Config, plugin, given string) (string, error) {
	var sites []string
	for _, s := range cfg.Sites {
		if p, ok := s.Plugins[plugin]; ok && p.IsEnabled() {
			if s.Code == given {
				return given, nil
			}
			sites = append(sites, s.Code)
		}
	}
	switch {
	case given != "":
		return "", fmt.Errorf("site %q does not enable the %s plugin in %s (sites that do: %s)", given, plugin, cfg.File, strings.Join(sites, ", "))
	case len(sites) == 1:
		return sites[0], nil
	case len(sites) == 0:
		return "", fmt.Errorf("no site enables the %s plugin in %s; enable it for a site first", plugin, cfg.File)
	}
	return "", fmt.Errorf("several sites enable the %s plugin (%s); choose one with -site", plugin, strings.Join(sites, ", "))
}

// commandPayload builds the JSON payload of a remote command from its
// checked arguments: numbers and booleans typed, lists as arrays, files
// read and sent as {"name", "content" (base64)}. Empty arguments are left
// out.
func commandPayload(decl []sdk.Argument, vals map[string]string) ([]byte, error) {
	payload := map[string]any{}
	for _, a := range decl {
		v := vals[a.Name]
		if v == "" {
			continue
		}
		switch a.Type {
		case sdk.SettingInt:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("-%s: %w", a.Name, err)
			}
			payload[a.Name] = n
		case sdk.SettingBool:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("-%s: %w", a.Name, err)
			}
			payload[a.Name] = b
		case sdk.ArgumentList:
			var items []string
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, s)
				}
			}
			payload[a.Name] = items
		case sdk.ArgumentFile:
			data, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("%s: read %s: %w", a.Name, v, err)
			}
			payload[a.Name] = map[string]string{"name": filepath.Base(v), "content": base64.StdEncoding.EncodeToString(data)}
		default:
			payload[a.Name] = v
		}
	}
	return json.Marshal(payload)
}

// sendCommand sends the command's operation through the running medgate
// and returns its reply, following the declared progress events.
func sendCommand(ctx context.Context, cfg *config.Config, plugin, site, id string, c sdk.Command, payload []byte, timeout time.Duration, brokers string, reveal bool, stderr io.Writer) (*message.Reply, []byte, error) {
	cl, err := newClient(cfg, "medgate-"+plugin, brokers)
	if err != nil {
		return nil, nil, err
	}
	env := message.Envelope{ID: id, Site: site, Type: c.Operation, OccurredAt: time.Now().Format(time.RFC3339), Format: "json", Payload: payload}
	rq := call{env: env, timeout: timeout,
		hint: fmt.Sprintf("is medgate running (medgate run) with the %s plugin enabled for site %s? A long run may need a longer -timeout", plugin, site),
		sent: func(topic string) {
			fmt.Fprintf(stderr, "sent %s (%s) for site %s to %s; waiting for the reply…\n", env.ID, c.Operation, site, topic)
		}}
	if p := c.Result.Progress; p != nil {
		rq.progress = func(ctx context.Context, events *bus.Tail, done chan<- struct{}) {
			followProgress(ctx, events.Next, *p, env.ID, stderr, reveal, done)
		}
	}
	return cl.do(ctx, rq)
}

// followProgress prints the Line of each progress event of message id,
// the plugin's words masked as the console masks them unless reveal
// (textShown), and closes done after the one marked Done.
func followProgress(ctx context.Context, next func(context.Context) (*bus.Message, error), p sdk.Progress, id string, w io.Writer, reveal bool, done chan<- struct{}) {
	for {
		m, err := next(ctx)
		if err != nil || m == nil {
			return
		}
		var ev struct {
			Type    string         `json:"type"`
			Payload map[string]any `json:"payload"`
		}
		if json.Unmarshal(m.Value, &ev) != nil || ev.Type != p.Event || fmt.Sprint(ev.Payload[p.Match]) != id {
			continue
		}
		if line, ok := ev.Payload[p.Line].(string); ok && line != "" {
			fmt.Fprintf(w, "  %s\n", textShown(reveal)(line))
		}
		if d, _ := ev.Payload[p.Done].(bool); d {
			close(done)
			return
		}
	}
}

// runningCheckTimeout bounds noteRunningPlugin's question to the running
// medgate.
const runningCheckTimeout = 3 * time.Second

// noteRunningPlugin warns on w when the running medgate (its admin API at
// http.listen of cfg, GET /admin/plugins/status) runs another binary of
// plugin than cfg names, which this command launched (checksum verified
// against cfg's pin, version its Describe answer), or runs no such plugin:
// the file was changed and not reloaded, or its reload was refused and the
// previous configuration stays in force. It asks only when it can without
// a password (MEDGATE_USER unset: http.adminToken, if any) and says
// nothing when medgate cannot be asked (not running, other credentials):
// the command runs as before either way.
func noteRunningPlugin(ctx context.Context, cfg *config.Config, plugin, version string, local bool, w io.Writer) {
	if os.Getenv("MEDGATE_USER") != "" {
		return
	}
	var path, sum string
	for _, p := range cfg.Plugins {
		if p.Name == plugin {
			path = p.Path
			sum, _ = cfg.Checksum(p)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, runningCheckTimeout)
	defer cancel()
	a, err := adminRequest(ctx, cfg.File, "", "GET", "/admin/plugins/status")
	if err != nil || a.status != http.StatusOK {
		return
	}
	var running []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Path    string `json:"path"`
		SHA256  string `json:"sha256"`
	}
	if json.Unmarshal(a.body, &running) != nil {
		return
	}
	what := "This command runs the one the file names, on this machine."
	if !local {
		what = "This command's arguments are those the file's binary declares; the running medgate serves it with its own."
	}
	fix := fmt.Sprintf("The file was changed and not reloaded, or its reload was refused and the previous configuration stays in force: run `medgate reload -config %s` to reload it or see why it is refused (the medgate log says it too).", cfg.File)
	for _, r := range running {
		if r.Name != plugin {
			continue
		}
		if strings.EqualFold(r.SHA256, sum) {
			return
		}
		fmt.Fprintf(w, "warning: the running medgate (http.listen %s) runs another %s plugin than %s names: it runs version %s, %s (sha256 %s); the file names version %s, %s (sha256 %s). %s %s\n",
			cfg.HTTP.Listen, plugin, cfg.File, r.Version, r.Path, r.SHA256, version, path, sum, fix, what)
		return
	}
	fmt.Fprintf(w, "warning: the running medgate (http.listen %s) has no plugin %s, which %s names (version %s, %s, sha256 %s). %s %s\n",
		cfg.HTTP.Listen, plugin, cfg.File, version, path, sum, fix, what)
}

// grantReveal asks the running medgate, through its admin API with the
// credentials every admin command sends (MEDGATE_USER, else
// http.adminToken), to grant showing personal data unmasked for target
// (a message id, or "plugin command" for a local command) at site, as the
// console's 显示个人信息 Reveal personal data: only an admin who sees the
// site gets it, and medgate records it in its audit log
// (personal.reveal) before it answers. nil only when it was granted.
func grantReveal(ctx context.Context, cfg *config.Config, site, target string) error {
	const after = "; nothing was sent or run: run the command without -reveal to see personal data masked"
	q := url.Values{"site": {site}, "target": {target}}
	a, err := adminRequest(ctx, cfg.File, "", "POST", "/admin/personal/reveal?"+q.Encode())
	if err != nil {
		return fmt.Errorf("-reveal: %w%s", err, after)
	}
	if err := a.err(); err != nil {
		return fmt.Errorf("-reveal was not granted: %w%s", err, after)
	}
	var g struct {
		Granted bool `json:"granted"`
	}
	if json.Unmarshal(a.body, &g) != nil || !g.Granted {
		return fmt.Errorf("-reveal was not granted: POST /admin/personal/reveal answered %s without granting it (is the running medgate older than this command?)%s", a.statusText, after)
	}
	return nil
}

// requireRole has the running medgate check that its user may run plugin's
// remote command c, when the plugin declares a role above the operator's
// (sdk.Command.Role): POST /admin/commands/check as the user (MEDGATE_USER,
// else http.adminToken), which answers by the plugin's declaration and
// records the check, naming id, the message about to be sent, in its
// audit log. nil when c needs no more than an operator (nothing is asked,
// as before the field) or when the check granted it.
func requireRole(ctx context.Context, cfg *config.Config, plugin, site, id string, c sdk.Command) error {
	role := sdk.RoleOf(c.Role)
	if role == sdk.RoleOperator {
		return nil
	}
	const after = "; nothing was sent"
	what := "medgate " + plugin + " " + c.Name
	q := url.Values{"plugin": {plugin}, "command": {c.Name}, "site": {site}, "target": {id}}
	a, err := adminRequest(ctx, cfg.File, "", "POST", "/admin/commands/check?"+q.Encode())
	if err != nil {
		return fmt.Errorf("%s needs the role %s, which the running medgate checks: %w%s", what, role, err, after)
	}
	if a.status == http.StatusNotFound && !json.Valid(a.body) {
		// The API answers its own 404 (not_found) in JSON; a plain
		// "404 page not found" is a medgate without the route.
		return fmt.Errorf("%s needs the role %s, which the running medgate at %s checks (POST /admin/commands/check), but it does not know that request: it is older than this command line (medgate %s); upgrade the running medgate to this version and restart it, or run the command with the medgate binary it runs%s",
			what, role, a.addr, daemon.Version, after)
	}
	if err := a.err(); err != nil {
		return fmt.Errorf("%s needs the role %s: %w%s", what, role, err, after)
	}
	return nil
}

// runLocal runs a local command in the plugin process with the site's
// settings, checked as the daemon checks them.
func runLocal(ctx context.Context, cfg *config.Config, proc *pluginhost.Process, plugin, site string, c sdk.Command, args map[string]string, reveal bool, stdout, stderr io.Writer) error {
	var given map[string]string
	for _, s := range cfg.Sites {
		if s.Code == site {
			given = s.Plugins[plugin].Settings
		}
	}
	settings, problems := pluginhost.CheckSettings(proc.Description().Settings, given, filepath.Dir(cfg.File), config.IsSecretRef, cfg.Secret)
	if len(problems) > 0 {
		ps := make(config.Problems, len(problems))
		for i, p := range problems {
			ps[i] = config.Problem{File: cfg.File, Message: fmt.Sprintf("site %s, plugin %s, setting %s: %s", site, plugin, p.Setting, p.Message)}
		}
		return ps
	}
	r, err := proc.RunCommand(ctx, &sdk.RunCommandRequest{Site: site, Command: c.Name, Settings: settings, Arguments: args})
	if err != nil {
		return err
	}
	return showLocal(stdout, stderr, plugin, c.Name, site, c.Result, r, reveal)
}

// showLocal shows what local command name of plugin answered at site:
// its output, its diagnostics and its payload as d says. The output and
// the diagnostics are the plugin's words, which may quote a patient:
// masked as the console masks them unless reveal (textShown).
func showLocal(stdout, stderr io.Writer, plugin, name, site string, d sdk.Display, r *sdk.RunCommandResponse, reveal bool) error {
	text := textShown(reveal)
	if r.Output != "" {
		fmt.Fprint(stdout, text(strings.TrimRight(r.Output, "\n"))+"\n")
	}
	for _, d := range r.Diagnostics {
		fmt.Fprintln(stderr, text(diagnosticLine(d)))
	}
	if r.Diagnostics.HasError() {
		return fmt.Errorf("%s %s at site %s failed", plugin, name, site)
	}
	if len(r.Payload) > 0 {
		return showPayload(stdout, d, r.Payload, reveal)
	}
	return nil
}

func diagnosticLine(d sdk.Diagnostic) string {
	sev := "error"
	if d.Severity == sdk.SeverityWarning {
		sev = "warning"
	}
	if d.Field != "" {
		return fmt.Sprintf("%s: %s: %s", sev, d.Field, d.Message())
	}
	return sev + ": " + d.Message()
}
