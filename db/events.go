package db

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// AddEvent appends to a move's (or a job's, with moveID 0) history.
func (d *DB) AddEvent(ctx context.Context, jobID, moveID int64, kind, message string) error {
	_, err := d.sql.ExecContext(ctx, `INSERT INTO events (job_id, move_id, at, kind, message)
		VALUES (?,?,?,?,?)`, jobID, moveID, formatTime(d.Now()), kind, message)
	return err
}

// Events returns a move's history, oldest first.
func (d *DB) Events(ctx context.Context, moveID int64) ([]model.Event, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT id, job_id, move_id, at, kind, message FROM events
		WHERE move_id = ? ORDER BY id`, moveID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Event
	for rows.Next() {
		var e model.Event
		var at string
		if err := rows.Scan(&e.ID, &e.JobID, &e.MoveID, &at, &e.Kind, &e.Message); err != nil {
			return nil, err
		}
		e.At = parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditEntry records who did what.
type AuditEntry struct {
	ID            int64
	At            time.Time
	Actor, Action string
	JobID, MoveID int64
	Detail        string
}

// addAudit records an administrative action in the transaction of the
// action itself, so that no action goes unrecorded.
func addAudit(ctx context.Context, tx *sql.Tx, now time.Time, actor, action string, jobID, moveID int64, detail string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, action, job_id, move_id, detail)
		VALUES (?,?,?,?,?,?)`, formatTime(now), actor, action, jobID, moveID, detail)
	return err
}

// AuditBefore returns at most limit audit entries with an id below before,
// newest first; before <= 0 starts at the newest. The audit page pages
// through the log with it.
func (d *DB) AuditBefore(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT id, at, actor, action, job_id, move_id, detail
		FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var at string
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.JobID, &a.MoveID, &a.Detail); err != nil {
			return nil, err
		}
		a.At = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}
