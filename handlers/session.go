package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

const sessionCookie = "mw_session"

type ctxKey int

const sessionKey ctxKey = 1

func sessionFrom(ctx context.Context) (db.Session, bool) {
	s, ok := ctx.Value(sessionKey).(db.Session)
	return s, ok
}

// withSession loads the session of the cookie, if any, into the context.
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			sess, err := s.DB.SessionByToken(r.Context(), c.Value)
			if err == nil {
				r = r.WithContext(context.WithValue(r.Context(), sessionKey, sess))
			} else if !errors.Is(err, db.ErrNotFound) {
				s.renderError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requireSignIn sends people without a session to the sign-in page (and
// answers 401 to requests that are not page loads).
func (s *Server) requireSignIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := sessionFrom(r.Context()); !ok {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAdmin refuses helpdesk staff: they may only read.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sess, _ := sessionFrom(r.Context()); sess.Role != model.RoleAdmin {
			s.renderError(w, r, &userError{kind: errForbidden, msg: "Only admins may do this; helpdesk staff may watch jobs."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// actor names the signed-in person for the audit table.
func actor(r *http.Request) string {
	sess, _ := sessionFrom(r.Context())
	return sess.UID
}
