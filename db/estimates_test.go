package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// TestSetEstimates: queued moves take the preflight's sizes, so the job's
// totals cover them; a move that started keeps its own figures.
func TestSetEstimates(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, ms := mustCreateJob(t, d, "a", "b", "c")
	started := ms[2]
	started.State, started.MsgsTotal, started.BytesTotal, started.MsgsDone = model.MoveRunning, 7, 700, 1
	if err := d.SaveMove(ctx, started); err != nil {
		t.Fatal(err)
	}
	if err := d.SetEstimates(ctx, j.ID, map[string]Estimate{"a": {10, 1000}, "c": {99, 9900}, "other": {5, 5}}); err != nil {
		t.Fatalf("SetEstimates() = %v", err)
	}
	got, err := d.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{"a": {10, 1000}, "b": {0, 0}, "c": {7, 700}}
	for _, m := range got {
		if w := want[m.UID]; m.MsgsTotal != w[0] || m.BytesTotal != w[1] {
			t.Errorf("move %s totals = %d msgs, %d bytes; want %v", m.UID, m.MsgsTotal, m.BytesTotal, w)
		}
	}
	totals, err := d.JobTotals(ctx, j.ID)
	if err != nil || totals.MsgsTotal != 17 || totals.BytesTotal != 1700 {
		t.Errorf("JobTotals() = %+v, %v; want 17 messages, 1700 bytes", totals, err)
	}
}

// TestStartNow: a job waiting for its start time is brought forward once;
// a job that starts now or has started is a conflict.
func TestStartNow(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j := testJob()
	j.StartAt = d.Now().Add(time.Hour)
	later, err := d.CreateJob(ctx, j, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.StartNow(ctx, later.ID, "alice"); err != nil {
		t.Fatalf("StartNow() = %v", err)
	}
	got, err := d.Job(ctx, later.ID)
	if err != nil || got.StartAt.After(d.Now()) || got.State != model.JobQueued {
		t.Errorf("job after StartNow = %+v, %v; want queued, due now", got, err)
	}
	if err := d.StartNow(ctx, later.ID, "alice"); !errors.Is(err, ErrConflict) {
		t.Errorf("second StartNow() = %v, want a conflict", err)
	}
	now, _ := mustCreateJob(t, d, "b")
	if err := d.StartNow(ctx, now.ID, "alice"); !errors.Is(err, ErrConflict) {
		t.Errorf("StartNow() of a job without a start time = %v, want a conflict", err)
	}
	if err := d.StartNow(ctx, 999, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("StartNow() of no job = %v, want not found", err)
	}
}

// TestSyncedFlagsAndModSeq: a sync's record of flags replaces the last
// one's, and its HIGHESTMODSEQ holds only under the UIDVALIDITY it was read
// for.
func TestSyncedFlagsAndModSeq(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	f, err := d.AddFolder(ctx, Folder{MoveID: ms[0].ID, Source: "INBOX", Target: "INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveSyncedFlags(ctx, f.ID, map[uint32]string{1: `\seen`, 2: ""}, 7, 1<<40); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveSyncedFlags(ctx, f.ID, map[uint32]string{2: `\flagged`}, 7, 1<<41); err != nil {
		t.Fatal(err)
	}
	got, err := d.SyncedFlags(ctx, f.ID)
	if err != nil || len(got) != 1 || got[2] != `\flagged` {
		t.Errorf("SyncedFlags() = %v, %v; want only the last record", got, err)
	}
	if m, err := d.SyncedModSeq(ctx, f.ID, 7); err != nil || m != 1<<41 {
		t.Errorf("SyncedModSeq(7) = %d, %v; want %d", m, err, uint64(1<<41))
	}
	if m, err := d.SyncedModSeq(ctx, f.ID, 8); err != nil || m != 0 {
		t.Errorf("SyncedModSeq of another UIDVALIDITY = %d, %v; want 0", m, err)
	}
	if err := d.SaveSyncedFlags(ctx, f.ID, nil, 7, 0); err != nil {
		t.Fatal(err)
	}
	if m, err := d.SyncedModSeq(ctx, f.ID, 7); err != nil || m != 0 {
		t.Errorf("SyncedModSeq() after a sync without one = %d, %v; want 0", m, err)
	}
}
