package db

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

// mustSetMove saves m with the given state and phase, as the mover (or a
// retry) would leave it.
func mustSetMove(t *testing.T, d *DB, m model.Move, state model.MoveState, phase model.Phase) model.Move {
	t.Helper()
	m.State, m.Phase = state, phase
	if err := d.SaveMove(context.Background(), m); err != nil {
		t.Fatalf("SaveMove(%d %s %s) = %v", m.ID, state, phase, err)
	}
	return m
}

// eventTexts is a move's history as "kind message" lines.
func eventTexts(t *testing.T, d *DB, moveID int64) []string {
	t.Helper()
	evs, err := d.Events(context.Background(), moveID)
	if err != nil {
		t.Fatalf("Events(%d) = %v", moveID, err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, eventText(e))
	}
	return out
}

func TestCancelMoveQueued(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, ms := mustCreateJob(t, d, "alice")
	got, err := d.CancelMove(ctx, ms[0].ID, "admin-ann")
	if err != nil {
		t.Fatalf("CancelMove(queued) = %v", err)
	}
	if got.State != model.MoveCancelled || got.FinishedAt.IsZero() || got.Error != "cancelled before it started" || got.CancelRequested {
		t.Errorf("CancelMove(queued) = state %s, finished %v, error %q, cancel requested %v; want cancelled at once",
			got.State, got.FinishedAt, got.Error, got.CancelRequested)
	}
	stored, err := d.Move(ctx, ms[0].ID)
	if err != nil || stored.State != model.MoveCancelled || stored.CancelRequested {
		t.Errorf("Move() after cancel = %s (cancel requested %v), %v; want cancelled", stored.State, stored.CancelRequested, err)
	}
	if ev := eventTexts(t, d, ms[0].ID); len(ev) != 1 || ev[0] != "cancelled cancelled before it started, by admin-ann" {
		t.Errorf("history = %q, want one entry: cancelled before it started, by admin-ann", ev)
	}
	audit, err := d.AuditBefore(ctx, 0, 1)
	if err != nil || len(audit) != 1 || audit[0].Action != "cancel mailbox" || audit[0].Actor != "admin-ann" || audit[0].MoveID != ms[0].ID {
		t.Errorf("last audit entry = %+v, %v; want admin-ann's cancel mailbox", audit, err)
	}
	// Its only move ended: the job has its outcome, without a runner.
	job, err := d.Job(ctx, j.ID)
	if err != nil || job.FinishedAt.IsZero() || job.State.Open() {
		t.Errorf("job after its only move was cancelled = %s, finished %v, %v; want an outcome", job.State, job.FinishedAt, err)
	}
	// Nothing more to cancel.
	if _, err := d.CancelMove(ctx, ms[0].ID, "admin-ann"); !errors.Is(err, ErrConflict) || errors.Is(err, ErrPastCutover) {
		t.Errorf("CancelMove(cancelled) = %v, want ErrConflict (not ErrPastCutover)", err)
	}
}

// A queued move with work done (a failed move retried, resuming from its
// phase) may have a partial copy on the target: only the mover can remove
// it, so it gets a request like a running one.
func TestCancelMoveRunningOrResumable(t *testing.T) {
	for _, tc := range []struct {
		state model.MoveState
		phase model.Phase
	}{
		{model.MoveRunning, model.PhasePreflight}, {model.MoveRunning, model.PhaseCopy},
		{model.MoveRunning, model.PhaseVerify}, {model.MoveQueued, model.PhaseCopy},
		{model.MoveQueued, model.PhaseHierarchy},
	} {
		t.Run(fmt.Sprintf("%s in %s", tc.state, tc.phase), func(t *testing.T) {
			ctx := context.Background()
			d := mustOpenDB(t)
			j, ms := mustCreateJob(t, d, "alice")
			m := mustSetMove(t, d, ms[0], tc.state, tc.phase)
			got, err := d.CancelMove(ctx, m.ID, "bob")
			if err != nil {
				t.Fatalf("CancelMove() = %v", err)
			}
			if got.State != tc.state || !got.CancelRequested {
				t.Errorf("CancelMove() = %s, cancel requested %v; want %s with a request", got.State, got.CancelRequested, tc.state)
			}
			if c, err := d.CancelRequested(ctx, m.ID); err != nil || !c {
				t.Errorf("CancelRequested() = %v, %v, want true", c, err)
			}
			if ev := eventTexts(t, d, m.ID); len(ev) != 1 || ev[0] != "cancel cancel requested by bob" {
				t.Errorf("history = %q, want: cancel requested by bob", ev)
			}
			if job, _ := d.Job(ctx, j.ID); !job.FinishedAt.IsZero() {
				t.Errorf("job finished while its move stops: %s", job.State)
			}
		})
	}
}

