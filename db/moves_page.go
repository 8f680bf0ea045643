package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/movewizard/movewizard/migrate/model"
)

// MoveSort is an order of a job's moves that SQL can give. Ordering by
// rate is not among them: rates live in the progress broker's memory, and
// the job page orders the running moves by them itself.
type MoveSort string

// Move orders of MovesPage.
const (
	SortCreated  MoveSort = ""         // creation order (move ID)
	SortMailbox  MoveSort = "mailbox"  // uid
	SortState    MoveSort = "state"    // running, synced, queued, failed, abandoned, cancelled, done, already-there
	SortProgress MoveSort = "progress" // stored bytes done over bytes total
	SortErrors   MoveSort = "errors"   // with an error first, then by skipped items
)

// MovesQuery selects one page of a job's moves.
type MovesQuery struct {
	State model.MoveState // only moves in this state; "": every state
	// NotState leaves out moves in this state ("": none left out).
	NotState model.MoveState
	// Search keeps the moves whose uid contains it, case-insensitively for
	// ASCII (SQLite's LIKE); "": every uid.
	Search string
	Sort   MoveSort
	Desc   bool
	Offset int
	Limit  int // at most maxPageRows
}

// maxPageRows bounds one page, whatever the caller asks.
const maxPageRows = 1000

// stateOrder ranks states for SortState: work in progress first, outcomes
// that need attention next, successes last.
const stateOrder = `CASE state WHEN 'running' THEN 0 WHEN 'synced' THEN 1 WHEN 'queued' THEN 2 WHEN 'failed' THEN 3
	WHEN 'abandoned' THEN 4 WHEN 'cancelled' THEN 5 WHEN 'done' THEN 6 WHEN 'already-there' THEN 7 ELSE 8 END`

// progressOrder is a move's stored progress from 0 to 1, as its bar shows it.
const progressOrder = `CASE WHEN bytes_total > 0 THEN CAST(min(bytes_done, bytes_total) AS REAL) / bytes_total
	WHEN state IN ('done', 'already-there') THEN 1.0 ELSE 0.0 END`

// where is the WHERE clause and its arguments of q over job jobID.
func (q MovesQuery) where(jobID int64) (string, []any) {
	clauses, args := []string{"job_id = ?"}, []any{jobID}
	if q.State != "" {
		clauses, args = append(clauses, "state = ?"), append(args, q.State)
	}
	if q.NotState != "" {
		clauses, args = append(clauses, "state != ?"), append(args, q.NotState)
	}
	if q.Search != "" {
		clauses, args = append(clauses, `uid LIKE ? ESCAPE '\'`), append(args, "%"+likeEscape(q.Search)+"%")
	}
	return strings.Join(clauses, " AND "), args
}

// orderBy is the ORDER BY clause of q; every order ends with the move ID so
// that pages are stable.
func (q MovesQuery) orderBy() (string, error) {
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	switch q.Sort {
	case SortCreated:
		return "id" + dir, nil
	case SortMailbox:
		return "uid" + dir + ", id", nil
	case SortState:
		return stateOrder + dir + ", id", nil
	case SortProgress:
		return progressOrder + dir + ", id", nil
	case SortErrors:
		return "(error != '')" + dir + ", skipped" + dir + ", id", nil
	}
	return "", fmt.Errorf("unknown move order %q", q.Sort)
}

// likeEscape escapes LIKE's wildcards (with backslash, as where declares).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// MovesPage returns one page of a job's moves as q selects and orders
// them, and how many moves match q in all.
func (d *DB) MovesPage(ctx context.Context, jobID int64, q MovesQuery) (moves []model.Move, matched int, err error) {
	order, err := q.orderBy()
	if err != nil {
		return nil, 0, err
	}
	where, args := q.where(jobID)
	if err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM moves WHERE `+where, args...).Scan(&matched); err != nil {
		return nil, 0, fmt.Errorf("count moves of job %d: %w", jobID, err)
	}
	limit := min(max(q.Limit, 0), maxPageRows)
	if limit == 0 || q.Offset >= matched {
		return nil, matched, nil
	}
	moves, err = d.queryMoves(ctx, `SELECT `+moveColumns+` FROM moves WHERE `+where+
		` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("page of moves of job %d: %w", jobID, err)
	}
	return moves, matched, nil
}

// JobTotals sums a job's moves.
type JobTotals struct {
	Mailboxes             int
	ByState               map[model.MoveState]int
	MsgsDone, MsgsTotal   int64
	BytesDone, BytesTotal int64
	Skipped               int
	// BytesLeft is what the open (queued and running) moves still have to
	// copy of their known size; Unsized counts the open moves whose size
	// is not known yet (0 until their hierarchy phase measured it).
	BytesLeft int64
	Unsized   int
}

// JobTotals sums the moves of a job in one aggregate query, without
// loading them.
func (d *DB) JobTotals(ctx context.Context, jobID int64) (JobTotals, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT state, count(*), total(msgs_done), total(msgs_total),
		total(bytes_done), total(bytes_total), total(skipped),
		total(max(bytes_total - bytes_done, 0)), total(bytes_total = 0)
		FROM moves WHERE job_id = ? GROUP BY state`, jobID)
	if err != nil {
		return JobTotals{}, fmt.Errorf("totals of job %d: %w", jobID, err)
	}
	defer rows.Close()
	t := JobTotals{ByState: map[model.MoveState]int{}}
	for rows.Next() {
		var st model.MoveState
		var n int
		// total() is a float in SQLite: exact for sums below 2^53.
		var msgsDone, msgsTotal, bytesDone, bytesTotal, skipped, left, unsized float64
		if err := rows.Scan(&st, &n, &msgsDone, &msgsTotal, &bytesDone, &bytesTotal, &skipped, &left, &unsized); err != nil {
			return JobTotals{}, fmt.Errorf("totals of job %d: %w", jobID, err)
		}
		t.ByState[st] = n
		t.Mailboxes += n
		t.MsgsDone += int64(msgsDone)
		t.MsgsTotal += int64(msgsTotal)
		t.BytesDone += int64(bytesDone)
		t.BytesTotal += int64(bytesTotal)
		t.Skipped += int(skipped)
		if st.Open() {
			t.BytesLeft += int64(left)
			t.Unsized += int(unsized)
		}
	}
	if err := rows.Err(); err != nil {
		return JobTotals{}, fmt.Errorf("totals of job %d: %w", jobID, err)
	}
	return t, nil
}
