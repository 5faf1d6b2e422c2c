package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
)

// userUsage is the synopsis of `medgate user`.
const userUsage = `usage:
  medgate user add [-config FILE] NAME viewer|operator|admin [-sites S1,S2]   (password from the terminal, or stdin)
  medgate user passwd [-config FILE] NAME                     (new password from the terminal, or stdin)
  medgate user role [-config FILE] NAME viewer|operator|admin
  medgate user sites [-config FILE] NAME S1,S2|all            (the sites the user sees; all: every site)
  medgate user disable|enable [-config FILE] NAME
  medgate user list [-config FILE]`

// stdin is the password source (a variable so tests can feed it).
var stdin io.Reader = os.Stdin

// openStore opens the configured store (a variable so tests can make its
// audit log fail).
var openStore = daemon.OpenStore

func init() {
	commands = append(commands, command{"user", "add|passwd|role|sites|disable|enable|list [-config FILE] …",
		"manage console users, their roles and sites (passwords are read from the terminal or stdin, never from arguments)", userCmd})
}

// userCmd runs `medgate user …` on the configured store directly, so it
// works whether medgate is running or not. Every change is audited as
// done by "cli:<login name>": recorded as attempted before it is made
// (when the audit log cannot take that entry nothing changes and the
// command fails), then with its outcome (when that cannot be written the
// change stands and stderr says so).
func userCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{userUsage}
	}
	if h := args[0]; h == "-h" || h == "-help" || h == "--help" {
		fmt.Fprintln(stderr, strings.TrimPrefix(userUsage, "usage:\n"))
		return flag.ErrHelp
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := configFlag(fs)
	sitesFlag := ""
	if sub == "add" {
		fs.StringVar(&sitesFlag, "sites", "", "the only sites the user sees and acts on, comma-separated (default: every site; not for admins)")
	}
	// Flags may come before or after the arguments (user add NAME ROLE
	// -sites xm01): the flag package stops at the first argument, so
	// parsing resumes after each one.
	var rest []string
	for more := args[1:]; ; {
		if err := fs.Parse(more); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{fmt.Sprintf("user %s: %v; `medgate user -h` lists the subcommands", sub, err)}
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		more = fs.Args()[1:]
	}
	want := map[string]int{"add": 2, "passwd": 1, "role": 2, "sites": 2, "disable": 1, "enable": 1, "list": 0}
	n, ok := want[sub]
	if !ok {
		return usageError{fmt.Sprintf("user: unknown subcommand %q; %s", sub, userUsage)}
	}
	if len(rest) != n {
		return usageError{fmt.Sprintf("user %s takes %d argument(s), got %d (a password is never an argument: it is read from the terminal or stdin); %s", sub, n, len(rest), userUsage)}
	}
	var role access.Role
	if sub == "add" || sub == "role" {
		var err error
		if role, err = access.ParseRole(rest[1]); err != nil {
			return err
		}
	}
	var sites []string
	if sub == "add" || sub == "sites" {
		spec := sitesFlag
		if sub == "sites" {
			spec = rest[1]
		}
		var err error
		if sites, err = access.ParseSites(spec); err != nil {
			return err
		}
	}
	if sub == "add" {
		if err := access.CheckName(rest[0]); err != nil {
			return err
		}
		if err := access.CheckScope(rest[0], role, sites); err != nil {
			return err
		}
	}
	var password string
	if sub == "add" || sub == "passwd" {
		var err error
		if password, err = readPassword(stderr, rest[0]); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	// A site not configured (a typo, or one added later) is kept, but
	// said: the user sees nothing of it until it is configured.
	for _, site := range sites {
		if !slices.ContainsFunc(cfg.Sites, func(s config.Site) bool { return s.Code == site }) {
			fmt.Fprintf(stderr, "medgate: warning: site %q is not in the configuration's sites; %s sees nothing of it until it is added (check the spelling)\n", site, rest[0])
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	users := access.NewUsers(st, access.DefaultParams)
	if sub == "list" {
		list, err := users.List(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "no users yet; add the first admin with: medgate user add NAME admin")
			return nil
		}
		lines := [][]string{{"NAME", "ROLE", "STATE", "CHANGED", "SITES"}}
		for _, u := range list {
			state := "enabled"
			if u.Disabled {
				state = "disabled"
			}
			lines = append(lines, []string{u.Name, u.Role, state, u.UpdatedAt.In(cfg.Console.Location()).Format("2006-01-02 15:04 UTC-07:00"), sitesText(u.Sites)})
		}
		return writeTable(stdout, lines)
	}
	name := rest[0]
	detail := map[string]string{"add": "role " + role.String() + ", sites " + sitesText(sites), "passwd": "password changed", "role": "role " + role.String(),
		"sites": "sites " + sitesText(sites), "disable": "disabled", "enable": "enabled"}[sub]
	// The audit page is read by Chinese-reading admins: its detail leads
	// with the same in Chinese.
	sitesZH := strings.Join(sites, ",")
	if len(sites) == 0 {
		sitesZH = "全部"
	}
	detailZH := map[string]string{"add": "角色 " + role.String() + "，院区 " + sitesZH, "passwd": "已修改密码", "role": "角色改为 " + role.String(),
		"sites": "院区改为 " + sitesZH, "disable": "已停用", "enable": "已启用"}[sub]
	actor := "cli"
	if u := os.Getenv("USER"); u != "" {
		actor = "cli:" + u
	} else if u, err := user.Current(); err == nil && u.Username != "" {
		actor = "cli:" + u.Username
	}
	// Announced before it is made (see package audit): a change the audit
	// log cannot take is not made.
	at, err := audit.New(st, nil).Begin(ctx, audit.Actor{Name: actor, Role: "admin", Remote: "local"},
		audit.Entry{Action: "user." + sub, Target: name, Detail: detailZH + "。" + detail})
	if err != nil {
		return fmt.Errorf("user %s: %w; try again once the store is back (medgate user list shows it)", name, err)
	}
	switch sub {
	case "add":
		err = users.Add(ctx, name, role, password, sites)
	case "passwd":
		err = users.SetPassword(ctx, name, password)
	case "role":
		err = users.SetRole(ctx, name, role)
	case "sites":
		err = users.SetSites(ctx, name, sites)
	case "disable":
		err = users.SetDisabled(ctx, name, true)
	case "enable":
		err = users.SetDisabled(ctx, name, false)
	}
	outcome := audit.OK
	if err != nil {
		outcome = audit.Failed
	}
	if aerr := at.Finish(ctx, outcome, ""); aerr != nil {
		// The change was made (or failed) already: said, not undone; the
		// attempt is in the audit log.
		fmt.Fprintf(stderr, "medgate: warning: the change was made (outcome %s), but its outcome could not be written to the audit log "+
			"(the attempt is there, entry #%d): %v; tell the administrator\n", outcome, at.ID, aerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s: %s\n", name, detail)
	if sub != "add" {
		fmt.Fprintf(stdout, "%s's console sessions end at their next request, at every medgate instance; they sign in again\n", name)
	}
	return nil
}

// sitesText shows a user's site scope: its codes, or "all".
func sitesText(sites []string) string {
	if len(sites) == 0 {
		return "all"
	}
	return strings.Join(sites, ",")
}

// readPassword reads a new password: twice without echo from a terminal,
// else one line of stdin (for scripts: printf '%s\n' "$PW" | medgate user add …).
func readPassword(stderr io.Writer, name string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "New password for %s: ", name)
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ; run the command again")
		}
		return string(a), access.CheckPassword(string(a))
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on stdin; type it at a terminal, or pipe it: printf '%s\\n' \"$PASSWORD\" | medgate user …")
	}
	return pw, access.CheckPassword(pw)
}

// adminAuth signs an admin API request: as the medgate user named in
// $MEDGATE_USER (HTTP Basic, the password read from the terminal or one
// line of stdin), else with the admin token of the configuration.
func adminAuth(req *http.Request, token string) error {
	if name := os.Getenv("MEDGATE_USER"); name != "" {
		pw, err := readLogin(os.Stderr, name)
		if err != nil {
			return err
		}
		req.SetBasicAuth(name, pw)
		return nil
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return nil
}

// readLogin reads a user's password once: without echo from a terminal,
// else one line of stdin.
func readLogin(stderr io.Writer, name string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "Password for %s: ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
