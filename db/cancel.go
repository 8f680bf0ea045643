package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// A cancel and the cut-over are decided against each other in the store,
// each in one transaction (transactions are IMMEDIATE, so they queue): the
// mover takes the cut-over (TakeCutover) before it changes the directory,
// and only if nobody asked to cancel; a cancel (CancelMove, CancelJob) is
// accepted only if the move has not taken it. Whichever commits first
// wins, and there is no moment at which the directory was changed while a
// cancel could still be accepted.

// ErrPastCutover: the move is past its cut-over (the directory names the
// target, or is about to); it cannot be cancelled and finishes its move.
// Errors carrying it also match ErrConflict.
var ErrPastCutover = errors.New("past its cut-over")

// ErrCancelRequested: TakeCutover found the move's cancel request; the
// mover cancels it instead, before anything irreversible.
var ErrCancelRequested = errors.New("cancel requested")

// cancelledQueued is the error a move cancelled before it started carries.
const cancelledQueued = "cancelled before it started"

// pastCutover is model.PastCutoverPhases as an SQL list.
var pastCutover = func() string {
	q := make([]string, len(model.PastCutoverPhases))
	for i, p := range model.PastCutoverPhases {
		q[i] = "'" + string(p) + "'"
	}
	return "(" + strings.Join(q, ",") + ")"
}()

// untouched is the SQL condition of a queued move nothing was done for
// yet: a retried failed move is queued with the phase it resumes from, and
// may have a partial copy on the target that only the mover can remove.
const untouched = `state = 'queued' AND phase IN ('', 'preflight')`

// RequestCancel is CancelMove for callers that need only the error.
func (d *DB) RequestCancel(ctx context.Context, moveID int64, actor string) error {
	_, err := d.CancelMove(ctx, moveID, actor)
	return err
}

