package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web/format"
)

// openStore opens the database without taking the runner lock: control
// commands only record requests, which the running serve picks up.
func openStore(ctx context.Context, configPath string) (*db.DB, error) {
	if configPath == "" {
		return nil, usageErr("-config is required")
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return db.Open(ctx, cfg.Database)
}

func controlFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string, *int64, *int64) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (TOML), required")
	job := fs.Int64("job", 0, "job id")
	move := fs.Int64("move", 0, "move id (one mailbox of a job; see movewizard jobs)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs, configPath, job, move
}

func parseControl(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	return nil
}

func cmdCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, configPath, job, move := controlFlags("cancel", "Usage: movewizard cancel -config FILE (-job N | -move N)\n\n"+
		"Cancels a whole job or one mailbox. Queued moves are cancelled at once; running ones stop at\n"+
		"their next checkpoint, their partial target copy removed and the source untouched. A move past\n"+
		"its cut-over (the directory already names the target) cannot be cancelled and finishes.\n\n", stderr)
	if err := parseControl(fs, args); err != nil {
		return ignoreHelp(err)
	}
	if (*job == 0) == (*move == 0) {
		return usageErr("cancel: give exactly one of -job and -move")
	}
	store, err := openStore(ctx, *configPath)
	if err != nil {
		return err
	}
	defer store.Close()
	if *job != 0 {
		c, err := store.CancelJob(ctx, *job, osUser())
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("cancel job %d: %w", *job, err)}
		}
		fmt.Fprintf(stdout, "job %d: cancelled (queued moves cancelled: %d, running asked to stop: %d, past their cut-over and finishing: %d)\n",
			*job, c.Cancelled, c.Stopping, c.Finishing)
		return nil
	}
	m, err := store.CancelMove(ctx, *move, osUser())
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("cancel move %d: %w", *move, err)}
	}
	if m.State == model.MoveCancelled {
		fmt.Fprintf(stdout, "move %d: cancelled\n", *move)
		return nil
	}
	fmt.Fprintf(stdout, "move %d: cancel requested\n", *move)
	return nil
}

func cmdRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, configPath, _, move := controlFlags("retry", "Usage: movewizard retry -config FILE -move N\n\n"+
		"Queues a failed, abandoned or cancelled mailbox again as a new attempt.\n\n", stderr)
	if err := parseControl(fs, args); err != nil {
		return ignoreHelp(err)
	}
	if *move == 0 {
		return usageErr("retry: -move is required")
	}
	store, err := openStore(ctx, *configPath)
	if err != nil {
		return err
	}
	defer store.Close()
	m, err := store.RetryMove(ctx, *move, osUser())
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("retry move %d: %w", *move, err)}
	}
	fmt.Fprintf(stdout, "move %d (%s): queued again, attempt %d\n", m.ID, m.UID, m.Attempt)
	return nil
}

func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, configPath, job, _ := controlFlags("jobs", "Usage: movewizard jobs -config FILE [-job N]\n\n"+
		"Lists jobs, or the mailboxes of one job with their state.\n\n", stderr)
	if err := parseControl(fs, args); err != nil {
		return ignoreHelp(err)
	}
	store, err := openStore(ctx, *configPath)
	if err != nil {
		return err
	}
	defer store.Close()
	if *job == 0 {
		jobs, err := store.Jobs(ctx, "")
		if err != nil {
			return err
		}
		for _, j := range jobs {
			fmt.Fprintf(stdout, "job %-4d %-9s to %-10s policy %-7s parallel %-2d by %s at %s\n", j.ID, j.State, j.Target,
				j.Policy, j.Parallel, j.CreatedBy, format.Time(j.CreatedAt))
		}
		return nil
	}
	moves, err := store.Moves(ctx, *job)
	if err != nil {
		return err
	}
	for _, m := range moves {
		fmt.Fprintf(stdout, "move %-5d %-12s %-13s %-9s %d/%d msgs, %d skipped %s\n", m.ID, m.UID, m.State,
			orDash(m.Phase), m.MsgsDone, m.MsgsTotal, m.Skipped, m.Error)
	}
	return nil
}

func ignoreHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
