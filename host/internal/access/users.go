package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/store"
)

// UserStore is the part of the store that keeps users.
type UserStore interface {
	CreateUser(ctx context.Context, u store.User) error
	UpdateUser(ctx context.Context, u store.User) error
	GetUser(ctx context.Context, name string) (*store.User, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	CountUsers(ctx context.Context) (int, error)
}

// Users manages console users in the store.
type Users struct {
	st     UserStore
	params Params
	// dummy is a hash verified for unknown users, so a sign-in takes as
	// long whether the user exists or not. It is made at the first such
	// sign-in, not at start: one argon2id hash takes Params.Memory (19 MiB)
	// that an idle host would otherwise keep resident.
	dummy func() string
}

// NewUsers returns the user manager over st, hashing with p.
func NewUsers(st UserStore, p Params) *Users {
	return &Users{st: st, params: p, dummy: sync.OnceValue(func() string {
		h, _ := Hash("medgate-no-such-user", p)
		return h
	})}
}

// MaxNameLen bounds user names.
const MaxNameLen = 64

// CheckName says what is wrong with a user name, or nil. Names are
// letters (any script), digits and . _ - @, at most 64.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("the user name is empty")
	case !utf8.ValidString(name):
		return errors.New("the user name is not valid UTF-8 text")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Errorf("the user name is longer than %d characters", MaxNameLen)
	case strings.IndexFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@", r)
	}) >= 0:
		return fmt.Errorf("the user name %q may hold only letters, digits and . _ - @", name)
	}
	return nil
}

// ErrBadCredentials is a wrong user name or password, or a disabled user;
// the caller says only that sign-in failed.
var ErrBadCredentials = errors.New("wrong user name or password")

// User is a signed-in identity.
type User struct {
	Name string
	Role Role
	// Stamp changes with every change of the stored user: its password
	// (even to the same one: each hash has a new salt), role or enabled
	// state, however close together and whatever the clocks of the
	// instances say. A session records it at sign-in and ends when the
	// stored user's differs, so a change made by `medgate user` or at any
	// instance sharing the store ends the user's sessions everywhere.
	// It is a digest, not a secret to show; never log it.
	Stamp string
	// Sites is the user's site scope, sorted: the only sites whose
	// messages, exchanges, jobs, work lists, documents and downloads the
	// user sees and acts on. Empty: every site (users made without a
	// scope, the admin token, identities a proxy gives a role). A scoped
	// user is never an admin (see [CheckScope]).
	Sites []string
}

// Scoped reports whether the user sees only some sites.
func (u User) Scoped() bool { return len(u.Sites) > 0 }

// SeesSite reports whether the user may see and act on site: any site
// for an unscoped user, else only the sites of the scope (compared
// exactly, as messages are routed by their site code).
func (u User) SeesSite(site string) bool {
	return !u.Scoped() || slices.Contains(u.Sites, site)
}

// MaxSiteLen bounds a site code in a user's scope.
const MaxSiteLen = 64

// ParseSites reads a site scope as written on the command line: site
// codes separated by commas ("xm01,xm02"). "" and "all" are no scope
// (every site). The codes are returned sorted, each once.
func ParseSites(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "all") {
		return nil, nil
	}
	var out []string
	for c := range strings.SplitSeq(s, ",") {
		c = strings.TrimSpace(c)
		switch {
		case c == "":
			return nil, fmt.Errorf("sites %q: an empty site code; write the codes separated by commas, e.g. xm01,xm02 (or all for every site)", s)
		case !utf8.ValidString(c) || utf8.RuneCountInString(c) > MaxSiteLen || strings.IndexFunc(c, unicode.IsSpace) >= 0:
			return nil, fmt.Errorf("sites %q: %q is not a site code (at most %d characters, no spaces); write the codes as in the configuration's sites", s, c, MaxSiteLen)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CheckScope says why a user of role may not have the site scope sites,
// or nil. An admin is admin of the whole instance (reload, re-encrypt,
// users, the audit log of every site, plugin status, every site's
// settings), which no site scope can narrow: an admin has no scope. A
// site's own people are operators or viewers scoped to it.
func CheckScope(name string, role Role, sites []string) error {
	if role == Admin && len(sites) > 0 {
		return fmt.Errorf("user %q: an admin manages the whole instance and cannot be limited to sites (%s); "+
			"make a site's user operator or viewer with its sites, or an admin without sites (medgate user sites %s all)",
			name, strings.Join(sites, ","), name)
	}
	return nil
}

// stamp is the credential stamp of a stored user (see [User.Stamp]): a
// digest of its session generation, which the store adds 1 to in the
// same UPDATE as every change of password, role or enabled state, so even
// a disable undone within one clock tick, or on a host whose clock went
// back, changes it. The password hash, role, enabled state and updated_at
// are in it too, though no longer relied on: they end the sessions on a
// change the generation misses, one made by an older medgate still
// running against the upgraded store during a rolling upgrade (it sets
// updated_at only) or an edit in SQL.
func stamp(su *store.User) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%t\x00%d\x00%s", su.SessionGeneration, su.PasswordHash, su.Role, su.Disabled, su.UpdatedAt.UnixMicro(), strings.Join(su.Sites, ","))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Add creates a user of role who sees only sites (nil: every site; see
// [ParseSites]). An admin with sites is refused ([CheckScope]).
func (u *Users) Add(ctx context.Context, name string, role Role, password string, sites []string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := CheckScope(name, role, sites); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := Hash(password, u.params)
	if err != nil {
		return err
	}
	if err := u.st.CreateUser(ctx, store.User{Name: name, Role: role.String(), PasswordHash: h, Sites: sites}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user %q already exists; change it with medgate user passwd|role|sites|disable|enable", name)
		}
		return err
	}
	return nil
}

// updateTries bounds how often update reads a user again after another
// change came in between its read and its write.
const updateTries = 5

// update reads a user, changes it with f and writes it back. The write
// takes effect only if nobody changed the user since the read
// (store.ErrConflict); then the user is read and f applied again, so two
// changes at once (a password set while another administrator disables
// the user) both take effect.
func (u *Users) update(ctx context.Context, name string, f func(*store.User) error) error {
	for try := 1; ; try++ {
		su, err := u.st.GetUser(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("there is no user %q; list them with medgate user list, add one with medgate user add", name)
		}
		if err != nil {
			return err
		}
		if err := f(su); err != nil {
			return err
		}
		err = u.st.UpdateUser(ctx, *su)
		if !errors.Is(err, store.ErrConflict) || try == updateTries {
			return err
		}
	}
}

// SetPassword replaces a user's password.
func (u *Users) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := Hash(password, u.params)
	if err != nil {
		return err
	}
	return u.update(ctx, name, func(su *store.User) error { su.PasswordHash = h; return nil })
}

