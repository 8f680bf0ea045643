package db

import (
	"context"
	"maps"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

func TestMoveStateCounts(t *testing.T) {
	d := mustOpenDB(t)
	ctx := context.Background()
	a, err := d.CreateJob(ctx, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 4}, []string{"u1", "u2", "u3"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.CreateJob(ctx, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 4}, []string{"u4"})
	if err != nil {
		t.Fatal(err)
	}
	moves, err := d.Moves(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	moves[0].State = model.MoveDone
	if err := d.SaveMove(ctx, moves[0]); err != nil {
		t.Fatal(err)
	}
	got, err := d.MoveStateCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]map[model.MoveState]int{a.ID: {model.MoveDone: 1, model.MoveQueued: 2}, b.ID: {model.MoveQueued: 1}}
	if len(got) != len(want) || !maps.Equal(got[a.ID], want[a.ID]) || !maps.Equal(got[b.ID], want[b.ID]) {
		t.Errorf("MoveStateCounts() = %v, want %v", got, want)
	}
}
