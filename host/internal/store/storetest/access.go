package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/medgate/medgate/host/internal/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers on an empty store = %d, %v", n, err)
	}
	w := startWindow()
	u := store.User{Name: "王药师", Role: "operator", PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, u); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateUser twice = %v, want ErrConflict", err)
	}
	if err := s.CreateUser(ctx, store.User{Name: "bad", Role: "root", PasswordHash: "x"}); err == nil {
		t.Fatal("CreateUser with an unknown role succeeded")
	}
	got, err := s.GetUser(ctx, "王药师")
	if err != nil {
		t.Fatal(err)
	}
	w.check(t, "CreatedAt", got.CreatedAt)
	if diff := cmp.Diff(u, *got, ignoreUserTimes); diff != "" {
		t.Fatalf("GetUser (-want +got):\n%s", diff)
	}
	if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser(nobody) = %v, want ErrNotFound", err)
	}
	u.Role, u.Disabled, u.PasswordHash, u.Sites = "admin", true, "$argon2id$new", []string{"xm01", "院区2"}
	u.SessionGeneration = 99 // not the stored one: changed since "read"
	if err := s.UpdateUser(ctx, u); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateUser with a session generation not stored = %v, want ErrConflict", err)
	}
	u.SessionGeneration = 0 // as read
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.SessionGeneration = 1
	if got, err := s.GetUser(ctx, u.Name); err != nil || got.SessionGeneration != 1 {
		t.Fatalf("after one UpdateUser: GetUser = %+v, %v; want SessionGeneration 1", got, err)
	}
	if err := s.UpdateUser(ctx, store.User{Name: "nobody", Role: "viewer"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateUser(nobody) = %v, want ErrNotFound", err)
	}
	// A site scope is kept as written, by CreateUser and UpdateUser.
	if err := s.CreateUser(ctx, store.User{Name: "amy", Role: "viewer", PasswordHash: "h", Sites: []string{"s1"}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.User{{Name: "amy", Role: "viewer", PasswordHash: "h", Sites: []string{"s1"}}, u}
	if diff := cmp.Diff(want, list, ignoreUserTimes); diff != "" {
		t.Fatalf("ListUsers (-want +got):\n%s", diff)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Fatalf("CountUsers = %d, %v; want 2", n, err)
	}
}

// testUserSessionGeneration: every UpdateUser adds exactly 1 to the
// user's session generation, also when it writes the same values again
// (a disable undone at once); of updates made at the same time from the
// same read (instances, administrators), exactly one is written and the
// others get ErrConflict (the check and the increment are in the UPDATE,
// not read and written back).
func testUserSessionGeneration(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := store.User{Name: "pharm01", Role: "operator", PasswordHash: "$argon2id$h"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	gen := func() int64 {
		t.Helper()
		got, err := s.GetUser(ctx, u.Name)
		if err != nil {
			t.Fatal(err)
		}
		return got.SessionGeneration
	}
	if g := gen(); g != 0 {
		t.Fatalf("a new user's SessionGeneration = %d, want 0", g)
	}
	for i, disabled := range []bool{true, false, false} {
		u.Disabled, u.SessionGeneration = disabled, gen()
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if g, want := gen(), int64(i+1); g != want {
			t.Fatalf("after %d UpdateUser calls (disabled %v) SessionGeneration = %d, want %d", i+1, disabled, g, want)
		}
	}
	u.SessionGeneration = gen()
	var wg sync.WaitGroup
	errs := make([]error, concurrency)
	for i := range concurrency {
		wg.Go(func() { errs[i] = s.UpdateUser(ctx, u) })
	}
	wg.Wait()
	written := 0
	for i, err := range errs {
		switch {
		case err == nil:
			written++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("concurrent UpdateUser %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if written != 1 {
		t.Fatalf("%d of %d concurrent UpdateUser calls from the same read were written, want exactly 1", written, concurrency)
	}
	if g, want := gen(), int64(4); g != want {
		t.Fatalf("after %d concurrent UpdateUser calls SessionGeneration = %d, want %d", concurrency, g, want)
	}
	list, err := s.ListUsers(ctx)
	if err != nil || len(list) != 1 || list[0].SessionGeneration != 4 {
		t.Fatalf("ListUsers = %+v, %v; want the user with SessionGeneration 4", list, err)
	}
}

var ignoreUserTimes = cmpopts.IgnoreFields(store.User{}, "CreatedAt", "UpdatedAt")

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.AppendAudit(ctx, store.AuditEntry{Actor: "x"}); err == nil {
		t.Fatal("AppendAudit without action and outcome succeeded")
	}
	var all []store.AuditEntry
	for i := range 7 {
		e := store.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: []string{"amy", "王药师"}[i%2], Role: "operator",
			Action: []string{"login", "message.replay", "message.replay.bulk"}[i%3], Target: fmt.Sprintf("m%d", i), Site: "s1",
			Outcome: "ok", Detail: "d", Remote: "10.0.0.1"}
		id, err := s.AppendAudit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		e.ID = id
		all = append([]store.AuditEntry{e}, all...) // newest first
	}
	pick := func(ids ...int) []store.AuditEntry {
		var out []store.AuditEntry
		for _, e := range all {
			for _, i := range ids {
				if e.Target == fmt.Sprintf("m%d", i) {
					out = append(out, e)
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []store.AuditEntry
	}{
		{"all", store.AuditFilter{}, all},
		{"actor", store.AuditFilter{Actor: "王药师"}, pick(1, 3, 5)},
		{"action exact", store.AuditFilter{Action: "message.replay"}, pick(1, 4)},
		{"action prefix", store.AuditFilter{Action: "message.*"}, pick(1, 2, 4, 5)},
		{"time", store.AuditFilter{From: t0.Add(2 * time.Minute), To: t0.Add(4 * time.Minute)}, pick(2, 3)},
		{"page", store.AuditFilter{Before: all[2].ID, Limit: 2}, all[3:5]},
		{"limit", store.AuditFilter{Limit: 3}, all[:3]},
	} {
		got, err := s.ListAudit(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: ListAudit (-want +got):\n%s", tc.name, diff)
		}
	}
}
