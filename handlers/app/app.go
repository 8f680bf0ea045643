// Package app wires the application together: the job store, the engine
// (mover and runner), the progress broker, the notifier and the web UI. `serve`, `demo`
// and every test that needs the whole service build it with New; the
// command-line moves build their mover with NewMover. Nothing else
// assembles these parts.
package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/notify"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/static"
)

// Options are the parts that differ between serve, demo and tests.
type Options struct {
	Config *config.Config
	DB     *db.DB
	// Dir is the directory (LDAP, or the demo's in-memory one) and Auth
	// what signs people in (the same LDAP directory in serve).
	Dir  handlers.Directory
	Auth handlers.Authenticator
	Log  *slog.Logger // nil: discard
	// SecureCookies marks session cookies Secure (the UI is served over HTTPS).
	SecureCookies bool
	// Poll is how often the runner looks at the store unprompted (default 1s).
	Poll time.Duration
}

// App is the wired service. Run its Runner (Runner.Run) and its Notifier
// (Notifier.Run), and serve UI.Handler().
type App struct {
	Broker *progress.Broker
	Mover  *migrate.Mover
	Runner *migrate.Runner
	UI     *handlers.Server
	// Notifier delivers the job store's notifications through the
	// channels of the config's [notify] section.
	Notifier *notify.Sender
}

// New wires the service from o.
func New(o Options) *App {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	broker := NewBroker(o.DB)
	mover := NewMover(o.Config, o.Dir, o.DB, log, broker.Publish, nil)
	rn := &migrate.Runner{Mover: mover, DB: o.DB, Log: log, Poll: o.Poll}
	ui := &handlers.Server{Config: o.Config, DB: o.DB, Dir: o.Dir, Auth: o.Auth, Runner: rn, Broker: broker,
		Log: log, Assets: static.New(), SecureCookies: o.SecureCookies}
	sender := &notify.Sender{DB: o.DB, Config: o.Config.Notify, Log: log, Poll: o.Poll}
	return &App{Broker: broker, Mover: mover, Runner: rn, UI: ui, Notifier: sender}
}

// NewBroker returns the progress broker over store: a subscriber to job 0
// gets every unfinished move, to job N the moves of job N.
func NewBroker(store *db.DB) *progress.Broker {
	return progress.NewBroker(func(ctx context.Context, jobID int64) ([]model.Move, error) {
		if jobID == 0 {
			return store.UnfinishedMoves(ctx)
		}
		return store.Moves(ctx, jobID)
	}, nil)
}

// NewMover is the mover every command and the service run. publish receives
// each committed state (nil: none); crash is the crash tests' hook (nil in
// normal use, and for every command but move).
func NewMover(cfg *config.Config, dir directory.Directory, store *db.DB, log *slog.Logger, publish func(model.Move), crash func(string)) *migrate.Mover {
	return &migrate.Mover{Config: cfg, Dir: dir, DB: store, Log: log, Progress: publish,
		Patience: cfg.RetryPatience, Crash: crash}
}
