package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/web"
)

// serversReachTimeout bounds each server's check; all run at once, so the
// page takes at most this long however many servers are registered.
const serversReachTimeout = 3 * time.Second

// serversGreetingShown is how much of a greeting the page shows: enough to
// name the software, not a wall of capabilities.
const serversGreetingShown = 60

// serversPage lists every registered server with its reachability, checked
// now (GET /servers). Credentials are never part of the view model.
func (s *Server) serversPage(w http.ResponseWriter, r *http.Request) {
	v := web.ServersView{Mode: s.Config.Mode, Servers: make([]web.ServerStatusRow, len(s.Config.Servers))}
	var wg sync.WaitGroup
	for i, sc := range s.Config.Servers {
		v.Servers[i] = web.ServerStatusRow{
			Name: sc.Name, Address: sc.Address, TLS: sc.TLS, Home: sc.Home, Group: sc.Group,
			MaxParallel: sc.MaxParallel, Login: sc.Login, AdminUser: sc.AdminUser,
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), serversReachTimeout)
			defer cancel()
			greeting, err := migrate.Greeting(ctx, sc)
			v.Servers[i].Reachable, v.Servers[i].Reach = serversReach(greeting, err)
		})
	}
	wg.Wait()
	s.render(w, r, http.StatusOK, web.ServersPage(s.page(r, "Servers", "servers"), v))
}

// serversReach says in a few words how a server answered. Network errors
// carry no secrets and are what an admin needs to see here.
func serversReach(greeting string, err error) (bool, string) {
	switch {
	case err == nil:
		return true, "reachable (greeting: " + serversShort(greeting) + ")"
	case errors.Is(err, context.DeadlineExceeded):
		return false, "timeout: no greeting within " + serversReachTimeout.String()
	case errors.Is(err, migrate.ErrRefused):
		return false, "refused: " + serversShort(greeting)
	case errors.Is(err, syscall.ECONNREFUSED):
		return false, "refused: nothing listens on this address"
	default:
		return false, "unreachable: " + err.Error()
	}
}

// serversShort keeps the first runes of a greeting, without control
// characters a server might send.
func serversShort(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if rs := []rune(s); len(rs) > serversGreetingShown {
		return string(rs[:serversGreetingShown]) + "…"
	}
	return s
}
