package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/medgate/medgate/host/internal/api"
)

// unlockUsage is the synopsis of `medgate unlock`.
const unlockUsage = "usage: medgate unlock [-config FILE] [-addr HOST:PORT] [-from IP] USER (lifts USER's sign-in lockout on the running medgate: from every address, or -from the client address the lockout names)"

// unlock asks the running medgate (POST /admin/users/{name}/unlock, an
// admin's route, audited) to lift a user's sign-in lockout and prints
// what it lifted. Each medgate instance counts failed sign-ins itself, so
// it lifts the lockout on the instance it reaches (-addr) only.
func unlock(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flagSet("unlock")
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "HTTP address of medgate (default: http.listen from the configuration)")
	from := fs.String("from", "", "lift the lockout from this client address only (an IPv6 address: its /64), as the audit log or the 429 names it (default: every address)")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
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