func TestCancelMovePastCutover(t *testing.T) {
	for _, state := range []model.MoveState{model.MoveRunning, model.MoveQueued} {
		for _, phase := range []model.Phase{model.PhaseCutover, model.PhaseDelta, model.PhaseRemove} {
			t.Run(fmt.Sprintf("%s in %s", state, phase), func(t *testing.T) {
				ctx := context.Background()
				d := mustOpenDB(t)
				_, ms := mustCreateJob(t, d, "alice")
				m := mustSetMove(t, d, ms[0], state, phase)
				audits := countRows(t, d, "audit")
				_, err := d.CancelMove(ctx, m.ID, "bob")
				if !errors.Is(err, ErrPastCutover) || !errors.Is(err, ErrConflict) {
					t.Fatalf("CancelMove(%s in %s) = %v, want ErrPastCutover (a conflict)", state, phase, err)
				}
				got, err := d.Move(ctx, m.ID)
				if err != nil || got.State != state || got.Phase != phase || got.CancelRequested {
					t.Errorf("move after the refusal = %s %s cancel requested %v, %v; want unchanged", got.State, got.Phase, got.CancelRequested, err)
				}
				if ev := eventTexts(t, d, m.ID); len(ev) != 0 {
					t.Errorf("history after the refusal = %q, want none", ev)
				}
				if n := countRows(t, d, "audit"); n != audits {
					t.Errorf("audit entries %d after the refusal, want %d", n, audits)
				}
			})
		}
	}
}

