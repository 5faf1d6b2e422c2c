package access

import (
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
)

// TestStampChangesWithTheUser: the stamp a session records at sign-in is
// the one Lookup reads back while nothing changes, and differs after each
// change of password (even to the same one), role or enabled state.
func TestStampChangesWithTheUser(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u := NewUsers(st, Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	const pw = "pw-0123456789-abc"
	if err := u.Add(t.Context(), "pharm01", Operator, pw); err != nil {
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
		{"role", func() error { return u.SetRole(t.Context(), "pharm01", Admin) }},
		{"disable and enable", func() error {
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
			t.Errorf("after the %s change the stamp is the one of %s", tc.name, prev)
		}
		seen[got.Stamp] = tc.name
	}
}
