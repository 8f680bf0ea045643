package db

import (
	"context"

	"github.com/movewizard/movewizard/migrate/model"
)

// MoveStateCounts returns, per job, how many of its moves are in each state.
// The jobs list shows them without loading every move of every job.
func (d *DB) MoveStateCounts(ctx context.Context) (map[int64]map[model.MoveState]int, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT job_id, state, count(*) FROM moves GROUP BY job_id, state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]map[model.MoveState]int{}
	for rows.Next() {
		var job int64
		var state model.MoveState
		var n int
		if err := rows.Scan(&job, &state, &n); err != nil {
			return nil, err
		}
		if out[job] == nil {
			out[job] = map[model.MoveState]int{}
		}
		out[job][state] = n
	}
	return out, rows.Err()
}
