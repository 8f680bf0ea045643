package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

const sessionCookie = "mw_session"

type ctxKey int

const sessionKey ctxKey = 1

func sessionFrom(ctx context.Context) (db.Session, bool) {
	s, ok := ctx.Value(sessionKey).(db.Session)
	return s, ok
}

// defaultRoleCheckInterval is how long a session's role is trusted before
// the directory is asked again (Server.RoleCheckInterval overrides it).
const defaultRoleCheckInterval = 2 * time.Minute

// roleCheckTimeout bounds one re-check, so that a directory that stops
// answering delays a request by seconds, not by the LDAP client's timeout.
const roleCheckTimeout = 5 * time.Second

// signInWhyRole is the sign-in page's ?why= for a session ended because the
// person lost their role (a fixed reason, not a message: nothing to forge).
const signInWhyRole = "role"

// withSession loads the session of the cookie, if any, into the context,
// after re-checking its role against the directory when the last check is
// older than the role check interval (see recheckRole).
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			sess, err := s.DB.SessionByToken(r.Context(), c.Value)
			switch {
			case err == nil:
				var ok bool
				if sess, ok = s.recheckRole(w, r, sess); !ok {
					return
				}
				if sess.ID != "" {
					r = r.WithContext(context.WithValue(r.Context(), sessionKey, sess))
				}
			case !errors.Is(err, db.ErrNotFound):
				s.renderError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recheckRole confirms the session's role with the directory when the last
// check is too old. A changed role is stored and applies to this request
// (an admin made helpdesk can no longer change anything); a role that is
// gone (neither group, or no such person any more) ends the session: it is
// deleted, the cookie cleared, and the person sent to the sign-in page with
// the reason (ok false: the answer is written) — except on the sign-in
// routes themselves, which carry on without a session (the zero Session).
// A directory that cannot answer changes nothing: the session goes on and
// the next request asks again.
func (s *Server) recheckRole(w http.ResponseWriter, r *http.Request, sess db.Session) (db.Session, bool) {
	interval := s.RoleCheckInterval
	if interval <= 0 {
		interval = defaultRoleCheckInterval
	}
	now := s.now()
	if age := now.Sub(sess.RoleCheckedAt); age >= 0 && age < interval {
		return sess, true
	}
	ctx, cancel := context.WithTimeout(r.Context(), roleCheckTimeout)
	role, err := s.Auth.Role(ctx, sess.DN)
	cancel()
	switch {
	case errors.Is(err, directory.ErrNoRole):
		s.logger().Warn("session ended: no longer admin or helpdesk", "user", sess.UID, "was", sess.Role, "err", err)
		if err := s.DB.DeleteSession(r.Context(), sess.ID); err != nil {
			s.renderError(w, r, err)
			return sess, false
		}
		s.clearSessionCookie(w)
		if r.URL.Path == "/signin" {
			return db.Session{}, true
		}
		if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
			http.Redirect(w, r, "/signin?why="+signInWhyRole, http.StatusSeeOther)
		} else {
			http.Error(w, roleGoneMessage, http.StatusUnauthorized)
		}
		return sess, false
	case err != nil:
		if r.Context().Err() != nil {
			return sess, true // the client left; nothing was learnt
		}
		s.logger().Warn("role re-check failed; keeping the session, will retry", "user", sess.UID, "role", sess.Role, "err", err)
		return sess, true
	}
	if role != sess.Role {
		s.logger().Info("role changed", "user", sess.UID, "from", sess.Role, "to", role)
	}
	if err := s.DB.SetSessionRole(r.Context(), sess.ID, role, now); err != nil {
		if !errors.Is(err, db.ErrNotFound) {
			s.renderError(w, r, err)
			return sess, false
		}
		// Signed out meanwhile (another tab): the session is gone.
		return db.Session{}, true
	}
	sess.Role, sess.RoleCheckedAt = role, now
	return sess, true
}

// roleGoneMessage tells a person whose session ended with their role why.
const roleGoneMessage = "You were signed out: your account is no longer in the admin or helpdesk group."

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
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
