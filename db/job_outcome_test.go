package db

import (
	"context"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

// TestFinishJobOutcomes: a finished job's state tells what its moves add
// up to, not merely that they ended.
func TestFinishJobOutcomes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		states  []model.MoveState
		skipped int
		cancel  bool
		want    model.JobState
	}{
		{"all moved", []model.MoveState{model.MoveDone, model.MoveAlreadyThere}, 0, false, model.JobDone},
		{"moved with a skipped item", []model.MoveState{model.MoveDone, model.MoveDone}, 1, false, model.JobDoneWithErrors},
		{"2 of 3 abandoned", []model.MoveState{model.MoveDone, model.MoveAbandoned, model.MoveAbandoned}, 0, false, model.JobDoneWithErrors},
		{"one cancelled", []model.MoveState{model.MoveDone, model.MoveCancelled}, 0, false, model.JobDoneWithErrors},
		{"nothing moved", []model.MoveState{model.MoveFailed, model.MoveAbandoned}, 0, false, model.JobFailed},
		{"cancelled job", []model.MoveState{model.MoveDone, model.MoveCancelled}, 0, true, model.JobCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := mustOpenDB(t)
			uids := make([]string, len(tc.states))
			for i := range uids {
				uids[i] = string(rune('a' + i))
			}
			j, ms := mustCreateJob(t, d, uids...)
			if tc.cancel {
				// As CancelJob leaves it while its running moves stop.
				if _, err := d.sql.ExecContext(ctx, `UPDATE jobs SET state = 'cancelled' WHERE id = ?`, j.ID); err != nil {
					t.Fatal(err)
				}
			}
			for i, m := range ms {
				if finished, err := d.FinishJobIfDone(ctx, j.ID); err != nil || finished {
					t.Fatalf("FinishJobIfDone() with move %d open = %v, %v; want false", i, finished, err)
				}
				m.State = tc.states[i]
				if i == 0 {
					m.Skipped = tc.skipped
				}
				if err := d.SaveMove(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			if finished, err := d.FinishJobIfDone(ctx, j.ID); err != nil || !finished {
				t.Fatalf("FinishJobIfDone() = %v, %v; want true", finished, err)
			}
			got, err := d.Job(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.want || got.FinishedAt.IsZero() {
				t.Errorf("job = %s finished %v, want %s", got.State, got.FinishedAt, tc.want)
			}
			if got.State.Open() {
				t.Errorf("finished job state %s is open", got.State)
			}
		})
	}
}

// TestRetryKeepsScheduledJobQueued: retrying a mailbox of a job that has
// not started yet leaves the job queued (waiting for its start), not running.
func TestRetryKeepsScheduledJobQueued(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, ms := mustCreateJob(t, d, "a", "b")
	m := ms[0]
	m.State = model.MoveCancelled
	if err := d.SaveMove(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RetryMove(ctx, m.ID, "admin"); err != nil {
		t.Fatalf("RetryMove() = %v", err)
	}
	if got, err := d.Job(ctx, j.ID); err != nil || got.State != model.JobQueued {
		t.Errorf("job after retry = %s, %v; want queued", got.State, err)
	}
	if err := d.MarkJobStarted(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	m.State = model.MoveCancelled
	m, _ = d.Move(ctx, m.ID)
	m.State = model.MoveFailed
	if err := d.SaveMove(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RetryMove(ctx, m.ID, "admin"); err != nil {
		t.Fatalf("RetryMove() = %v", err)
	}
	if got, err := d.Job(ctx, j.ID); err != nil || got.State != model.JobRunning {
		t.Errorf("started job after retry = %s, %v; want running", got.State, err)
	}
}
