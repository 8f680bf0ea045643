package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// cmdComplete completes staged moves (move -stage): it records the
// completion request, as the web UI's "Complete now" does, and then runs
// the moves to their end itself, so it holds the runner lock like move.
func cmdComplete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, configPath, job, move := controlFlags("complete", "Usage: movewizard complete -config FILE (-job N | -move N) [-v]\n\n"+
		"Completes staged mailboxes (movewizard move -stage): a last sync, the directory update, the\n"+
		"source's sessions ended (kick_command or kick_url, when configured), the directory's\n"+
		"propagation delay, the final delta pass, verification and removal of the source. It runs\n"+
		"until they finished. Exit 0 when every mailbox moved, 1 when any did not or the completion\n"+
		"was refused (not a staged job, a finished mailbox), 2 for bad usage or configuration.\n"+
		"While serve runs on the database, complete from its web UI instead.\n\n", stderr)
	verbose := fs.Bool("v", false, "log every step to stderr")
	if err := parseControl(fs, args); err != nil {
		return ignoreHelp(err)
	}
	if fs.NArg() > 0 {
		return usageErr("complete: unexpected argument %q", fs.Arg(0))
	}
	if (*job == 0) == (*move == 0) {
		return usageErr("complete: give exactly one of -job and -move")
	}
	if *job < 0 || *move < 0 {
		return usageErr("complete: -job and -move are positive ids")
	}
	env, err := openEnv(ctx, *configPath, *verbose, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	sum := summary{ok: moved, not: "not moved"}
	jobID := *job
	if *job != 0 {
		n, err := env.db.CompleteJob(ctx, *job, osUser())
		if err != nil {
			return refusal(fmt.Sprintf("complete job %d", *job), err)
		}
		fmt.Fprintf(stdout, "job %d: completion requested for %d mailboxes\n", *job, n)
	} else {
		m, err := env.db.RequestComplete(ctx, *move, osUser())
		if err != nil {
			return refusal(fmt.Sprintf("complete move %d", *move), err)
		}
		fmt.Fprintf(stdout, "move %d (%s): completion requested\n", m.ID, m.UID)
		jobID = m.JobID
		// The job's other mailboxes stay synced; only this one is reported.
		sum.show = func(x model.Move) bool { return x.ID == m.ID }
	}
	return env.runJobs(ctx, []int64{jobID}, stdout, sum)
}

// refusal is the exit error of a refused request: the store's sentence,
// without the kind of refusal that only programs read.
func refusal(what string, err error) error {
	if !errors.Is(err, db.ErrConflict) && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	text := strings.TrimSuffix(err.Error(), ": "+db.ErrConflict.Error())
	if errors.Is(err, db.ErrNotStaged) {
		text += "; it completes by itself"
	}
	return &exitError{code: 1, err: fmt.Errorf("%s: %s", what, text)}
}
