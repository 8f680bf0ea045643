package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/static"
)

// service is the web UI and the runner over one database, as `serve` and
// `demo` run them; only the directory and sign-in differ.
type service struct {
	cfg   *migrate.Config
	store *db.DB
	dir   handlers.Directory
	auth  handlers.Authenticator
	log   *slog.Logger
}

// run serves the UI on ln and runs moves until ctx ends, then lets the
// running moves reach a checkpoint and stops the HTTP server. A stop by
// ctx is not an error.
func (s service) run(ctx context.Context, ln net.Listener, tls bool) error {
	broker := migrate.NewBroker(func(ctx context.Context, jobID int64) ([]db.Move, error) {
		if jobID == 0 {
			return s.store.UnfinishedMoves(ctx)
		}
		return s.store.Moves(ctx, jobID)
	}, nil)
	mover := newMover(s.cfg, s.dir, s.store, s.log, broker.Publish)
	rn := &migrate.Runner{Mover: mover, DB: s.store, Log: s.log}
	ui := &handlers.Server{Config: s.cfg, DB: s.store, Dir: s.dir, Auth: s.auth, Runner: rn, Broker: broker,
		Log: s.log, Assets: static.New(), SecureCookies: tls}
	srv := &http.Server{Handler: ui.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() {
		if tls {
			served <- srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		// An HTTP server that dies (bad certificate) stops the runner too.
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("web server stopped", "err", err)
			stop()
		}
	}()
	err := rn.Run(runCtx) // returns once running moves reached a checkpoint
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
