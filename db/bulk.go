package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/movewizard/movewizard/migrate/model"
)

// The bulk actions of the job page act on many moves by calling the single
// actions (RetryMove, RequestCancel) once per move, each in its own
// transaction with its own audit entry, so that their rules live in one
// place; the functions here only find the moves and change the job's
// policy.

// retryableStates are the states RetryMove accepts.
var retryableStates = []model.MoveState{model.MoveFailed, model.MoveAbandoned, model.MoveCancelled}

// RetryableMoves returns the job's failed, abandoned and cancelled moves in
// creation order.
func (d *DB) RetryableMoves(ctx context.Context, jobID int64) ([]model.Move, error) {
	return d.queryMoves(ctx, `SELECT `+moveColumns+` FROM moves WHERE job_id = ?
		AND state IN (?, ?, ?) ORDER BY id`, jobID, retryableStates[0], retryableStates[1], retryableStates[2])
}

// MaxMovesByID bounds one MovesByID call (SQLite's bound parameters).
const MaxMovesByID = 500

// MovesByID returns those of the given moves that belong to the job, in
// creation order; IDs of other jobs or of no move are left out.
func (d *DB) MovesByID(ctx context.Context, jobID int64, ids []int64) ([]model.Move, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxMovesByID {
		return nil, fmt.Errorf("%d move ids, at most %d at once", len(ids), MaxMovesByID)
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, jobID)
	for _, id := range ids {
		args = append(args, id)
	}
	return d.queryMoves(ctx, `SELECT `+moveColumns+` FROM moves WHERE job_id = ? AND id IN (?`+
		strings.Repeat(",?", len(ids)-1)+`) ORDER BY id`, args...)
}

// SetJobPolicy changes a job's error policy. The runner reads the job when
// it starts a move, so the new policy applies to every move of the job
// started from now on (retried or still queued); a running move keeps the
// policy it started with. A finished or cancelled job is refused.
func (d *DB) SetJobPolicy(ctx context.Context, jobID int64, policy model.Policy, maxBad int, actor string) error {
	if policy != model.PolicyAbandon && policy != model.PolicySkip {
		return fmt.Errorf("unknown policy %q", policy)
	}
	if maxBad < 0 || policy == model.PolicyAbandon {
		maxBad = 0
	}
	return execTx(ctx, d, func(tx *sql.Tx) error {
		var old model.Policy
		var oldMax int
		err := tx.QueryRowContext(ctx, `SELECT policy, max_bad FROM jobs WHERE id = ?`, jobID).Scan(&old, &oldMax)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("job %d: %w", jobID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if old == policy && oldMax == maxBad {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET policy = ?, max_bad = ? WHERE id = ?`, policy, maxBad, jobID); err != nil {
			return fmt.Errorf("set policy of job %d: %w", jobID, err)
		}
		return addAudit(ctx, tx, d.Now(), actor, "change policy", jobID, 0,
			fmt.Sprintf("%s (at most %d) to %s (at most %d)", old, oldMax, policy, maxBad))
	})
}
