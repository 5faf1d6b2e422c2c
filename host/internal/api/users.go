package api

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
)

// apiUser is a console user as the admin API lists it (never the hash).
type apiUser struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled"`
	// Sites are the only sites the user sees (medgate user sites); empty:
	// every site.
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// users lists the console users and their roles (they are managed with
// medgate user).
func (s *server) users(w http.ResponseWriter, r *http.Request) error {
	out := []apiUser{}
	if s.o.Users != nil {
		list, err := s.o.Users.List(r.Context())
		if err != nil {
			return s.storeError(r, err)
		}
		for _, u := range list {
			out = append(out, apiUser{Name: u.Name, Role: u.Role, Disabled: u.Disabled, Sites: append([]string{}, u.Sites...), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Unlock is the answer to POST /admin/users/{name}/unlock.
type Unlock struct {
	User string `json:"user"`
	// Address is where the lockout was lifted: the address as the
	// lockout counts it (an IPv6 address's /64), or "every address".
	Address string `json:"address"`
	// Lifted is how many lockouts were in force and are lifted (0: the
	// user was not locked out there on this instance).
	Lifted int    `json:"lifted"`
	Note   string `json:"note"`
}

// unlockNote says what an unlock does where several instances run.
const unlockNote = "lifted on this medgate instance only: each instance counts failed sign-ins itself, so with several instances unlock on each one the user signs in through (medgate unlock -addr HOST:PORT)"

// unlockUser lifts a user's sign-in lockouts (access.Lockout.Unlock),
// the console's and the admin API's alike: with ?address=IP from that
// address only (its /64 for IPv6), else from every address and browser.
// The admin wrapper records the attempt; this records the outcome with
// who did it and where.
func (s *server) unlockUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := access.CheckName(name); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_user", refused: true,
			Message: "unlock: " + err.Error() + "; give the name of a medgate user (medgate user list)"}
	}
	from := r.URL.Query().Get("address")
	if from != "" {
		if _, err := netip.ParseAddr(from); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "bad_address", refused: true,
				Message: "unlock: address " + strconv.Quote(from) + " is not an IP address; give the client address the lockout names (10.1.2.3, 2001:db8::1), or leave address out to unlock the user everywhere"}
		}
	}
	if s.o.Users != nil {
		exists, err := s.o.Users.Exists(r.Context(), name)
		if err != nil {
			return s.storeError(r, err)
		}
		if !exists {
			return &Error{Status: http.StatusNotFound, Code: "user_not_found", refused: true,
				Message: "unlock: no user " + strconv.Quote(name) + "; medgate user list lists the users"}
		}
	}
	n := s.o.Lockout.Unlock(name, from)
	where, detail := access.UnlockDetail(from, n)
	_ = audit.Record(r.Context(), audit.Entry{Action: "user.unlock", Target: name, Outcome: audit.OK, Detail: detail})
	writeJSON(w, http.StatusOK, Unlock{User: name, Address: where, Lifted: n, Note: unlockNote})
	return nil
}
