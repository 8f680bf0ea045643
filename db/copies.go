package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/movewizard/movewizard/migrate/model"
)

// Copy states: sending is recorded before the APPEND, done after its OK.
const (
	CopySending = "sending"
	CopyDone    = "done"
)

// Copy says that one source message is (or may be) on the target.
type Copy struct {
	SourceUID uint32
	TargetUID uint32 // 0 when the target did not say (no UIDPLUS)
	State     string
	Size      int64
	SHA256    []byte
	// Verified: the target's bytes were read back and hash to SHA256.
	Verified bool
}

// Copies returns every copy record of a folder keyed by source UID. A folder
// of 100,000 messages costs a few megabytes here, which bounds memory.
func (d *DB) Copies(ctx context.Context, folderID int64) (map[uint32]Copy, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT source_uid, target_uid, state, size, sha256, verified
		FROM copies WHERE folder_id = ?`, folderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cs := make(map[uint32]Copy)
	for rows.Next() {
		var c Copy
		if err := rows.Scan(&c.SourceUID, &c.TargetUID, &c.State, &c.Size, &c.SHA256, &c.Verified); err != nil {
			return nil, err
		}
		cs[c.SourceUID] = c
	}
	return cs, rows.Err()
}

// MarkSending records that APPENDs of these source messages are about to be
// sent, so that after a crash their fate is checked instead of assumed.
func (d *DB) MarkSending(ctx context.Context, folderID int64, cs []Copy) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO copies (folder_id, source_uid, state, size)
			VALUES (?,?,'sending',?) ON CONFLICT (folder_id, source_uid) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range cs {
			if _, err := st.ExecContext(ctx, folderID, c.SourceUID, c.Size); err != nil {
				return fmt.Errorf("mark uid %d sending: %w", c.SourceUID, err)
			}
		}
		return nil
	})
}

// ConfirmCopies records finished APPENDs and the move's progress in one
// transaction, so that the published progress never runs ahead of the store.
func (d *DB) ConfirmCopies(ctx context.Context, folderID int64, cs []Copy, m model.Move) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO copies (folder_id, source_uid, target_uid, state, size, sha256)
			VALUES (?,?,?,'done',?,?) ON CONFLICT (folder_id, source_uid) DO UPDATE SET
			target_uid = excluded.target_uid, state = 'done', size = excluded.size, sha256 = excluded.sha256,
			verified = 0`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range cs {
			if _, err := st.ExecContext(ctx, folderID, c.SourceUID, c.TargetUID, c.Size, c.SHA256); err != nil {
				return fmt.Errorf("confirm uid %d: %w", c.SourceUID, err)
			}
		}
		return saveMove(ctx, tx, m)
	})
}

// MarkVerified records that these copies' bytes on the target were read
// back and equal the source's.
func (d *DB) MarkVerified(ctx context.Context, folderID int64, uids []uint32) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE copies SET verified = 1
			WHERE folder_id = ? AND source_uid = ? AND state = 'done'`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, u := range uids {
			if _, err := st.ExecContext(ctx, folderID, u); err != nil {
				return fmt.Errorf("mark uid %d verified: %w", u, err)
			}
		}
		return nil
	})
}

// ForgetCopies deletes copy records (sending ones found not to have arrived,
// or copies removed from the target by a cleanup).
func (d *DB) ForgetCopies(ctx context.Context, folderID int64, uids []uint32) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		for _, u := range uids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM copies WHERE folder_id = ? AND source_uid = ?`,
				folderID, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// CopyTotals counts the messages and bytes of a move recorded as on the
// target: the move's progress, derived rather than kept by hand.
func (d *DB) CopyTotals(ctx context.Context, moveID int64) (msgs, bytes int64, err error) {
	err = d.sql.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(c.size), 0) FROM copies c
		JOIN folders f ON f.id = c.folder_id WHERE f.move_id = ? AND c.state = 'done'`, moveID).Scan(&msgs, &bytes)
	return msgs, bytes, err
}
