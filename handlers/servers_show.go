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
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/web"
	"github.com/movewizard/movewizard/web/format"
)

// serversReachTimeout bounds each server's check; all run at once, so a
// probe round takes at most this long however many servers are registered.
const serversReachTimeout = 3 * time.Second

// serversProbeTTL is how long a probe round's results are shown before a
// view starts the next round: however many people reload /servers, the
// service connects to each server at most once per this period.
const serversProbeTTL = 30 * time.Second

// serversGreetingShown is how much of a greeting the page shows: enough to
// name the software, not a wall of capabilities.
const serversGreetingShown = 60

// serversPage lists every registered server with its reachability, from a
// probe round at most serversProbeTTL old, and says which connections are
// unencrypted (GET /servers). Credentials are never part of the view model.
func (s *Server) serversPage(w http.ResponseWriter, r *http.Request) {
	results, at, err := s.serversProbe().get(r.Context(), s.Config.Servers)
	if err != nil {
		// The viewer left while waiting for the round; nobody reads this.
		return
	}
	v := web.ServersView{
		Mode: s.Config.Mode, CheckedAt: format.Time(at), ProbeTTL: format.Duration(serversProbeTTL),
		Directory: s.Config.Directory.URL, DirectoryCleartext: s.Config.Directory.Cleartext(),
		Servers: make([]web.ServerStatusRow, len(s.Config.Servers)),
	}
	for i, sc := range s.Config.Servers {
		res := results[serversProbeKey(sc)]
		v.Servers[i] = web.ServerStatusRow{
			Name: sc.Name, Address: sc.Address, TLS: sc.TLS, Cleartext: sc.Cleartext(), Home: sc.Home, Group: sc.Group,
			MaxParallel: sc.MaxParallel, Login: sc.Login, AdminUser: sc.AdminUser,
			Reachable: res.reachable, Reach: res.reach,
		}
	}
	s.render(w, r, http.StatusOK, web.ServersPage(s.page(r, "Servers", "servers"), v))
}

// serversProbe is the Server's probe cache, made on first use.
func (s *Server) serversProbe() *serversProber {
	s.probesOnce.Do(func() { s.probes = &serversProber{ttl: serversProbeTTL, now: s.now, probe: serversCheck} })
	return s.probes
}

// reachResult is how one server answered a probe.
type reachResult struct {
	reachable bool
	reach     string
}

// serversProber runs probe rounds, at most one at a time, and keeps the
// last round's results for ttl. Viewers arriving while a round runs wait
// for it and share its results.
type serversProber struct {
	ttl   time.Duration
	now   func() time.Time
	probe func(context.Context, config.Server) reachResult

	mu      sync.Mutex
	at      time.Time              // when the last finished round started
	results map[string]reachResult // of that round, by serversProbeKey
	running chan struct{}          // closed when the running round ends; nil when none runs
}

// serversProbeKey names a server in the results, so that results stay
// right if the list changes (tests add servers to a running app).
func serversProbeKey(s config.Server) string { return s.Name + "\x00" + s.Address + "\x00" + s.TLS }

// get returns results for every server in servers, and when they were
// probed: those of the last round if it is fresh and covers them all, else
// of a new round, which it runs or, if one is running, waits for. The error
// is ctx's, when ctx ends while waiting.
func (p *serversProber) get(ctx context.Context, servers []config.Server) (map[string]reachResult, time.Time, error) {
	for {
		p.mu.Lock()
		if p.results != nil && p.now().Sub(p.at) < p.ttl && p.covers(servers) {
			results, at := p.results, p.at
			p.mu.Unlock()
			return results, at, nil
		}
		if running := p.running; running != nil {
			p.mu.Unlock()
			select {
			case <-running:
				continue // fresh now, unless the servers changed meanwhile
			case <-ctx.Done():
				return nil, time.Time{}, ctx.Err()
			}
		}
		running := make(chan struct{})
		p.running = running
		p.mu.Unlock()
		results, at := p.round(ctx, servers, running)
		return results, at, nil
	}
}

// covers reports whether the last round has a result for every server.
// p.mu is held.
func (p *serversProber) covers(servers []config.Server) bool {
	for _, s := range servers {
		if _, ok := p.results[serversProbeKey(s)]; !ok {
			return false
		}
	}
	return true
}

// round probes every server at once and publishes the results. It does not
// end with the viewer who started it: the others wait for it.
func (p *serversProber) round(ctx context.Context, servers []config.Server, running chan struct{}) (map[string]reachResult, time.Time) {
	at := p.now()
	results := make(map[string]reachResult, len(servers))
	defer func() {
		p.mu.Lock()
		p.results, p.at, p.running = results, at, nil
		p.mu.Unlock()
		close(running)
	}()
	ctx = context.WithoutCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, sc := range servers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, serversReachTimeout)
			defer cancel()
			res := p.probe(ctx, sc)
			mu.Lock()
			results[serversProbeKey(sc)] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	return results, at
}

// serversCheck connects to a server and reads its greeting, without
// logging in.
func serversCheck(ctx context.Context, s config.Server) reachResult {
	greeting, err := migrate.Greeting(ctx, s)
	reachable, reach := serversReach(greeting, err)
	return reachResult{reachable: reachable, reach: reach}
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
