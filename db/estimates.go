package db

import (
	"context"
	"database/sql"
)

// Estimate is a mailbox's size as the wizard's preflight measured it.
type Estimate struct {
	Messages int64
	Bytes    int64
}

// SetEstimates gives a job's queued moves the sizes the preflight measured,
// so that the job's totals cover every mailbox from the start, not only
// the started ones. A move that has started (or measured itself) keeps its
// own figures: the engine's measurement replaces the estimate.
func (d *DB) SetEstimates(ctx context.Context, jobID int64, est map[string]Estimate) error {
	if len(est) == 0 {
		return nil
	}
	return execTx(ctx, d, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE moves SET msgs_total = ?, bytes_total = ?
			WHERE job_id = ? AND uid = ? AND state = 'queued' AND msgs_total = 0 AND bytes_total = 0 AND msgs_done = 0`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for uid, e := range est {
			if _, err := stmt.ExecContext(ctx, e.Messages, e.Bytes, jobID, uid); err != nil {
				return err
			}
		}
		return nil
	})
}
