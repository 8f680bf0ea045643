package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/movewizard/movewizard/db"
)

// Runner executes the moves of jobs, several at once.
type Runner struct {
	Mover *Mover
	DB    *db.DB
	Log   *slog.Logger
}

// RunJob runs every unfinished move of a job, at most job.Parallel at once,
// and returns the job's moves when all have an outcome. A stopped context
// leaves the unfinished moves resumable.
func (rn *Runner) RunJob(ctx context.Context, jobID int64) ([]db.Move, error) {
	job, err := rn.DB.Job(ctx, jobID)
	if err != nil {
		return nil, err
	}
	moves, err := rn.DB.Moves(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if err := rn.DB.SetJobState(ctx, jobID, db.JobRunning); err != nil {
		return nil, err
	}
	sem := make(chan struct{}, max(job.Parallel, 1))
	var wg sync.WaitGroup
	errs := make(chan error, len(moves))
	for _, m := range moves {
		if !m.Unfinished() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if _, err := rn.Mover.Run(ctx, job, m); err != nil {
				errs <- fmt.Errorf("move of %q: %w", m.UID, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := rn.DB.SetJobState(ctx, jobID, db.JobDone); err != nil {
		return nil, err
	}
	return rn.DB.Moves(ctx, jobID)
}
