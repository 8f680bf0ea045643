package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobDone      = "done"
	JobCancelled = "cancelled"
)

// Error policies, as in the Exchange 2003 wizard.
const (
	PolicyAbandon = "abandon"
	PolicySkip    = "skip"
)

// Job is a batch of moves to one target.
type Job struct {
	ID               int64
	CreatedAt        time.Time
	CreatedBy        string
	Target           string
	Policy           string
	MaxBad           int
	Parallel         int
	KeepSource       bool
	StartAt          time.Time
	CancelAfterHours int
	State            string
	StartedAt        time.Time
	FinishedAt       time.Time
}

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
func (d *DB) CreateJob(ctx context.Context, j Job, uids []string) (Job, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return Job{}, err
	}
	defer tx.Rollback()
	j.CreatedAt = d.Now()
	if j.State == "" {
		j.State = JobQueued
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO jobs
		(created_at, created_by, target, policy, max_bad, parallel, keep_source, start_at, cancel_after_hours, state)
		VALUES (?,?,?,?,?,?,?,?,?,?)`,
		formatTime(j.CreatedAt), j.CreatedBy, j.Target, j.Policy, j.MaxBad, j.Parallel,
		boolInt(j.KeepSource), formatTime(j.StartAt), j.CancelAfterHours, j.State)
	if err != nil {
		return Job{}, fmt.Errorf("insert job: %w", err)
	}
	if j.ID, err = res.LastInsertId(); err != nil {
		return Job{}, err
	}
	seen := map[string]bool{}
	for _, uid := range uids {
		if seen[uid] {
			return Job{}, fmt.Errorf("user %q listed twice: %w", uid, ErrConflict)
		}
		seen[uid] = true
		var held int64
		err := tx.QueryRowContext(ctx, `SELECT job_id FROM moves
			WHERE uid = ? AND state IN ('queued','running')`, uid).Scan(&held)
		if err == nil {
			return Job{}, &HeldError{UID: uid, JobID: held}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Job{}, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO moves (job_id, uid, target, created_at)
			VALUES (?,?,?,?)`, j.ID, uid, j.Target, formatTime(j.CreatedAt)); err != nil {
			return Job{}, fmt.Errorf("insert move for %q: %w", uid, err)
		}
	}
	if err := addAudit(ctx, tx, d.Now(), j.CreatedBy, "start job", j.ID, 0,
		fmt.Sprintf("%d users to %s, policy %s", len(uids), j.Target, j.Policy)); err != nil {
		return Job{}, err
	}
	return j, tx.Commit()
}

const jobColumns = `id, created_at, created_by, target, policy, max_bad, parallel, keep_source,
	start_at, cancel_after_hours, state, started_at, finished_at`

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var created, startAt, started, finished string
	var keep int
	err := row.Scan(&j.ID, &created, &j.CreatedBy, &j.Target, &j.Policy, &j.MaxBad, &j.Parallel,
		&keep, &startAt, &j.CancelAfterHours, &j.State, &started, &finished)
	j.CreatedAt, j.StartAt, j.FinishedAt = parseTime(created), parseTime(startAt), parseTime(finished)
	j.StartedAt = parseTime(started)
	j.KeepSource = keep != 0
	return j, err
}

// Job returns one job.
func (d *DB) Job(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(d.sql.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	return j, err
}

// Jobs returns jobs, newest first; state "" means all.
func (d *DB) Jobs(ctx context.Context, state string) ([]Job, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE ? = '' OR state = ? ORDER BY id DESC`, state, state)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}