// The cut-over and a cancel are decided against each other: whichever
// commits first wins, in either order.
func TestCancelVersusCutover(t *testing.T) {
	ctx := context.Background()
	t.Run("cancel first", func(t *testing.T) {
		d := mustOpenDB(t)
		_, ms := mustCreateJob(t, d, "alice")
		m := mustSetMove(t, d, ms[0], model.MoveRunning, model.PhaseVerify)
		if _, err := d.CancelMove(ctx, m.ID, "bob"); err != nil {
			t.Fatalf("CancelMove() = %v", err)
		}
		m.Phase, m.MsgsDone = model.PhaseCutover, 7
		if err := d.TakeCutover(ctx, m); !errors.Is(err, ErrCancelRequested) {
			t.Fatalf("TakeCutover() after a cancel = %v, want ErrCancelRequested", err)
		}
		if got, _ := d.Move(ctx, m.ID); got.Phase != model.PhaseVerify || got.MsgsDone != 0 {
			t.Errorf("move after the refused cut-over = phase %s, %d done; want nothing written", got.Phase, got.MsgsDone)
		}
	})
	t.Run("cut-over first", func(t *testing.T) {
		d := mustOpenDB(t)
		_, ms := mustCreateJob(t, d, "alice")
		m := mustSetMove(t, d, ms[0], model.MoveRunning, model.PhaseVerify)
		m.Phase, m.MsgsDone = model.PhaseCutover, 7
		if err := d.TakeCutover(ctx, m); err != nil {
			t.Fatalf("TakeCutover() = %v", err)
		}
		if got, _ := d.Move(ctx, m.ID); got.Phase != model.PhaseCutover || got.MsgsDone != 7 {
			t.Errorf("move after the cut-over = phase %s, %d done; want cutover, 7", got.Phase, got.MsgsDone)
		}
		if _, err := d.CancelMove(ctx, m.ID, "bob"); !errors.Is(err, ErrPastCutover) {
			t.Fatalf("CancelMove() after the cut-over = %v, want ErrPastCutover", err)
		}
		if c, _ := d.CancelRequested(ctx, m.ID); c {
			t.Errorf("cancel requested after the cut-over")
		}
	})
	t.Run("wrong phase", func(t *testing.T) {
		d := mustOpenDB(t)
		_, ms := mustCreateJob(t, d, "alice")
		m := mustSetMove(t, d, ms[0], model.MoveRunning, model.PhaseVerify)
		if err := d.TakeCutover(ctx, m); !errors.Is(err, ErrConflict) {
			t.Errorf("TakeCutover(phase verify) = %v, want ErrConflict", err)
		}
	})
	// Concurrently: exactly one of the two wins, every time.
	t.Run("race", func(t *testing.T) {
		d := mustOpenDB(t)
		for i := 0; i < 20; i++ {
			_, ms := mustCreateJob(t, d, fmt.Sprintf("racer%02d", i))
			m := mustSetMove(t, d, ms[0], model.MoveRunning, model.PhaseVerify)
			var cancelErr, takeErr error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _, cancelErr = d.CancelMove(ctx, m.ID, "bob") }()
			go func() {
				defer wg.Done()
				c := m
				c.Phase = model.PhaseCutover
				takeErr = d.TakeCutover(ctx, c)
			}()
			wg.Wait()
			got, err := d.Move(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case cancelErr == nil && errors.Is(takeErr, ErrCancelRequested):
				if !got.CancelRequested || got.Phase != model.PhaseVerify {
					t.Errorf("round %d: cancel won but the move is %s, cancel requested %v", i, got.Phase, got.CancelRequested)
				}
			case takeErr == nil && errors.Is(cancelErr, ErrPastCutover):
				if got.CancelRequested || got.Phase != model.PhaseCutover {
					t.Errorf("round %d: cut-over won but the move is %s, cancel requested %v", i, got.Phase, got.CancelRequested)
				}
			default:
				t.Errorf("round %d: CancelMove() = %v, TakeCutover() = %v; want exactly one to win", i, cancelErr, takeErr)
			}
		}
	})
}

func TestStartMove(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice", "bob")
	if ok, err := d.StartMove(ctx, ms[0].ID); err != nil || !ok {
		t.Fatalf("StartMove(queued) = %v, %v; want true", ok, err)
	}
	if got, _ := d.Move(ctx, ms[0].ID); got.State != model.MoveRunning || got.StartedAt.IsZero() {
		t.Errorf("started move = %s, started %v; want running", got.State, got.StartedAt)
	}
	if _, err := d.CancelMove(ctx, ms[1].ID, "carol"); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.StartMove(ctx, ms[1].ID); err != nil || ok {
		t.Errorf("StartMove(cancelled) = %v, %v; want false", ok, err)
	}
	if got, _ := d.Move(ctx, ms[1].ID); got.State != model.MoveCancelled {
		t.Errorf("cancelled move after StartMove = %s, want cancelled", got.State)
	}
}

