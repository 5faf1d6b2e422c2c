package access

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSites(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "all", want: nil},
		{in: " ALL ", want: nil},
		{in: "xm01", want: []string{"xm01"}},
		{in: "xm02, xm01,xm02", want: []string{"xm01", "xm02"}},
		{in: "院区2", want: []string{"院区2"}},
		{in: "xm01,,xm02", wantErr: "empty site code"},
		{in: "xm01,", wantErr: "empty site code"},
		{in: "xm 01", wantErr: "is not a site code"},
		{in: strings.Repeat("s", MaxSiteLen+1), wantErr: "is not a site code"},
	} {
		got, err := ParseSites(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseSites(%q) = %v, %v; want an error saying %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseSites(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSeesSite(t *testing.T) {
	all := User{Name: "a", Role: Operator}
	one := User{Name: "b", Role: Operator, Sites: []string{"xm01"}}
	for _, tc := range []struct {
		u    User
		site string
		want bool
	}{
		{all, "xm01", true}, {all, "xm02", true}, {all, "", true},
		{one, "xm01", true}, {one, "xm02", false}, {one, "", false}, {one, "XM01", false}, {one, "xm0", false},
	} {
		if got := tc.u.SeesSite(tc.site); got != tc.want {
			t.Errorf("%s (sites %q).SeesSite(%q) = %v, want %v", tc.u.Name, tc.u.Sites, tc.site, got, tc.want)
		}
	}
}

// TestUserScope: a scope is stored with the user and comes back with its
// sign-in and Lookup; an admin never has one (refused at Add, SetSites
// and SetRole, and an admin with sites written in SQL cannot sign in).
func TestUserScope(t *testing.T) {
	st := engines[0].open(t)
	u := NewUsers(st, Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	ctx := t.Context()
	const pw = "pw-0123456789-abc"
	if err := u.Add(ctx, "xm-op", Operator, pw, []string{"xm01", "xm02"}); err != nil {
		t.Fatal(err)
	}
	got, err := u.Authenticate(ctx, "xm-op", pw)
	if err != nil || !slices.Equal(got.Sites, []string{"xm01", "xm02"}) {
		t.Fatalf("Authenticate = %+v, %v; want sites xm01, xm02", got, err)
	}
	if got, err := u.Lookup(ctx, "xm-op"); err != nil || !slices.Equal(got.Sites, []string{"xm01", "xm02"}) {
		t.Fatalf("Lookup = %+v, %v; want sites xm01, xm02", got, err)
	}
	if err := u.Add(ctx, "xm-admin", Admin, pw, []string{"xm01"}); err == nil || !strings.Contains(err.Error(), "cannot be limited to sites") {
		t.Fatalf("Add of an admin with sites = %v, want refused", err)
	}
	if ok, _ := u.Exists(ctx, "xm-admin"); ok {
		t.Fatal("the refused admin with sites was stored")
	}
	if err := u.SetRole(ctx, "xm-op", Admin); err == nil {
		t.Fatal("SetRole made a scoped user admin")
	}
	if err := u.Add(ctx, "boss", Admin, pw, nil); err != nil {
		t.Fatal(err)
	}
	if err := u.SetSites(ctx, "boss", []string{"xm01"}); err == nil {
		t.Fatal("SetSites gave an admin sites")
	}
	if err := u.SetSites(ctx, "xm-op", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := u.Lookup(ctx, "xm-op"); err != nil || got.Scoped() {
		t.Fatalf("after SetSites(nil): Lookup = %+v, %v; want every site", got, err)
	}
	// An admin given sites behind medgate's back (SQL) cannot sign in.
	su, err := st.GetUser(ctx, "boss")
	if err != nil {
		t.Fatal(err)
	}
	su.Sites = []string{"xm01"}
	if err := st.UpdateUser(ctx, *su); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ctx, "boss", pw); err != ErrBadCredentials {
		t.Fatalf("Authenticate of an admin with sites = %v, want ErrBadCredentials", err)
	}
	if _, err := u.Lookup(ctx, "boss"); err != ErrBadCredentials {
		t.Fatalf("Lookup of an admin with sites = %v, want ErrBadCredentials", err)
	}
}
