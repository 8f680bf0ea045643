package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/web"
)

// usersSearchLimit is the most users one search shows: helpdesk looks for
// one person, not a list.
const usersSearchLimit = 50

// usersPage searches the directory by name, uid or mail (GET /users?q=).
func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	v := web.UserSearch{Query: strings.TrimSpace(r.URL.Query().Get("q")), Limit: usersSearchLimit}
	if v.Query != "" {
		users, err := s.Dir.Search(r.Context(), directory.UserQuery{Text: v.Query, Limit: usersSearchLimit})
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		v.Searched = true
		for _, u := range users {
			v.Results = append(v.Results, web.UserSearchRow{
				UID: u.UID, Name: u.Name, Mail: u.Mail,
				Link: "/users/" + url.PathEscape(u.UID),
				Home: s.userHome(u.Home),
			})
		}
	}
	s.render(w, r, http.StatusOK, web.UsersPage(s.page(r, "Users", "users"), v))
}

// userHome names the registered server a home attribute value points to.
func (s *Server) userHome(home string) web.UserHome {
	h := web.UserHome{Value: home}
	if srv, ok := s.Config.ServerByHome(home); ok && home != "" {
		h.Server = srv.Name
	}
	return h
}
