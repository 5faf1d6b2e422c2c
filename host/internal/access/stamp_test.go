package access

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}

// engines opens an empty store of each engine; PostgreSQL is skipped when
// the machine has none (unless testenv.RequireServicesEnv is 1).
var engines = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", func(t *testing.T) store.Store {
		st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "users.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", func(t *testing.T) store.Store {
		st, err := store.OpenPostgres(t.Context(), testenv.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// stoppedClock is a user store whose clock does not advance: every user
// it returns was last updated at the same instant, as two changes within
// one tick of a coarse clock, or a change at an instance whose clock is
// behind the one that signed the user in, look.
type stoppedClock struct {
	UserStore
	at time.Time
}

func (s stoppedClock) GetUser(ctx context.Context, name string) (*store.User, error) {
	u, err := s.UserStore.GetUser(ctx, name)
	if u != nil {
		u.UpdatedAt = s.at
	}
	return u, err
}

// TestStampChangesWithTheUser: the stamp a session records at sign-in is
// the one Lookup reads back while nothing changes, and differs after each
// change of password (even to the same one), role or enabled state, also
// when changes that net out (disabled and enabled again, a role changed
// and back) come within one tick of the clock or the clock goes back: on
// both engines, with the real clock and with one that stands still.
func TestStampChangesWithTheUser(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		for _, clock := range []string{"real clock", "stopped clock"} {
			t.Run(eng.name+"/"+clock, func(t *testing.T) {
				t.Parallel()
				var st UserStore = eng.open(t)
				if clock == "stopped clock" {
					st = stoppedClock{UserStore: st, at: time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)}
				}
				checkStampChanges(t, NewUsers(st, Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}))
			})
		}
	}
}

func checkStampChanges(t *testing.T, u *Users) {
	const pw = "pw-0123456789-abc"
	if err := u.Add(t.Context(), "pharm01", Operator, pw, nil); err != nil {
		t.Fatal(err)
	}
	signedIn, err := u.Authenticate(t.Context(), "pharm01", pw)
	if err != nil || signedIn.Stamp == "" {
		t.Fatalf("Authenticate = %+v, %v", signedIn, err)
	}
	looked, err := u.Lookup(t.Context(), "pharm01")
	if err != nil || looked.Stamp != signedIn.Stamp {
		t.Fatalf("Lookup with no change: stamp %q, sign-in's %q (%v)", looked.Stamp, signedIn.Stamp, err)
	}
	seen := map[string]string{signedIn.Stamp: "sign-in"}
	for _, tc := range []struct {
		name   string
		change func() error
	}{
		{"password", func() error { return u.SetPassword(t.Context(), "pharm01", "pw-other-0123456789") }},
		{"same password again", func() error { return u.SetPassword(t.Context(), "pharm01", "pw-other-0123456789") }},
		{"sites", func() error { return u.SetSites(t.Context(), "pharm01", []string{"xm01"}) }},
		{"sites back to every site", func() error { return u.SetSites(t.Context(), "pharm01", nil) }},
		{"role", func() error { return u.SetRole(t.Context(), "pharm01", Admin) }},
		{"role and back", func() error {
			if err := u.SetRole(t.Context(), "pharm01", Viewer); err != nil {
				return err
			}
			return u.SetRole(t.Context(), "pharm01", Admin)
		}},
		{"disable and enable", func() error {
			if err := u.SetDisabled(t.Context(), "pharm01", true); err != nil {
				return err
			}
			return u.SetDisabled(t.Context(), "pharm01", false)
		}},
		{"disable and enable again", func() error {
			if err := u.SetDisabled(t.Context(), "pharm01", true); err != nil {
				return err
			}
			return u.SetDisabled(t.Context(), "pharm01", false)
		}},
	} {
		if err := tc.change(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := u.Lookup(t.Context(), "pharm01")
		if err != nil {
			t.Fatalf("%s: Lookup: %v", tc.name, err)
		}
		if prev, ok := seen[got.Stamp]; ok {
			t.Errorf("after the %s change the stamp is the one of %s: sessions begun before it go on", tc.name, prev)
		}
		seen[got.Stamp] = tc.name
	}
}

// interleaved is a user store in which another change of the user (then)
// lands between the first read of a change and its write, as when two
// administrators change the same user at once.
type interleaved struct {
	UserStore
	then func()
	once sync.Once
}

func (s *interleaved) GetUser(ctx context.Context, name string) (*store.User, error) {
	u, err := s.UserStore.GetUser(ctx, name)
	s.once.Do(s.then)
	return u, err
}

// TestConcurrentChangesBothTakeEffect: a role changed while another
// administrator disables the same user leaves the user disabled with the
// new role, on both engines; the second write no longer puts back the
// enabled flag it had read.
func TestConcurrentChangesBothTakeEffect(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			st := eng.open(t)
			p := Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}
			direct := NewUsers(st, p)
			if err := direct.Add(t.Context(), "pharm01", Operator, "correct horse battery staple", nil); err != nil {
				t.Fatal(err)
			}
			racing := NewUsers(&interleaved{UserStore: st, then: func() {
				if err := direct.SetDisabled(t.Context(), "pharm01", true); err != nil {
					t.Errorf("the other administrator's disable: %v", err)
				}
			}}, p)
			if err := racing.SetRole(t.Context(), "pharm01", Viewer); err != nil {
				t.Fatalf("set role: %v", err)
			}
			got, err := st.GetUser(t.Context(), "pharm01")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Disabled || got.Role != Viewer.String() {
				t.Errorf("after a disable and a role change at once: disabled %v, role %q; want disabled with role %q (a change was lost)", got.Disabled, got.Role, Viewer)
			}
		})
	}
}
