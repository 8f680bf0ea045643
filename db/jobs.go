package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/movewizard/movewizard/migrate/model"
)

// HeldError says that a user already has an unfinished move.
type HeldError struct {
	UID   string
	JobID int64
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("user %q is already in unfinished job %d", e.UID, e.JobID)
}

// Unwrap lets callers test for ErrConflict.
func (e *HeldError) Unwrap() error { return ErrConflict }

// CreateJob stores a job with one queued move per user. A user with an
// unfinished move elsewhere makes the whole job fail with a *HeldError.
func (d *DB) CreateJob(ctx context.Context, j model.Job, uids []string) (model.Job, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return model.Job{}, err
	}
	defer tx.Rollback()
	j.CreatedAt = d.Now()
	if j.State == "" {
		j.State = model.JobQueued
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO jobs
		(created_at, created_by, target, policy, max_bad, parallel, keep_source, start_at, cancel_after_hours, state,
		notify_emails, notify_webhook, stage, complete_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		formatTime(j.CreatedAt), j.CreatedBy, j.Target, j.Policy, j.MaxBad, j.Parallel,
		boolInt(j.KeepSource), formatTime(j.StartAt), j.CancelAfterHours, j.State,
		j.NotifyEmails, boolInt(j.NotifyWebhook), boolInt(j.Stage), formatTime(j.CompleteAt))
	if err != nil {
		return model.Job{}, fmt.Errorf("insert job: %w", err)
	}
	if j.ID, err = res.LastInsertId(); err != nil {
		return model.Job{}, err
	}
	seen := map[string]bool{}
	for _, uid := range uids {
		if seen[uid] {
			return model.Job{}, fmt.Errorf("user %q listed twice: %w", uid, ErrConflict)
		}
		seen[uid] = true
		var held int64
		err := tx.QueryRowContext(ctx, `SELECT job_id FROM moves
			WHERE uid = ? AND state IN `+openStates, uid).Scan(&held)
		if err == nil {
			return model.Job{}, &HeldError{UID: uid, JobID: held}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return model.Job{}, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO moves (job_id, uid, target, created_at)
			VALUES (?,?,?,?)`, j.ID, uid, j.Target, formatTime(j.CreatedAt)); err != nil {
			return model.Job{}, fmt.Errorf("insert move for %q: %w", uid, err)
		}
	}
	if err := addAudit(ctx, tx, d.Now(), j.CreatedBy, "start job", j.ID, 0,
		fmt.Sprintf("%d users to %s, policy %s", len(uids), j.Target, j.Policy)); err != nil {
		return model.Job{}, err
	}
	return j, tx.Commit()
}

const jobColumns = `id, created_at, created_by, target, policy, max_bad, parallel, keep_source,
	start_at, cancel_after_hours, state, started_at, finished_at, notify_emails, notify_webhook,
	stage, complete_at`

func scanJob(row interface{ Scan(...any) error }) (model.Job, error) {
	var j model.Job
	var created, startAt, started, finished, completeAt string
	var keep, webhook, stage int
	err := row.Scan(&j.ID, &created, &j.CreatedBy, &j.Target, &j.Policy, &j.MaxBad, &j.Parallel,
		&keep, &startAt, &j.CancelAfterHours, &j.State, &started, &finished, &j.NotifyEmails, &webhook,
		&stage, &completeAt)
	j.Stage, j.CompleteAt = stage != 0, parseTime(completeAt)
	j.NotifyWebhook = webhook != 0
	j.CreatedAt, j.StartAt, j.FinishedAt = parseTime(created), parseTime(startAt), parseTime(finished)
	j.StartedAt = parseTime(started)
	j.KeepSource = keep != 0
	return j, err
}

// model.Job returns one job.
func (d *DB) Job(ctx context.Context, id int64) (model.Job, error) {
	j, err := scanJob(d.sql.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return model.Job{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	return j, err
}

// Jobs returns jobs, newest first; state "" means all.
func (d *DB) Jobs(ctx context.Context, state model.JobState) ([]model.Job, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE ? = '' OR state = ? ORDER BY id DESC`, state, state)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []model.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}
