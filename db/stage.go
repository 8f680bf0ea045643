package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// Staged moves (model.Job.Stage): each move copies the mailbox and waits as
// model.MoveSynced, re-syncing, until it is asked to complete. Completion is
// a flag the runner reads (complete_requested), like a cancel request: the
// mover then syncs once more and takes its cut-over.

// ErrNotStaged: the move's job is not a staged one; it completes by itself.
var ErrNotStaged = errors.New("not a staged move")

// RequestComplete asks one staged move to complete: the move, synced or
// still syncing, syncs once more, then takes its cut-over. A move that is
// not of a staged job is refused with ErrNotStaged, a finished one (or one
// that is already completing) with ErrConflict; a move with a cancel request
// is refused too (ErrConflict).
func (d *DB) RequestComplete(ctx context.Context, moveID int64, actor string) (model.Move, error) {
	var m model.Move
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		var err error
		if m, err = moveIn(ctx, tx, moveID); err != nil {
			return err
		}
		return requestComplete(ctx, tx, d.Now(), &m, actor)
	})
	return m, err
}

func requestComplete(ctx context.Context, tx *sql.Tx, now time.Time, m *model.Move, actor string) error {
	var stage int
	if err := tx.QueryRowContext(ctx, `SELECT stage FROM jobs WHERE id = ?`, m.JobID).Scan(&stage); err != nil {
		return err
	}
	switch {
	case stage == 0:
		return fmt.Errorf("move %d of %q is %w: %w", m.ID, m.UID, ErrNotStaged, ErrConflict)
	case !m.Unfinished():
		return fmt.Errorf("move %d of %q is %s: %w", m.ID, m.UID, m.State, ErrConflict)
	case m.CompleteRequested || m.Phase.PastCutover():
		return fmt.Errorf("move %d of %q is completing already: %w", m.ID, m.UID, ErrConflict)
	case m.CancelRequested:
		return fmt.Errorf("move %d of %q is being cancelled: %w", m.ID, m.UID, ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE moves SET complete_requested = 1 WHERE id = ?`, m.ID); err != nil {
		return err
	}
	m.CompleteRequested = true
	if err := addEventTx(ctx, tx, now, m.JobID, m.ID, "complete", "completion requested by "+actor); err != nil {
		return err
	}
	return addAudit(ctx, tx, now, actor, "complete mailbox", m.JobID, m.ID, m.UID)
}

// CompleteJob asks every unfinished move of a staged job to complete, and
// returns how many were asked (moves completing already, or being
// cancelled, are left as they are).
func (d *DB) CompleteJob(ctx context.Context, jobID int64, actor string) (int, error) {
	n := 0
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		if err := openJobTx(ctx, tx, jobID); err != nil {
			return err
		}
		var stage int
		if err := tx.QueryRowContext(ctx, `SELECT stage FROM jobs WHERE id = ?`, jobID).Scan(&stage); err != nil {
			return err
		}
		if stage == 0 {
			return fmt.Errorf("job %d is not staged: its moves complete by themselves: %w", jobID, ErrConflict)
		}
		moves, err := queryMovesIn(ctx, tx, `SELECT `+moveColumns+` FROM moves WHERE job_id = ? AND state IN `+openStates+`
			AND complete_requested = 0 AND cancel_requested = 0 AND phase NOT IN `+pastCutover+` ORDER BY id`, jobID)
		if err != nil {
			return err
		}
		now := d.Now()
		for i := range moves {
			if err := requestComplete(ctx, tx, now, &moves[i], actor); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// CompleteDue asks the unfinished moves of staged jobs whose completion time
// has come to complete (the runner calls it each round), and returns how
// many it asked.
func (d *DB) CompleteDue(ctx context.Context, now time.Time) (int, error) {
	jobs, err := queryIDs(ctx, d.sql, `SELECT j.id FROM jobs j WHERE j.stage = 1 AND j.complete_at != ''
		AND j.complete_at <= ? AND j.state IN ('queued', 'running') AND EXISTS (SELECT 1 FROM moves m
		WHERE m.job_id = j.id AND m.state IN `+openStates+` AND m.complete_requested = 0 AND m.cancel_requested = 0
		AND m.phase NOT IN `+pastCutover+`)`, formatTime(now))
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range jobs {
		n, err := d.CompleteJob(ctx, id, "schedule (completion time)")
		if err != nil && !errors.Is(err, ErrConflict) {
			return total, err
		}
		total += n
	}
	return total, nil
}

// CompleteRequested reports whether someone asked the move to complete.
func (d *DB) CompleteRequested(ctx context.Context, moveID int64) (bool, error) {
	var c int
	err := d.sql.QueryRowContext(ctx, `SELECT complete_requested FROM moves WHERE id = ?`, moveID).Scan(&c)
	return c != 0, err
}

// SaveSyncedFlags records, for a folder's copies, the flags the last sync
// before the cut-over left on both sides (source UID -> flag key),
// replacing what was recorded, and the source folder's HIGHESTMODSEQ when
// that sync began under its UIDVALIDITY (modseq 0: none known).
func (d *DB) SaveSyncedFlags(ctx context.Context, folderID int64, flags map[uint32]string, uidValidity uint32, modseq uint64) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM synced_flags WHERE folder_id = ?`, folderID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM synced_modseq WHERE folder_id = ?`, folderID); err != nil {
			return err
		}
		if modseq > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO synced_modseq (folder_id, uidvalidity, modseq) VALUES (?,?,?)`,
				folderID, uidValidity, int64(modseq)); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO synced_flags (folder_id, source_uid, flags) VALUES (?,?,?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for uid, f := range flags {
			if _, err := stmt.ExecContext(ctx, folderID, uid, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// SyncedFlags returns what SaveSyncedFlags recorded for a folder.
func (d *DB) SyncedFlags(ctx context.Context, folderID int64) (map[uint32]string, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT source_uid, flags FROM synced_flags WHERE folder_id = ?`, folderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint32]string{}
	for rows.Next() {
		var uid uint32
		var f string
		if err := rows.Scan(&uid, &f); err != nil {
			return nil, err
		}
		out[uid] = f
	}
	return out, rows.Err()
}

// SyncedModSeq returns the HIGHESTMODSEQ SaveSyncedFlags recorded for a
// folder, or 0 when none was, or it was for another UIDVALIDITY.
func (d *DB) SyncedModSeq(ctx context.Context, folderID int64, uidValidity uint32) (uint64, error) {
	var v uint32
	var modseq int64
	err := d.sql.QueryRowContext(ctx, `SELECT uidvalidity, modseq FROM synced_modseq WHERE folder_id = ?`, folderID).Scan(&v, &modseq)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && v != uidValidity) {
		return 0, nil
	}
	return uint64(modseq), err
}
