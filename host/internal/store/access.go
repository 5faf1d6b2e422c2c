package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// User is one console user. Role is "viewer", "operator" or "admin";
// PasswordHash is an argon2id PHC string (package access makes and
// checks it; the store never sees a password).
type User struct {
	Name         string
	Role         string
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// SessionGeneration counts the changes of the user: a new user has
	// 0 and every UpdateUser adds 1 in the same UPDATE that writes the
	// password hash, role and disabled flag; the value passed to
	// UpdateUser is the one read (it must still be stored: see
	// UpdateUser). A console session records it at sign-in and
	// ends when the stored one differs, so every change ends the sessions
	// begun before it whatever the clocks say; UpdatedAt, a time, can stay
	// the same over two changes in one clock tick or go back with a clock.
	SessionGeneration int64
	// Sites is the user's site scope: the site codes the user may see and
	// act on, stored comma-separated. Empty: every site. Package access
	// checks the codes (no comma) and refuses a scope for an admin; a
	// change of it is written by UpdateUser like the role.
	Sites []string
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID      int64     // assigned by the store
	At      time.Time // a zero At means now
	Actor   string    // the user (or "system", "cli:<os user>")
	Role    string    // the actor's role then
	Action  string    // e.g. "login", "message.replay", "site.plugin.settings"
	Target  string    // what it acted on: a message id, "plugin/site", a user
	Site    string
	Outcome string // ok | refused | failed
	Detail  string // what changed, never a secret or personal data
	Remote  string // the client's address
}

// AuditFilter selects audit entries, newest first. Zero fields do not
// filter. Before pages back: only entries with an id below it.
type AuditFilter struct {
	Actor, Action string
	From, To      time.Time // From inclusive, To exclusive
	Before        int64
	Limit         int // 0 means 100
}

