package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/medgate/medgate/host/internal/api"
)

// unlockUsage is the synopsis of `medgate unlock`.
const unlockUsage = "usage: medgate unlock [-config FILE] [-addr HOST:PORT] [-from IP] USER | -token (lifts USER's sign-in lockout, or with -token the admin token's lockouts, on the running medgate: from every address, or -from the client address the lockout names)"

// unlock asks the running medgate (POST /admin/users/{name}/unlock, an
// admin's route, audited) to lift a user's sign-in lockout and prints
// what it lifted; with -token instead of a user (POST
// /admin/token/unlock, audited token.unlock) it lifts the admin token's
// lockouts: the console's admin-token sign-in lockout and the wait for
// failed bearer tokens. Each medgate instance counts failures itself, so
// it lifts them on the instance it reaches (-addr) only.
func unlock(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flagSet("unlock")
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "HTTP address of medgate (default: http.listen from the configuration)")
	from := fs.String("from", "", "lift the lockout from this client address only (an IPv6 address: its /64), as the audit log or the 429 names it (default: every address)")
	token := fs.Bool("token", false, "lift the admin token's lockouts instead of a user's (give no USER): the console's admin-token sign-in lockout and the wait for failed bearer tokens, which the admin API and the ingress share")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if *token {
		if fs.NArg() != 0 {
			return usageError{"medgate unlock -token lifts the admin token's lockouts and takes no user name (" + fs.Arg(0) + "); to unlock a user, leave out -token. " + unlockUsage}
		}
		return unlockToken(ctx, *cfgPath, *addr, *from, stdout)
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		return usageError{unlockUsage}
	}
	name := fs.Arg(0)
	path := "/admin/users/" + url.PathEscape(name) + "/unlock"
	if *from != "" {
		path += "?address=" + url.QueryEscape(*from)
	}
	a, err := adminRequest(ctx, *cfgPath, *addr, "POST", path)
	if err != nil {
		return err
	}
	if err := a.err(); err != nil {
		return err
	}
	var u api.Unlock
	if err := json.Unmarshal(a.body, &u); err != nil || u.User == "" {
		return fmt.Errorf("POST %s: medgate at %s answered %s without the unlock's outcome (%q): is it a medgate older than this command? Restarting it lifts every lockout", path, a.addr, a.statusText, a.body)
	}
	if u.Lifted == 0 {
		fmt.Fprintf(stdout, "no sign-in lockout of %s at %s on the medgate at %s; nothing was locked there (%s)\n", u.User, u.Address, a.addr, u.Note)
		return nil
	}
	fmt.Fprintf(stdout, "%s: %d sign-in lockout lifted at %s on the medgate at %s; the user may sign in again (%s)\n", u.User, u.Lifted, u.Address, a.addr, u.Note)
	return nil
}

// unlockToken is medgate unlock -token: POST /admin/token/unlock, and
// what it lifted.
func unlockToken(ctx context.Context, cfgPath, addr, from string, stdout io.Writer) error {
	path := "/admin/token/unlock"
	if from != "" {
		path += "?address=" + url.QueryEscape(from)
	}
	a, err := adminRequest(ctx, cfgPath, addr, "POST", path)
	if err != nil {
		return err
	}
	if a.status == http.StatusNotFound {
		return fmt.Errorf("POST %s: the medgate at %s has no such route (%s): it is older than this command; restarting it lifts every lockout", path, a.addr, a.statusText)
	}
	if err := a.err(); err != nil {
		return err
	}
	var u api.TokenUnlock
	if err := json.Unmarshal(a.body, &u); err != nil || u.Address == "" {
		return fmt.Errorf("POST %s: medgate at %s answered %s without the unlock's outcome (%q): is it a medgate older than this command? Restarting it lifts every lockout", path, a.addr, a.statusText, a.body)
	}
	if u.Lifted == 0 {
		fmt.Fprintf(stdout, "no admin token lockout at %s on the medgate at %s; nothing was locked there (%s)\n", u.Address, a.addr, u.Note)
		return nil
	}
	fmt.Fprintf(stdout, "admin token: %d lockout(s) lifted at %s on the medgate at %s (console sign-ins with the token: %d, waits for failed bearer tokens: %d); the token may be used again (%s)\n",
		u.Lifted, u.Address, a.addr, u.SignIn, u.Tokens, u.Note)
	return nil
}
