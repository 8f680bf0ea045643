package db

import "context"

// AuditBefore returns at most limit audit entries with an id below before,
// newest first; before <= 0 starts at the newest. The audit page pages
// through the log with it.
func (d *DB) AuditBefore(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if before <= 0 {
		return d.Audit(ctx, limit)
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
