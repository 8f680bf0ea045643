package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

const moveColumns = `id, job_id, uid, user_dn, source, target, state, phase, current_folder,
	msgs_total, msgs_done, bytes_total, bytes_done, skipped, error, directory_updated_at,
	source_removed_at, created_at, started_at, finished_at, cancel_requested, attempt,
	last_sync_at, syncs, complete_requested, delta_done_at`

func scanMove(row interface{ Scan(...any) error }) (model.Move, error) {
	var m model.Move
	var dirUpd, srcRem, created, started, finished, lastSync, deltaDone string
	var cancel, complete int
	err := row.Scan(&m.ID, &m.JobID, &m.UID, &m.UserDN, &m.Source, &m.Target, &m.State, &m.Phase,
		&m.CurrentFolder, &m.MsgsTotal, &m.MsgsDone, &m.BytesTotal, &m.BytesDone, &m.Skipped,
		&m.Error, &dirUpd, &srcRem, &created, &started, &finished, &cancel, &m.Attempt,
		&lastSync, &m.Syncs, &complete, &deltaDone)
	m.LastSyncAt, m.DeltaDoneAt, m.CompleteRequested = parseTime(lastSync), parseTime(deltaDone), complete != 0
	m.DirectoryUpdated, m.SourceRemoved = parseTime(dirUpd), parseTime(srcRem)
	m.CreatedAt, m.StartedAt, m.FinishedAt = parseTime(created), parseTime(started), parseTime(finished)
	m.CancelRequested = cancel != 0
	return m, err
}

// querier is the database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Move returns one move.
func (d *DB) Move(ctx context.Context, id int64) (model.Move, error) {
	return moveIn(ctx, d.sql, id)
}

// moveIn reads one move through q; a missing one is ErrNotFound.
func moveIn(ctx context.Context, q querier, id int64) (model.Move, error) {
	m, err := scanMove(q.QueryRowContext(ctx, `SELECT `+moveColumns+` FROM moves WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return model.Move{}, fmt.Errorf("move %d: %w", id, ErrNotFound)
	}
	return m, err
}

// Moves returns the moves of a job in creation order.
func (d *DB) Moves(ctx context.Context, jobID int64) ([]model.Move, error) {
	return d.queryMoves(ctx, `SELECT `+moveColumns+` FROM moves WHERE job_id = ? ORDER BY id`, jobID)
}

// UserMoves returns every move of a user, newest first.
func (d *DB) UserMoves(ctx context.Context, uid string) ([]model.Move, error) {
	return d.queryMoves(ctx, `SELECT `+moveColumns+` FROM moves WHERE uid = ? ORDER BY id DESC`, uid)
}

// UnfinishedMoves returns every queued or running move, oldest job first.
func (d *DB) UnfinishedMoves(ctx context.Context) ([]model.Move, error) {
	return d.queryMoves(ctx, `SELECT `+moveColumns+` FROM moves
		WHERE state IN `+openStates+` ORDER BY job_id, id`)
}

func (d *DB) queryMoves(ctx context.Context, query string, args ...any) ([]model.Move, error) {
	return queryMovesIn(ctx, d.sql, query, args...)
}

func queryMovesIn(ctx context.Context, q querier, query string, args ...any) ([]model.Move, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var moves []model.Move
	for rows.Next() {
		m, err := scanMove(rows)
		if err != nil {
			return nil, err
		}
		moves = append(moves, m)
	}
	return moves, rows.Err()
}

// MovesFinishedSince returns moves that got an outcome at or after t.
func (d *DB) MovesFinishedSince(ctx context.Context, t time.Time) ([]model.Move, error) {
	return d.queryMoves(ctx, `SELECT `+moveColumns+` FROM moves
		WHERE finished_at != '' AND finished_at >= ? ORDER BY id`, formatTime(t))
}

// UnfinishedMoveForUser returns the user's queued or running move, if any.
func (d *DB) UnfinishedMoveForUser(ctx context.Context, uid string) (model.Move, bool, error) {
	m, err := scanMove(d.sql.QueryRowContext(ctx, `SELECT `+moveColumns+` FROM moves
		WHERE uid = ? AND state IN `+openStates, uid))
	if errors.Is(err, sql.ErrNoRows) {
		return model.Move{}, false, nil
	}
	return m, err == nil, err
}

// SaveMove writes every mutable column of m. It never clears
// cancel_requested, which only the control actions change.
func (d *DB) SaveMove(ctx context.Context, m model.Move) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := saveMove(ctx, tx, m); err != nil {
		return err
	}
	return tx.Commit()
}

func saveMove(ctx context.Context, tx *sql.Tx, m model.Move) error {
	_, err := tx.ExecContext(ctx, `UPDATE moves SET user_dn = ?, source = ?, state = ?, phase = ?,
		current_folder = ?, msgs_total = ?, msgs_done = ?, bytes_total = ?, bytes_done = ?,
		skipped = ?, error = ?, directory_updated_at = ?, source_removed_at = ?, started_at = ?,
		finished_at = ?, attempt = ?, last_sync_at = ?, syncs = ?, delta_done_at = ? WHERE id = ?`,
		m.UserDN, m.Source, m.State, m.Phase, m.CurrentFolder, m.MsgsTotal, m.MsgsDone,
		m.BytesTotal, m.BytesDone, m.Skipped, m.Error, formatTime(m.DirectoryUpdated),
		formatTime(m.SourceRemoved), formatTime(m.StartedAt), formatTime(m.FinishedAt),
		m.Attempt, formatTime(m.LastSyncAt), m.Syncs, formatTime(m.DeltaDoneAt), m.ID)
	if err != nil {
		return fmt.Errorf("save move %d: %w", m.ID, err)
	}
	// A failed or abandoned mailbox is announced in the same transaction.
	return enqueueMoveEnded(ctx, tx, m)
}

// CancelRequested reports whether someone asked to cancel the move.
func (d *DB) CancelRequested(ctx context.Context, moveID int64) (bool, error) {
	var c int
	err := d.sql.QueryRowContext(ctx, `SELECT cancel_requested FROM moves WHERE id = ?`, moveID).Scan(&c)
	return c != 0, err
}
