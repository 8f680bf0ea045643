package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/web"
)

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := sessionFrom(r.Context()); ok {
		http.Redirect(w, r, "/jobs", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, web.SignIn(s.page(r, "Sign in", ""), web.SignInForm{}))
}

// signIn binds as the person; a new session (and token) at every sign-in
// prevents session fixation.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	login := strings.TrimSpace(r.PostFormValue("login"))
	password := r.PostFormValue("password")
	id, err := s.Auth.Authenticate(r.Context(), login, password)
	if err != nil {
		msg := "Wrong user name or password."
		status := http.StatusUnauthorized
		switch {
		case errors.Is(err, directory.ErrNoRole):
			msg, status = "Your account is in neither the admin nor the helpdesk group.", http.StatusForbidden
		case !errors.Is(err, directory.ErrBadCredentials):
			s.logger().Error("sign in", "login", login, "err", err)
			msg, status = "The directory could not be reached; try again later.", http.StatusServiceUnavailable
		}
		s.render(w, r, status, web.SignIn(s.page(r, "Sign in", ""), web.SignInForm{Login: login, Error: msg}))
		return
	}
	if old, ok := sessionFrom(r.Context()); ok {
		if err := s.DB.DeleteSession(r.Context(), old.ID); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	ttl := s.SessionTTL
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	token, _, err := s.DB.CreateSession(r.Context(), db.Session{UID: id.UID, DN: id.DN, Name: id.Name, Role: id.Role}, ttl)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds())})
	s.logger().Info("signed in", "user", id.UID, "role", id.Role)
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/jobs" // only local paths: no open redirect
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if sess, ok := sessionFrom(r.Context()); ok {
		if err := s.DB.DeleteSession(r.Context(), sess.ID); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