// Users and the audit log, implemented by both engines.
type accessStore interface {
	// CreateUser adds a user; ErrConflict if the name is taken.
	CreateUser(ctx context.Context, u User) error
	// UpdateUser writes u's role, password hash, disabled flag and sites and
	// adds 1 to the user's SessionGeneration in the same statement, if
	// the stored SessionGeneration is still u's (the user read before the
	// change): ErrConflict when another change came in between (read the
	// user again and redo the change), ErrNotFound for an unknown name.
	UpdateUser(ctx context.Context, u User) error
	// GetUser returns a user or ErrNotFound.
	GetUser(ctx context.Context, name string) (*User, error)
	// ListUsers returns every user by name.
	ListUsers(ctx context.Context) ([]User, error)
	// CountUsers returns how many users exist (disabled ones included).
	CountUsers(ctx context.Context) (int, error)

	// AppendAudit adds an audit entry and returns its id. Entries can
	// never be changed or deleted (the database refuses).
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// ListAudit returns audit entries, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// CreateUser implements [Store.CreateUser].
func (s *sqlStore) CreateUser(ctx context.Context, u User) error {
	t := s.d.encodeTime(now())
	res, err := s.exec(ctx, `INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at, sites)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`, u.Name, u.Role, u.PasswordHash, u.Disabled, t, t, strings.Join(u.Sites, ","))
	if err != nil {
		return s.errorf("create user %q: %w", u.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: user %q already exists: %w", u.Name, ErrConflict)
	}
	return nil
}

// UpdateUser implements [Store.UpdateUser]. The session generation is
// incremented by the same UPDATE, so no reader sees the new password,
// role or enabled flag with the old generation. The UPDATE takes effect
// only on the generation the caller read: of two changes made from the
// same read (two administrators at once), one is written and the other
// gets ErrConflict, instead of the second writing the first's fields
// back as they were.
func (s *sqlStore) UpdateUser(ctx context.Context, u User) error {
	res, err := s.exec(ctx, `UPDATE users SET role = ?, password_hash = ?, disabled = ?, sites = ?, updated_at = ?,
		session_generation = session_generation + 1 WHERE name = ? AND session_generation = ?`,
		u.Role, u.PasswordHash, u.Disabled, strings.Join(u.Sites, ","), s.d.encodeTime(now()), u.Name, u.SessionGeneration)
	if err != nil {
		return s.errorf("update user %q: %w", u.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.GetUser(ctx, u.Name); err != nil {
			return err // ErrNotFound for an unknown name
		}
		return fmt.Errorf("store: user %q was changed since it was read (session generation %d): %w", u.Name, u.SessionGeneration, ErrConflict)
	}
	return nil
}

const userCols = `name, role, password_hash, disabled, created_at, updated_at, session_generation, sites`

func scanUser(row rowScanner) (User, error) {
	var u User
	var sites string
	err := row.Scan(&u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &scanTime{t: &u.CreatedAt}, &scanTime{t: &u.UpdatedAt}, &u.SessionGeneration, &sites)
	if sites != "" {
		u.Sites = strings.Split(sites, ",")
	}
	return u, err
}

// GetUser implements [Store.GetUser].
func (s *sqlStore) GetUser(ctx context.Context, name string) (*User, error) {
	u, err := readOne(ctx, s, scanUser, `SELECT `+userCols+` FROM users WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, s.errorf("get user %q: %w", name, err)
	}
	return &u, nil
}

// ListUsers implements [Store.ListUsers].
func (s *sqlStore) ListUsers(ctx context.Context) ([]User, error) {
	out, err := readAll(ctx, s, scanUser, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, s.errorf("list users: %w", err)
	}
	return out, nil
}

// CountUsers implements [Store.CountUsers].
func (s *sqlStore) CountUsers(ctx context.Context) (int, error) {
	n, err := readOne(ctx, s, func(r rowScanner) (n int, err error) { err = r.Scan(&n); return }, `SELECT COUNT(*) FROM users`)
	if err != nil {
		return 0, s.errorf("count users: %w", err)
	}
	return n, nil
}

// AppendAudit implements [Store.AppendAudit].
func (s *sqlStore) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	at := now()
	if !e.At.IsZero() {
		at = normTime(e.At)
	}
	if e.Actor == "" || e.Action == "" || e.Outcome == "" {
		return 0, s.errorf("append audit: actor, action and outcome are required (got %q, %q, %q)", e.Actor, e.Action, e.Outcome)
	}
	var id int64
	err := s.writeRow(ctx, `INSERT INTO audit_log (at, actor, role, action, target, site, outcome, detail, remote)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		s.d.encodeTime(at), e.Actor, e.Role, e.Action, e.Target, e.Site, e.Outcome, e.Detail, e.Remote).Scan(&id)
	if err != nil {
		return 0, s.errorf("append audit (%s by %q): %w", e.Action, e.Actor, err)
	}
	return id, nil
}

// ListAudit implements [Store.ListAudit]. Actor and Action match exactly,
// or by prefix when they end in "*".
func (s *sqlStore) ListAudit(ctx context.Context, af AuditFilter) ([]AuditEntry, error) {
	var f filter
	for _, c := range []struct{ col, val string }{{"actor", af.Actor}, {"action", af.Action}} {
		switch p, ok := strings.CutSuffix(c.val, "*"); {
		case c.val == "":
		case ok:
			f.conds = append(f.conds, "substr("+c.col+", 1, ?) = ?")
			f.args = append(f.args, utf8.RuneCountInString(p), p)
		default:
			f.add(c.col+" = ?", c.val)
		}
	}
	if !af.From.IsZero() {
		f.add("at >= ?", s.d.encodeTime(normTime(af.From)))
	}
	if !af.To.IsZero() {
		f.add("at < ?", s.d.encodeTime(normTime(af.To)))
	}
	if af.Before > 0 {
		f.add("id < ?", af.Before)
	}
	out, err := readAll(ctx, s, func(row rowScanner) (AuditEntry, error) {
		var e AuditEntry
		err := row.Scan(&e.ID, &scanTime{t: &e.At}, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Site, &e.Outcome, &e.Detail, &e.Remote)
		return e, err
	}, `SELECT id, at, actor, role, action, target, site, outcome, detail, remote FROM audit_log`+f.where()+
		` ORDER BY id DESC LIMIT ?`, append(f.args, listLimit(af.Limit))...)
	if err != nil {
		return nil, s.errorf("list audit: %w", err)
	}
	return out, nil
}
