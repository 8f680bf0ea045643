package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/handlers/app"
	"github.com/movewizard/movewizard/migrate/config"
)

// service is the web UI and the runner over one database, as `serve` and
// `demo` run them; only the directory and sign-in differ.
type service struct {
	cfg   *config.Config
	store *db.DB
	dir   handlers.Directory
	auth  handlers.Authenticator
	log   *slog.Logger
}

// run serves the UI on ln (HTTPS when tlsConfig is not nil) and runs moves
// until ctx ends, then lets the running moves reach a checkpoint and stops
// the HTTP server. A stop by ctx is not an error; an HTTP server that fails
// stops the runner too and is the error run returns.
func (s service) run(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	a := app.New(app.Options{Config: s.cfg, DB: s.store, Dir: s.dir, Auth: s.auth, Log: s.log,
		SecureCookies: tlsConfig != nil})
	rn := a.Runner
	srv := &http.Server{Handler: a.UI.Handler(), TLSConfig: tlsConfig,
		// A client gets 10 s for its headers and 60 s for its whole request
		// (an 8 MiB CSV on a slow line); an answer must be written within
		// 60 s (event streams lift this per write, see handlers/job_events.go);
		// an idle keep-alive connection is closed after 2 minutes.
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "") // the certificate is in tlsConfig
		} else {
			served <- srv.Serve(ln)
		}
	}()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// The notifier delivers until the runner stopped; what it has not
	// sent stays in the outbox for the next start.
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		a.Notifier.Run(runCtx)
	}()
	serveErr := make(chan error, 1)
	go func() {
		err := <-served
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("web server failed; stopping the moves at a checkpoint", "err", err)
			serveErr <- fmt.Errorf("web server on %s failed: %w", ln.Addr(), err)
			stop()
		}
		close(serveErr)
	}()
	err := rn.Run(runCtx) // returns once running moves reached a checkpoint
	stop()
	<-notified
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if shutErr := srv.Shutdown(shutdownCtx); shutErr != nil {
		// Requests still open after the grace period are cut off; the moves
		// have already stopped, so only those clients notice.
		s.log.Warn("web server did not stop within its grace period", "err", shutErr)
	}
	if failed := <-serveErr; failed != nil {
		return &exitError{code: 1, err: failed}
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
