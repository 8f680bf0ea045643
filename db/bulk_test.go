package db

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

func TestRetryableMovesAndMovesByID(t *testing.T) {
	ctx := context.Background()
	d, j, ms := pageFixture(t)
	ms[3].State = model.MoveAbandoned
	if err := d.SaveMove(ctx, ms[3]); err != nil {
		t.Fatal(err)
	}
	got, err := d.RetryableMoves(ctx, j.ID)
	if err != nil {
		t.Fatalf("RetryableMoves() = %v", err)
	}
	if want := []string{"bob_1", "bobx1"}; !slices.Equal(uidsOf(got), want) {
		t.Errorf("RetryableMoves() = %v, want %v", uidsOf(got), want)
	}

	other, err := d.CreateJob(ctx, testJob(), []string{"erin"})
	if err != nil {
		t.Fatal(err)
	}
	otherMoves, _ := d.Moves(ctx, other.ID)
	byID, err := d.MovesByID(ctx, j.ID, []int64{ms[4].ID, ms[0].ID, otherMoves[0].ID, 99999})
	if err != nil {
		t.Fatalf("MovesByID() = %v", err)
	}
	if want := []string{"carol", "dave"}; !slices.Equal(uidsOf(byID), want) {
		t.Errorf("MovesByID() = %v, want %v (another job's move and an unknown id left out)", uidsOf(byID), want)
	}
	if _, err := d.MovesByID(ctx, j.ID, make([]int64, MaxMovesByID+1)); err == nil {
		t.Errorf("MovesByID(%d ids) = nil error, want the bound", MaxMovesByID+1)
	}
}

func TestSetJobPolicy(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, err := d.CreateJob(ctx, testJob(), []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetJobPolicy(ctx, j.ID, model.PolicySkip, 7, "root"); err != nil {
		t.Fatalf("SetJobPolicy() = %v", err)
	}
	got, _ := d.Job(ctx, j.ID)
	if got.Policy != model.PolicySkip || got.MaxBad != 7 {
		t.Errorf("after SetJobPolicy(skip, 7) the job has %s/%d", got.Policy, got.MaxBad)
	}
	audit, err := d.AuditBefore(ctx, 0, 1)
	if err != nil || len(audit) != 1 || audit[0].Action != "change policy" || audit[0].Actor != "root" {
		t.Errorf("AuditBefore() = %+v, %v; want the policy change by root first", audit, err)
	}
	if err := d.SetJobPolicy(ctx, j.ID+1, model.PolicySkip, 1, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetJobPolicy(no job) = %v, want ErrNotFound", err)
	}
	if err := d.SetJobPolicy(ctx, j.ID, "maybe", 1, "root"); err == nil {
		t.Errorf("SetJobPolicy(maybe) = nil, want an error")
	}
}
