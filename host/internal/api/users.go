package api

import (
	"net/http"
	"time"
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
