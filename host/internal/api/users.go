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
	from, err := unlockAddress(r, "the user")
	if err != nil {
		return err
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

// unlockAddress is an unlock's ?address=: "" for every address, else an
// IP address (400 bad_address naming it otherwise); who is what is
// unlocked, for the message.
func unlockAddress(r *http.Request, who string) (string, error) {
	from := r.URL.Query().Get("address")
	if from != "" {
		if _, err := netip.ParseAddr(from); err != nil {
			return "", &Error{Status: http.StatusBadRequest, Code: "bad_address", refused: true,
				Message: "unlock: address " + strconv.Quote(from) + " is not an IP address; give the client address the lockout names (10.1.2.3, 2001:db8::1), or leave address out to unlock " + who + " everywhere"}
		}
	}
	return from, nil
}

// TokenUnlock is the answer to POST /admin/token/unlock.
type TokenUnlock struct {
	// Address is where the lockouts were lifted: the address as the
	// lockouts count it (an IPv6 address's /64), or "every address".
	Address string `json:"address"`
	// SignIn is how many lockouts of the console's admin-token sign-ins
	// were in force and are lifted.
	SignIn int `json:"signIn"`
	// Tokens is how many waits for failed bearer tokens were in force and
	// are lifted (the admin API's and the ingress's tokens count together
	// per address).
	Tokens int `json:"tokens"`
	// Lifted is SignIn and Tokens together (0: the admin token was not
	// locked out there on this instance).
	Lifted int    `json:"lifted"`
	Note   string `json:"note"`
}

// tokenUnlockNote says what a token unlock does where several instances
// run, and that the ingress shares the failed-token count.
const tokenUnlockNote = "lifted on this medgate instance only: each instance counts failed tokens itself, so with several instances unlock on each one (medgate unlock -token -addr HOST:PORT); " +
	"an address's wait for failed bearer tokens is shared by the admin API and the ingress, so it is lifted for both"

// unlockToken lifts the admin token's lockouts on this instance, with
// ?address=IP at that address only (its /64 for IPv6), else at every
// address: the console's admin-token sign-in lockout (access.Lockout
// under access.TokenLockUser, and its count across addresses) and the
// failed-token wait of the bearer tokens (the limiter; the ingress's
// tokens share it). The admin wrapper records the attempt; this records
// the outcome (token.unlock) with who did it and where.
func (s *server) unlockToken(w http.ResponseWriter, r *http.Request) error {
	from, err := unlockAddress(r, "the admin token")
	if err != nil {
		return err
	}
	signIn := s.o.Lockout.Unlock(access.TokenLockUser, from)
	tokens := s.limit.unlock(from)
	where, whereZH := access.UnlockWhere(from)
	_ = audit.Record(r.Context(), audit.Entry{Action: "token.unlock", Target: "admin token", Outcome: audit.OK,
		Detail: "解除管理令牌锁定：" + whereZH + "，控制台令牌登录锁定 " + strconv.Itoa(signIn) + " 项，令牌失败等待 " + strconv.Itoa(tokens) + " 项（仅本实例）。" +
			"admin token lockout lifted at " + where + ": " + strconv.Itoa(signIn) + " console token sign-in lockout(s), " + strconv.Itoa(tokens) + " failed-token wait(s) (this instance only)"})
	writeJSON(w, http.StatusOK, TokenUnlock{Address: where, SignIn: signIn, Tokens: tokens, Lifted: signIn + tokens, Note: tokenUnlockNote})
	return nil
}