// A job cancel acts on each unfinished move by its kind: queued ones end at
// once, the others before their cut-over are asked to stop, those past it
// finish; finished ones stay as they are.
func TestCancelJobMix(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, ms := mustCreateJob(t, d, "queued", "copying", "delta", "retried", "moved")
	queued := ms[0]
	copying := mustSetMove(t, d, ms[1], model.MoveRunning, model.PhaseCopy)
	delta := mustSetMove(t, d, ms[2], model.MoveRunning, model.PhaseDelta)
	retried := mustSetMove(t, d, ms[3], model.MoveQueued, model.PhaseVerify)
	moved := mustFinishMove(t, d, ms[4])

	want := JobCancel{Cancelled: 1, Stopping: 2, Finishing: 1}
	if got, err := d.JobCancelPreview(ctx, j.ID); err != nil || got.Cancelled != want.Cancelled ||
		got.Stopping != want.Stopping || got.Finishing != want.Finishing {
		t.Errorf("JobCancelPreview() = %+v, %v; want %+v", got, err, want)
	}
	got, err := d.CancelJob(ctx, j.ID, "admin-ann")
	if err != nil {
		t.Fatalf("CancelJob() = %v", err)
	}
	if got.Cancelled != 1 || got.Stopping != 2 || got.Finishing != 1 {
		t.Errorf("CancelJob() = %d cancelled, %d stopping, %d finishing; want 1, 2, 1", got.Cancelled, got.Stopping, got.Finishing)
	}
	if len(got.Moves) != 1 || got.Moves[0].ID != queued.ID || got.Moves[0].State != model.MoveCancelled {
		t.Errorf("CancelJob().Moves = %+v, want the queued move, cancelled", got.Moves)
	}
	for _, tc := range []struct {
		m       model.Move
		state   model.MoveState
		request bool
		history []string
	}{
		{queued, model.MoveCancelled, false, []string{"cancelled cancelled before it started, by admin-ann"}},
		{copying, model.MoveRunning, true, []string{"cancel cancel requested by admin-ann (job cancelled)"}},
		{retried, model.MoveQueued, true, []string{"cancel cancel requested by admin-ann (job cancelled)"}},
		{delta, model.MoveRunning, false, nil},
		{moved, model.MoveDone, false, nil},
	} {
		now, err := d.Move(ctx, tc.m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if now.State != tc.state || now.CancelRequested != tc.request {
			t.Errorf("%s after CancelJob = %s, cancel requested %v; want %s, %v", now.UID, now.State, now.CancelRequested, tc.state, tc.request)
		}
		if ev := eventTexts(t, d, tc.m.ID); fmt.Sprint(ev) != fmt.Sprint(tc.history) {
			t.Errorf("%s's history = %q, want %q", now.UID, ev, tc.history)
		}
	}
	job, _ := d.Job(ctx, j.ID)
	if job.State != model.JobCancelled || !job.FinishedAt.IsZero() {
		t.Errorf("job while moves stop = %s, finished %v; want cancelled, open", job.State, job.FinishedAt)
	}
	// When the last ones have stopped or finished, the job ends cancelled.
	mustSetMove(t, d, copying, model.MoveCancelled, model.PhaseCleanup)
	mustSetMove(t, d, retried, model.MoveCancelled, model.PhaseCleanup)
	mustFinishMove(t, d, delta)
	if done, err := d.FinishJobIfDone(ctx, j.ID); err != nil || !done {
		t.Fatalf("FinishJobIfDone() = %v, %v; want true", done, err)
	}
	if job, _ := d.Job(ctx, j.ID); job.State != model.JobCancelled {
		t.Errorf("finished job = %s, want cancelled", job.State)
	}
}

// A job of only queued moves (a scheduled one) ends cancelled at once, not
// when a runner next looks.
func TestCancelJobOnlyQueued(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, ms := mustCreateJob(t, d, "alice", "bob")
	got, err := d.CancelJob(ctx, j.ID, "admin-ann")
	if err != nil || got.Cancelled != 2 || got.Stopping != 0 || got.Finishing != 0 {
		t.Fatalf("CancelJob() = %+v, %v; want 2 cancelled", got, err)
	}
	job, err := d.Job(ctx, j.ID)
	if err != nil || job.State != model.JobCancelled || job.FinishedAt.IsZero() {
		t.Errorf("job = %s, finished %v, %v; want cancelled and finished", job.State, job.FinishedAt, err)
	}
	for _, m := range ms {
		if ev := eventTexts(t, d, m.ID); len(ev) != 1 {
			t.Errorf("%s's history = %q, want one cancel entry", m.UID, ev)
		}
	}
	if _, err := d.CancelJob(ctx, j.ID, "admin-ann"); !errors.Is(err, ErrConflict) {
		t.Errorf("CancelJob(cancelled job) = %v, want ErrConflict", err)
	}
	if _, err := d.JobCancelPreview(ctx, j.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("JobCancelPreview(cancelled job) = %v, want ErrConflict", err)
	}
	if _, err := d.CancelJob(ctx, 4242, "admin-ann"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CancelJob(4242) = %v, want ErrNotFound", err)
	}
}