// CancelMove cancels one mailbox's move and returns it as it now is. A
// queued move nothing was done for ends cancelled at once, with an event
// in its history; any other unfinished move before its cut-over gets a
// cancel request, on which the mover removes its partial copy from the
// target. A move past its cut-over is refused with ErrPastCutover, a
// finished one with ErrConflict. When the cancel ended the job's last open
// move, the job gets its outcome (FinishJobIfDone).
func (d *DB) CancelMove(ctx context.Context, moveID int64, actor string) (model.Move, error) {
	var m model.Move
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		var err error
		if m, err = moveIn(ctx, tx, moveID); err != nil {
			return err
		}
		if !m.Unfinished() {
			return fmt.Errorf("move %d of %q is %s: %w", moveID, m.UID, m.State, ErrConflict)
		}
		if m.Phase.PastCutover() {
			return fmt.Errorf("move %d of %q is %w (phase %s): %w", moveID, m.UID, ErrPastCutover, m.Phase, ErrConflict)
		}
		now := d.Now()
		if m.State == model.MoveQueued && (m.Phase == "" || m.Phase == model.PhasePreflight) {
			m.State, m.FinishedAt, m.Error = model.MoveCancelled, now, cancelledQueued
			if err := saveMove(ctx, tx, m); err != nil {
				return err
			}
			if err := addEventTx(ctx, tx, now, m.JobID, m.ID, string(model.MoveCancelled), cancelledQueued+", by "+actor); err != nil {
				return err
			}
		} else {
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET cancel_requested = 1 WHERE id = ?`, moveID); err != nil {
				return err
			}
			m.CancelRequested = true
			if err := addEventTx(ctx, tx, now, m.JobID, m.ID, "cancel", "cancel requested by "+actor); err != nil {
				return err
			}
		}
		return addAudit(ctx, tx, now, actor, "cancel mailbox", m.JobID, moveID, m.UID)
	})
	if err != nil {
		return model.Move{}, err
	}
	if !m.Unfinished() {
		if _, err := d.FinishJobIfDone(ctx, m.JobID); err != nil {
			return m, err
		}
	}
	return m, nil
}

// TakeCutover commits m, whose phase must be model.PhaseCutover, unless
// someone asked to cancel the move: then nothing is written and the error
// is ErrCancelRequested. From this commit on the move cannot be cancelled
// (CancelMove refuses it); the mover changes the directory only after it.
func (d *DB) TakeCutover(ctx context.Context, m model.Move) error {
	if m.Phase != model.PhaseCutover {
		return fmt.Errorf("take the cut-over of move %d in phase %q: %w", m.ID, m.Phase, ErrConflict)
	}
	return execTx(ctx, d, func(tx *sql.Tx) error {
		var cancel int
		err := tx.QueryRowContext(ctx, `SELECT cancel_requested FROM moves WHERE id = ?`, m.ID).Scan(&cancel)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("move %d: %w", m.ID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if cancel != 0 {
			return fmt.Errorf("move %d of %q: %w", m.ID, m.UID, ErrCancelRequested)
		}
		return saveMove(ctx, tx, m)
	})
}

// StartMove marks a queued move running, or a synced one (a staged move
// waiting to complete) running again in phase resync. It reports false,
// changing nothing, when the move is neither any more: it was cancelled
// (or otherwise settled) after the runner read it.
func (d *DB) StartMove(ctx context.Context, moveID int64) (bool, error) {
	res, err := d.sql.ExecContext(ctx, `UPDATE moves SET state = 'running', error = '',
		started_at = CASE WHEN state = 'queued' THEN ? ELSE started_at END,
		phase = CASE WHEN state = 'synced' THEN 'resync' ELSE phase END
		WHERE id = ? AND state IN ('queued', 'synced')`, formatTime(d.Now()), moveID)
	if err != nil {
		return false, fmt.Errorf("start move %d: %w", moveID, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// JobCancel is what cancelling a job did (CancelJob) or would do
// (JobCancelPreview) to its unfinished moves.
type JobCancel struct {
	// Cancelled moves were queued with nothing done and ended at once
	// (CancelJob fills Moves with them, as they now are).
	Cancelled int
	Moves     []model.Move
	// Stopping moves got a cancel request: they stop, their partial copies
	// are removed, and they stay on their source.
	Stopping int
	// Finishing moves are past their cut-over and finish their move.
	Finishing int
}

// CancelJob cancels a job: its queued moves nothing was done for end
// cancelled at once, each with an event; its other unfinished moves before
// their cut-over get a cancel request (the mover removes their partial
// copies); moves past their cut-over are left to finish. Moves already
// finished stay as they are. A job left without open moves gets its
// outcome at once (FinishJobIfDone), which for a cancelled job is
// cancelled.
func (d *DB) CancelJob(ctx context.Context, id int64, actor string) (JobCancel, error) {
	var out JobCancel
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		if err := openJobTx(ctx, tx, id); err != nil {
			return err
		}
		now := d.Now()
		ids, err := queryIDs(ctx, tx, `SELECT id FROM moves WHERE job_id = ? AND `+untouched+` ORDER BY id`, id)
		if err != nil {
			return err
		}
		for _, mid := range ids {
			if err := addEventTx(ctx, tx, now, id, mid, string(model.MoveCancelled), cancelledQueued+", by "+actor); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET state = 'cancelled', finished_at = ?, error = ?
				WHERE id = ?`, formatTime(now), cancelledQueued, mid); err != nil {
				return err
			}
			m, err := moveIn(ctx, tx, mid)
			if err != nil {
				return err
			}
			out.Moves = append(out.Moves, m)
		}
		out.Cancelled = len(ids)
		stopping, err := queryIDs(ctx, tx, `SELECT id FROM moves WHERE job_id = ? AND state IN `+openStates+`
			AND phase NOT IN `+pastCutover+` ORDER BY id`, id)
		if err != nil {
			return err
		}
		for _, mid := range stopping {
			if err := addEventTx(ctx, tx, now, id, mid, "cancel", "cancel requested by "+actor+" (job cancelled)"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET cancel_requested = 1 WHERE id = ?`, mid); err != nil {
				return err
			}
		}
		out.Stopping = len(stopping)
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM moves WHERE job_id = ? AND state IN `+openStates+`
			AND phase IN `+pastCutover, id).Scan(&out.Finishing); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'cancelled' WHERE id = ?`, id); err != nil {
			return err
		}
		return addAudit(ctx, tx, now, actor, "cancel job", id, 0,
			fmt.Sprintf("%d cancelled, %d stopping, %d finishing", out.Cancelled, out.Stopping, out.Finishing))
	})
	if err != nil {
		return JobCancel{}, err
	}
	if _, err := d.FinishJobIfDone(ctx, id); err != nil {
		return out, err
	}
	return out, nil
}

// JobCancelPreview counts what CancelJob would do to the job now, for the
// confirmation page. An unknown job is ErrNotFound, a finished one
// ErrConflict.
func (d *DB) JobCancelPreview(ctx context.Context, id int64) (JobCancel, error) {
	var out JobCancel
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		if err := openJobTx(ctx, tx, id); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT
			coalesce(sum(`+untouched+`), 0),
			coalesce(sum(state IN `+openStates+` AND phase NOT IN `+pastCutover+` AND NOT (`+untouched+`)), 0),
			coalesce(sum(state IN `+openStates+` AND phase IN `+pastCutover+`), 0)
			FROM moves WHERE job_id = ?`, id).Scan(&out.Cancelled, &out.Stopping, &out.Finishing)
	})
	return out, err
}

// openJobTx checks that the job exists and is open.
func openJobTx(ctx context.Context, tx *sql.Tx, id int64) error {
	var state model.JobState
	err := tx.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if !state.Open() {
		return fmt.Errorf("job %d is %s: %w", id, state.Label(), ErrConflict)
	}
	return nil
}

func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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

// addEventTx appends to a move's history in the transaction of what it
// records.
func addEventTx(ctx context.Context, tx *sql.Tx, now time.Time, jobID, moveID int64, kind, message string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (job_id, move_id, at, kind, message)
		VALUES (?,?,?,?,?)`, jobID, moveID, formatTime(now), kind, message)
	return err
}
