package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/movewizard/movewizard/migrate/model"
)

// AddSkipped records a skipped item and the move's state in one transaction.
// Recording the same item twice (a resumed move) is harmless.
func (d *DB) AddSkipped(ctx context.Context, s model.SkippedItem, m model.Move) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO skipped (move_id, folder, source_uid, message_id,
			subject, date, size, error, at) VALUES (?,?,?,?,?,?,?,?,?)
			ON CONFLICT (move_id, folder, source_uid) DO UPDATE SET error = excluded.error`,
			s.MoveID, s.Folder, s.UID, s.MessageID, s.Subject, formatTime(s.Date), s.Size, s.Error,
			formatTime(d.Now()))
		if err != nil {
			return fmt.Errorf("record skipped uid %d: %w", s.UID, err)
		}
		return saveMove(ctx, tx, m)
	})
}

// Skipped returns the skipped items of a move.
func (d *DB) Skipped(ctx context.Context, moveID int64) ([]model.SkippedItem, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT id, move_id, folder, source_uid, message_id, subject,
		date, size, error, at FROM skipped WHERE move_id = ? ORDER BY id`, moveID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.SkippedItem
	for rows.Next() {
		var s model.SkippedItem
		var date, at string
		if err := rows.Scan(&s.ID, &s.MoveID, &s.Folder, &s.UID, &s.MessageID, &s.Subject, &date,
			&s.Size, &s.Error, &at); err != nil {
			return nil, err
		}
		s.Date, s.At = parseTime(date), parseTime(at)
		out = append(out, s)
	}
	return out, rows.Err()
}

// SkippedUIDs returns the source UIDs of one folder that a move skipped.
func (d *DB) SkippedUIDs(ctx context.Context, moveID int64, folder string) (map[uint32]bool, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT source_uid FROM skipped WHERE move_id = ? AND folder = ?`, moveID, folder)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint32]bool{}
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out[u] = true
	}
	return out, rows.Err()
}
