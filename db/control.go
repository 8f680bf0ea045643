package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// MarkJobStarted records that a job's first move started (once).
func (d *DB) MarkJobStarted(ctx context.Context, id int64) error {
	_, err := d.sql.ExecContext(ctx, `UPDATE jobs SET state = 'running',
		started_at = CASE WHEN started_at = '' THEN ? ELSE started_at END
		WHERE id = ? AND state IN `+openStates, formatTime(d.Now()), id)
	return err
}

// FinishJobIfDone closes a job whose moves all have an outcome, and gives
// it the outcome they add up to: cancelled if someone cancelled the job;
// done if every mailbox moved (or was already there) with nothing skipped;
// failed if none moved; completed-with-errors otherwise. It reports whether
// it closed the job.
func (d *DB) FinishJobIfDone(ctx context.Context, id int64) (bool, error) {
	var finished bool
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		var open, moved, unmoved, skipped int
		if err := tx.QueryRowContext(ctx, `SELECT
			coalesce(sum(state IN `+openStates+`), 0),
			coalesce(sum(state IN (?, ?)), 0),
			coalesce(sum(state NOT IN (?, ?) AND state NOT IN `+openStates+`), 0),
			coalesce(sum(skipped), 0)
			FROM moves WHERE job_id = ?`,
			model.MoveDone, model.MoveAlreadyThere, model.MoveDone, model.MoveAlreadyThere, id).
			Scan(&open, &moved, &unmoved, &skipped); err != nil {
			return err
		}
		if open > 0 {
			return nil
		}
		outcome := jobOutcome(moved, unmoved, skipped)
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE ? END,
			finished_at = ? WHERE id = ? AND finished_at = ''`, outcome, formatTime(d.Now()), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		finished = n > 0
		if !finished {
			return nil
		}
		// In the same transaction: a finished job is always announced.
		return enqueueJobFinished(ctx, tx, d.Now(), id)
	})
	return finished, err
}

// jobOutcome is what a finished, not cancelled job's moves add up to.
func jobOutcome(moved, unmoved, skipped int) model.JobState {
	switch {
	case unmoved == 0 && skipped == 0:
		return model.JobDone
	case moved == 0:
		return model.JobFailed
	}
	return model.JobDoneWithErrors
}

// RetryMove queues a failed, abandoned or cancelled move again as a new
// attempt. What the last attempt checkpointed stays: a failed move resumes
// where it stopped; an abandoned or cancelled one was cleaned up and starts
// over. A user with another unfinished move is refused (*HeldError).
func (d *DB) RetryMove(ctx context.Context, id int64, actor string) (model.Move, error) {
	var m model.Move
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		var err error
		if m, err = moveIn(ctx, tx, id); err != nil {
			return err
		}
		switch m.State {
		case model.MoveFailed, model.MoveAbandoned, model.MoveCancelled:
		default:
			return fmt.Errorf("move %d of %q is %s, not failed, abandoned or cancelled: %w", id, m.UID, m.State, ErrConflict)
		}
		var held int64
		err = tx.QueryRowContext(ctx, `SELECT job_id FROM moves WHERE uid = ? AND state IN `+openStates, m.UID).Scan(&held)
		if err == nil {
			return &HeldError{UID: m.UID, JobID: held}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if m.State != model.MoveFailed {
			m.Phase = "" // cleaned up: start over from preflight
			m.MsgsDone, m.BytesDone = 0, 0
		}
		m.State, m.Error, m.Attempt, m.FinishedAt, m.Skipped = model.MoveQueued, "", m.Attempt+1, time.Time{}, 0
		if err := saveMove(ctx, tx, m); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET cancel_requested = 0 WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM skipped WHERE move_id = ?`, id); err != nil {
			return err
		}
		// The job is open again: running if it had started, else still
		// queued (a scheduled job waits for its start time).
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = CASE WHEN started_at = '' THEN 'queued' ELSE 'running' END,
			finished_at = '' WHERE id = ?`, m.JobID); err != nil {
			return err
		}
		return addAudit(ctx, tx, d.Now(), actor, "retry mailbox", m.JobID, id, fmt.Sprintf("%s, attempt %d", m.UID, m.Attempt))
	})
	return m, err
}

// OpenJobs returns the ids of jobs not finished yet, oldest first.
func (d *DB) OpenJobs(ctx context.Context) ([]int64, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT id FROM jobs WHERE finished_at = '' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
