package handlers

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/web"
)

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if _, ok := sessionFrom(r.Context()); ok {
		http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
		return
	}
	f := web.SignInForm{Next: formNext(next)}
	if r.URL.Query().Get("why") == signInWhyRole {
		f.Notice = roleGoneMessage
	}
	s.render(w, r, http.StatusOK, web.SignIn(s.page(r, "Sign in", ""), f))
}

// safeNext returns next if it is a same-site absolute path (with an
// optional query), else "/jobs": no scheme, no host, one leading "/" not
// followed by "/" or "\" (browsers read "//host" and "/\host" as another
// site), no backslash and no control character anywhere, raw or decoded
// (browsers drop tabs and newlines, so "/%09/host" would become "//host").
func safeNext(next string) string {
	const home = "/jobs"
	if next == "" || !sameSitePath(next) {
		return home
	}
	decoded, err := url.PathUnescape(next)
	if err != nil || !sameSitePath(decoded) {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") {
		return home
	}
	return next
}

// sameSitePath is the textual part of safeNext's check.
func sameSitePath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return false
	}
	for _, c := range p {
		if unicode.IsControl(c) || c == utf8.RuneError {
			return false
		}
	}
	return true
}

// formNext is the next path the sign-in form carries: next if safe, else
// none (the default after sign-in is the jobs page anyway).
func formNext(next string) string {
	if next == "" || safeNext(next) != next {
		return ""
	}
	return next
}

// signIn binds as the person; a new session (and token) at every sign-in
// prevents session fixation.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	login := strings.TrimSpace(r.PostFormValue("login"))
	password := r.PostFormValue("password")
	// The form's hidden field, or the query of a form posted to /signin?next=….
	next := r.FormValue("next")
	addr := clientAddr(r)
	refuse := func(status int, msg string) {
		s.render(w, r, status, web.SignIn(s.page(r, "Sign in", ""),
			web.SignInForm{Login: login, Error: msg, Next: formNext(next)}))
	}
	if wait := s.throttle().wait(s.now(), login, addr); wait > 0 {
		s.logger().Warn("sign-in refused: too many failures", "login", login, "addr", addr, "wait", wait.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		refuse(http.StatusTooManyRequests, "Too many failed sign-ins for this account or from this address; try again in "+waitText(wait)+".")
		return
	}
	id, err := s.Auth.Authenticate(r.Context(), login, password)
	if err != nil {
		msg := "Wrong user name or password."
		status := http.StatusUnauthorized
		switch {
		case errors.Is(err, directory.ErrNoRole):
			s.logger().Warn("sign-in refused: no role", "login", login, "addr", addr)
			refuse(http.StatusForbidden, "Your account is in neither the admin nor the helpdesk group.")
			return
		case !errors.Is(err, directory.ErrBadCredentials):
			s.logger().Error("sign in", "login", login, "addr", addr, "err", err)
			refuse(http.StatusServiceUnavailable, "The directory could not be reached; try again later.")
			return
		}
		wait := s.throttle().failed(s.now(), login, addr)
		s.logger().Warn("sign-in failed", "login", login, "addr", addr)
		if wait > 0 {
			msg += " Too many failed sign-ins: the next attempt is possible in " + waitText(wait) + "."
		}
		refuse(status, msg)
		return
	}
	s.throttle().succeeded(login)
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
	s.logger().Info("signed in", "user", id.UID, "role", id.Role, "addr", addr)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther) // only same-site paths: no open redirect
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if sess, ok := sessionFrom(r.Context()); ok {
		if err := s.DB.DeleteSession(r.Context(), sess.ID); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	s.clearSessionCookie(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// clientAddr is the address the request came from (no proxy header is
// trusted: a client could set it to anything).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