// SetRole changes a user's role. A user with a site scope cannot become
// admin ([CheckScope]): the scope is removed first.
func (u *Users) SetRole(ctx context.Context, name string, role Role) error {
	return u.update(ctx, name, func(su *store.User) error {
		if err := CheckScope(name, role, su.Sites); err != nil {
			return err
		}
		su.Role = role.String()
		return nil
	})
}

// SetSites changes the sites a user sees (nil: every site). An admin
// cannot be given sites ([CheckScope]). Like SetRole it changes the
// user's [User.Stamp], which ends the user's console sessions.
func (u *Users) SetSites(ctx context.Context, name string, sites []string) error {
	return u.update(ctx, name, func(su *store.User) error {
		role, err := ParseRole(su.Role)
		if err != nil {
			return fmt.Errorf("user %q has the unknown role %q; set one with medgate user role %s viewer|operator|admin", name, su.Role, name)
		}
		if err := CheckScope(name, role, sites); err != nil {
			return err
		}
		su.Sites = sites
		return nil
	})
}

// SetDisabled disables or enables a user; a disabled user cannot sign in.
// Like SetPassword and SetRole it changes the user's [User.Stamp], which
// ends the user's console sessions.
func (u *Users) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return u.update(ctx, name, func(su *store.User) error { su.Disabled = disabled; return nil })
}

// List returns every user.
func (u *Users) List(ctx context.Context) ([]store.User, error) { return u.st.ListUsers(ctx) }

// Any reports whether at least one user exists.
func (u *Users) Any(ctx context.Context) (bool, error) {
	n, err := u.st.CountUsers(ctx)
	return n > 0, err
}

// Lookup returns an enabled user's identity without a password (for a
// name a trusted proxy vouches for, and to check a session against the
// stored user at each request: one read by primary key); ErrBadCredentials
// if there is none.
func (u *Users) Lookup(ctx context.Context, name string) (User, error) {
	su, err := u.st.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, err
	}
	role, err := ParseRole(su.Role)
	if err != nil || su.Disabled || CheckScope(su.Name, role, su.Sites) != nil {
		return User{}, ErrBadCredentials
	}
	return User{Name: su.Name, Role: role, Stamp: stamp(su), Sites: su.Sites}, nil
}

// Authenticate checks a user's password. Unknown, disabled and wrong all
// give ErrBadCredentials, after the same work. At most maxSignIns checks
// run at once in the process; the others wait for a turn (an error of ctx
// when it ends first).
func (u *Users) Authenticate(ctx context.Context, name, password string) (User, error) {
	// At most maxSignIns at once; the others wait their turn, or until
	// their caller gives up.
	select {
	case signIns <- struct{}{}:
		defer func() { <-signIns }()
	case <-ctx.Done():
		return User{}, fmt.Errorf("sign-in of %q not checked: %w", name, ctx.Err())
	}
	su, err := u.st.GetUser(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return User{}, err
	}
	if su == nil {
		_, _ = Verify(password, u.dummy())
		return User{}, ErrBadCredentials
	}
	ok, err := Verify(password, su.PasswordHash)
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", name, err)
	}
	role, rerr := ParseRole(su.Role)
	if !ok || su.Disabled || rerr != nil || CheckScope(su.Name, role, su.Sites) != nil {
		// An admin with sites was written by hand in SQL: refused, as
		// its scope cannot be honoured (CheckScope).
		return User{}, ErrBadCredentials
	}
	return User{Name: su.Name, Role: role, Stamp: stamp(su), Sites: su.Sites}, nil
}

// Exists reports whether a user of that name exists (enabled or not).
func (u *Users) Exists(ctx context.Context, name string) (bool, error) {
	_, err := u.st.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// maxSignIns bounds the sign-in checks (Authenticate) that run at once in
// the process: one per CPU (argon2id with one thread keeps a CPU busy, so
// more would not finish sooner), at least 2 and at most 8. Each takes the
// memory of one hash (Params.Memory, 19 MiB), and anyone who reaches the
// sign-in form or the admin API may ask for one, an unknown name too: a
// burst of http.maxConnections (1024) sign-ins at once would otherwise
// take 19 GiB and have medgate killed for want of memory.
var maxSignIns = min(max(runtime.GOMAXPROCS(0), 2), 8)

// signIns holds a slot for each sign-in check running (maxSignIns).
var signIns = make(chan struct{}, maxSignIns)
