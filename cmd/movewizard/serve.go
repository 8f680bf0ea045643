package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/static"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (TOML), required")
	verbose := fs.Bool("v", false, "log every step to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard serve -config FILE\n\n"+
			"Runs the web UI and the move runner: queued and interrupted moves of every job run as\n"+
			"the caps and schedules allow, and resume after a restart. Listens on the config's\n"+
			"listen address (HTTPS with tls_cert/tls_key); /healthz answers JSON. SIGTERM stops\n"+
			"the moves at a checkpoint.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	env, err := openEnv(ctx, *configPath, *verbose, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	broker := migrate.NewBroker(env.loadMoves, nil)
	mover := env.mover()
	mover.Progress = broker.Publish
	rn := &migrate.Runner{Mover: mover, DB: env.db, Log: env.log}

	ln, err := net.Listen("tcp", env.cfg.Listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listen on %s: %w", env.cfg.Listen, err)}
	}
	ldapDir := migrate.NewLDAP(env.cfg.Directory)
	web := &handlers.Server{Config: env.cfg, DB: env.db, Dir: ldapDir, Auth: ldapDir, Runner: rn, Broker: broker,
		Log: env.log, Assets: static.New(), SecureCookies: env.cfg.TLSCert != ""}
	srv := &http.Server{Handler: web.Handler(), ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if env.cfg.TLSCert != "" {
		scheme = "https"
		go srv.ServeTLS(ln, env.cfg.TLSCert, env.cfg.TLSKey)
	} else {
		go srv.Serve(ln)
	}
	fmt.Fprintf(stdout, "movewizard serving on %s://%s (health: /healthz)\n", scheme, ln.Addr())

	err = rn.Run(ctx) // returns once running moves reached a checkpoint
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stdout, "movewizard stopped; unfinished moves resume at the next start")
		return nil
	}
	return err
}

// loadMoves gives the broker the stored moves of a job (or of every
// unfinished job), for snapshots of moves it has not seen yet.
func (e *env) loadMoves(ctx context.Context, jobID int64) ([]db.Move, error) {
	if jobID == 0 {
		return e.db.UnfinishedMoves(ctx)
	}
	return e.db.Moves(ctx, jobID)
}
