package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/movewizard/movewizard/migrate/model"
)

// StartNow brings a job waiting for its start time forward to now; the
// runner starts it at its next round. A job that has started, or has no
// start time ahead, is a conflict.
func (d *DB) StartNow(ctx context.Context, id int64, actor string) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		var state model.JobState
		var startAt, startedAt string
		err := tx.QueryRowContext(ctx, `SELECT state, start_at, started_at FROM jobs WHERE id = ?`, id).
			Scan(&state, &startAt, &startedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("job %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		now := d.Now()
		at := parseTime(startAt)
		if state != model.JobQueued || startedAt != "" || at.IsZero() || !at.After(now) {
			return fmt.Errorf("job %d is %s and does not wait for a start time: %w", id, state.Label(), ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET start_at = ? WHERE id = ?`, formatTime(now), id); err != nil {
			return err
		}
		return addAudit(ctx, tx, now, actor, "start job now", id, 0, "was to start "+startAt)
	})
}
