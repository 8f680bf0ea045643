package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (TOML), required")
	verbose := fs.Bool("v", false, "log every step to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard serve -config FILE\n\n"+
			"Runs the move runner as a service: queued and interrupted moves of every job run as\n"+
			"the caps and schedules allow, and resume after a restart. Serves a JSON health\n"+
			"endpoint at /healthz on the config's listen address. SIGTERM stops at a checkpoint.\n\n")
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
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		open, err := env.db.OpenJobs(r.Context())
		status := "ok"
		if err != nil {
			status = "database error"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"status": status, "running_moves": rn.Running(), "open_jobs": len(open),
			"dropped_subscribers": broker.Dropped(),
		})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(stdout, "movewizard serving on http://%s (health: /healthz)\n", ln.Addr())

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
