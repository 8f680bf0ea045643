// Package handlers is the web UI's HTTP layer: routes in routes.go, one file
// per page or action. Each handler parses, validates, calls migrate or db,
// then renders or redirects (Post/Redirect/Get).
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/static"
	"github.com/movewizard/movewizard/web"
)

// Authenticator signs people in (LDAP bind, or the demo's in-memory one).
type Authenticator interface {
	Authenticate(ctx context.Context, login, password string) (directory.Identity, error)
	// Role re-reads the role of the signed-in person at dn with the same
	// group checks as Authenticate. The error wraps directory.ErrNoRole
	// when the person is in neither group or no longer exists; any other
	// error means the directory could not answer.
	Role(ctx context.Context, dn string) (model.Role, error)
}

var (
	_ Authenticator = (*directory.LDAP)(nil)
	_ Authenticator = (*directory.MemAuth)(nil)
)

// Directory is what the pages read from the directory.
type Directory interface {
	directory.Directory
	Search(ctx context.Context, q directory.UserQuery) ([]directory.User, error)
	// LookupMany looks many uids up at once (LDAP: over one connection); the map
	// holds each requested uid, as given, that names a user.
	LookupMany(ctx context.Context, uids []string) (map[string]directory.User, error)
}

// Runner is the background runner, told when there is new work.
type Runner interface {
	Wake()
	Running() int
}

// Server holds the dependencies of every handler.
type Server struct {
	Config *config.Config
	DB     *db.DB
	Dir    Directory
	Auth   Authenticator
	Runner Runner
	Broker *progress.Broker
	Log    *slog.Logger
	Assets *static.Assets
	// SecureCookies marks cookies Secure (behind TLS).
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts (default 12 hours).
	SessionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RoleCheckInterval is how old a session's role may be before it is
	// checked against the directory again (default 2 minutes).
	RoleCheckInterval time.Duration

	throttleOnce sync.Once
	signins      *signinThrottle
	streamsMu    sync.Mutex
	streams      map[string]int // open event streams per person
	hubs         jobHubs        // one per job with open event streams (job_hub.go)
	probesOnce   sync.Once
	probes       *serversProber // /servers probe rounds and their cache
}

// throttle is the sign-in throttle, made on first use.
func (s *Server) throttle() *signinThrottle {
	s.throttleOnce.Do(func() { s.signins = newSigninThrottle() })
	return s.signins
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// page returns the frame model of a page for the signed-in person.
func (s *Server) page(r *http.Request, title, nav string) web.Page {
	p := web.Page{Title: title, Nav: nav, CSS: s.Assets.URL("style.css")}
	if sess, ok := sessionFrom(r.Context()); ok {
		p.UserName, p.Role = sess.Name, sess.Role
		if p.UserName == "" {
			p.UserName = sess.UID
		}
	}
	p.Flash = flashFrom(r)
	return p
}

// render writes a component with the given status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		s.logger().Error("render page", "path", r.URL.Path, "err", err)
	}
}
