package config

import (
	"fmt"
	"regexp"
	"time"
	// console.timeZone must load where the system has no zoneinfo (a
	// minimal container image, Windows): without it medgate would refuse
	// to start on a setting that is right. The database adds about 450 KB.
	_ "time/tzdata"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api/origin"
)

// headerRE is an HTTP header name.
var headerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// checkConsole checks the console section.
func (c *Config) checkConsole() Problems {
	var ps Problems
	add := func(path, f string, a ...any) { ps = append(ps, c.Problem(path, f, a...)) }
	cs := c.Console
	if cs.TimeZone != "" { // "Local" by default
		// An IANA name exactly as written (the zone database is
		// case-sensitive), UTC or Local; never a path (LoadLocation
		// refuses one).
		if loc, err := time.LoadLocation(cs.TimeZone); err != nil {
			add("console.timeZone", "%q is not a time zone: give an IANA name such as Asia/Shanghai (China, UTC+8: the hospital's), UTC, or Local (the server's zone, the default)", cs.TimeZone)
		} else {
			c.Console.loc = loc
		}
	}
	for i, o := range cs.PublicOrigins {
		if _, err := origin.Normalize(o); err != nil {
			add(fmt.Sprintf("console.publicOrigins[%d]", i), "%v", err)
		}
	}
	if cs.SessionIdle.D() < time.Minute {
		add("console.sessionIdle", "must be at least 1m, is %s", cs.SessionIdle.D())
	}
	if cs.SessionMax < cs.SessionIdle {
		add("console.sessionMax", "%s must not be shorter than console.sessionIdle (%s)", cs.SessionMax.D(), cs.SessionIdle.D())
	}
	if cs.HSTSMaxAge <= 0 {
		add("console.hstsMaxAge", "must be positive, is %s", cs.HSTSMaxAge.D())
	}
	if cs.Lockout.Failures < 1 || cs.Lockout.Failures > 100 {
		add("console.lockout.failures", "must be between 1 and 100, is %d", cs.Lockout.Failures)
	}
	if cs.Lockout.Duration.D() < time.Minute {
		add("console.lockout.duration", "must be at least 1m, is %s", cs.Lockout.Duration.D())
	}
	if n := cs.Lockout.UserFailures; n < 1 || n > 10000 {
		add("console.lockout.userFailures", "must be between 1 and 10000, is %d", n)
	}
	if d := cs.Lockout.UserMaxWait.D(); d < time.Second || d > 24*time.Hour {
		add("console.lockout.userMaxWait", "must be between 1s and 24h, is %s", d)
	}
	if n := cs.MaxSessionsPerUser; n < 1 || n > 1000 {
		// 1000 is the most sessions the console keeps in all.
		add("console.maxSessionsPerUser", "must be between 1 and 1000, is %d", n)
	}
	if p := cs.Proxy; p != nil {
		if len(p.Trusted) == 0 {
			add("console.proxy.trusted", "list the reverse proxy's addresses (e.g. 10.0.0.5 or 10.0.0.0/24); headers are believed only from them")
		}
		for i, t := range p.Trusted {
			pf, err := access.ParseCIDR(t)
			switch {
			case err != nil:
				add(fmt.Sprintf("console.proxy.trusted[%d]", i), "%v", err)
			case pf.Bits() == 0:
				add(fmt.Sprintf("console.proxy.trusted[%d]", i), "%q trusts every address, so anyone could name any user; list only the proxy's own addresses", t)
			}
		}
		for name, h := range map[string]string{"userHeader": p.UserHeader, "roleHeader": p.RoleHeader} {
			if h != "" && !headerRE.MatchString(h) {
				add("console.proxy."+name, "%q is not an HTTP header name (letters, digits, '-')", h)
			}
		}
		if p.RoleHeader != "" && p.UserHeader == "" {
			add("console.proxy.roleHeader", "a role header needs console.proxy.userHeader too")
		}
	}
	return ps
}
