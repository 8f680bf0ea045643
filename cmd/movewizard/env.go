package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers/app"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web/format"
)

// env is what the move, resume and serve commands share: config, the
// locked database, the directory and the mover.
type env struct {
	cfg     *config.Config
	db      *db.DB
	dir     directory.Directory
	log     *slog.Logger
	release func()
	crash   func(string) // the crash tests' hook; only `move` sets it
	mu      sync.Mutex
	out     io.Writer
	last    map[int64]string // move id -> last printed state line key
}

func openEnv(ctx context.Context, configPath string, verbose bool, stderr io.Writer) (*env, error) {
	if configPath == "" {
		return nil, usageErr("-config is required")
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	release, err := db.Lock(cfg.Database)
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	d, err := db.Open(ctx, cfg.Database)
	if err != nil {
		release()
		return nil, &exitError{code: 1, err: err}
	}
	return &env{cfg: cfg, db: d, dir: directory.NewLDAP(cfg.Directory), log: log, release: release,
		last: map[int64]string{}}, nil
}

func (e *env) Close() {
	e.db.Close()
	e.release()
}

func (e *env) mover() *migrate.Mover {
	return app.NewMover(e.cfg, e.dir, e.db, e.log, e.progress, e.crash)
}

// progress prints one line per state or phase change of a move.
func (e *env) progress(m model.Move) {
	key := string(m.State) + "/" + string(m.Phase)
	if m.Error != "" && m.State == model.MoveRunning {
		key += "/retry"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.out == nil || e.last[m.ID] == key {
		return
	}
	e.last[m.ID] = key
	line := fmt.Sprintf("%-12s %-10s %-9s %d/%d msgs %s/%s", m.UID, m.State, orDash(m.Phase),
		m.MsgsDone, m.MsgsTotal, format.Bytes(m.BytesDone), format.Bytes(m.BytesTotal))
	if m.Skipped > 0 {
		line += fmt.Sprintf(" %d skipped", m.Skipped)
	}
	if m.Error != "" {
		line += "  " + m.Error
	}
	fmt.Fprintln(e.out, line)
}

// summary says which moves a command reports and which outcome it wants.
type summary struct {
	show func(model.Move) bool // nil: every move of the jobs
	ok   func(model.Move) bool // the outcome wanted
	not  string                // says what the others are not, for the exit error
}

// movedOrWaiting is what move and resume want: every mailbox moved (or
// already on the target), or, in a staged job, synced and waiting to
// complete. not names the others.
func movedOrWaiting(not string) summary {
	return summary{ok: func(m model.Move) bool { return moved(m) || m.State == model.MoveSynced }, not: not}
}

func moved(m model.Move) bool { return m.State == model.MoveDone || m.State == model.MoveAlreadyThere }

// runJobs runs jobs one after another (each job's moves in parallel) and
// prints a summary. Any mailbox without the outcome sum wants makes the
// exit code 1.
func (e *env) runJobs(ctx context.Context, jobs []int64, stdout io.Writer, sum summary) error {
	e.out = stdout
	rn := &migrate.Runner{Mover: e.mover(), DB: e.db, Log: e.log}
	failed := 0
	start := time.Now()
	var msgs, bytes int64
	moves, err := rn.RunJobs(ctx, jobs...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nsummary:\n")
	for _, m := range moves {
		if sum.show != nil && !sum.show(m) {
			continue
		}
		fmt.Fprintf(stdout, "  job %-3d %-12s %-13s %d msgs %s, %d skipped", m.JobID, m.UID, m.State.Label(), m.MsgsDone, format.Bytes(m.BytesDone), m.Skipped)
		if m.Error != "" {
			fmt.Fprintf(stdout, "  (%s)", m.Error)
		}
		fmt.Fprintln(stdout)
		if !sum.ok(m) {
			failed++
		}
		msgs += m.MsgsDone
		bytes += m.BytesDone
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "\n%d messages, %s in %.1fs (%.0f msgs/s, %s)\n", msgs, format.Bytes(bytes), secs,
		float64(msgs)/secs, format.Rate(float64(bytes)/secs))
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d mailboxes %s", failed, sum.not)}
	}
	return nil
}

// crashEnv names the crash tests' hook variable. Only `move` reads it (the
// crash tests crash a move and resume with move or resume); every other
// command says that it ignores it, so that a forgotten export cannot kill
// a serving process.
const crashEnv = "MOVEWIZARD_CRASH"

// crashHook implements MOVEWIZARD_CRASH=point[:n] for the crash tests: the
// process kills itself with SIGKILL the n-th time the mover reaches point,
// which is exactly what a power cut or the OOM killer does at that instant.
func crashHook(spec string) func(string) {
	if spec == "" {
		return nil
	}
	point, nStr, _ := strings.Cut(spec, ":")
	n, err := strconv.Atoi(nStr)
	if err != nil || n < 1 {
		n = 1
	}
	var mu sync.Mutex
	count := 0
	return func(p string) {
		if p != point {
			return
		}
		mu.Lock()
		count++
		hit := count == n
		mu.Unlock()
		if hit {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never continue past the crash point
		}
	}
}
