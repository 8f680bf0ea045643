package db

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

func TestSaveMoveRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	orig := ms[0]
	orig.State = model.MoveRunning // a queued move would be cancelled at once
	if err := d.SaveMove(ctx, orig); err != nil {
		t.Fatalf("SaveMove() = %v", err)
	}
	if err := d.RequestCancel(ctx, orig.ID, "admin"); err != nil {
		t.Fatalf("RequestCancel() = %v", err)
	}

	zone := time.FixedZone("EST", -5*60*60)
	m := orig
	m.UserDN = "uid=alice,ou=people,dc=example,dc=org"
	m.Source = "imap1.example.org"
	m.State = model.MoveRunning
	m.Phase = model.PhaseCopy
	m.CurrentFolder = "Archive/2023"
	m.MsgsTotal = 1 << 40
	m.MsgsDone = 12345
	m.BytesTotal = 1<<62 + 7
	m.BytesDone = 999
	m.Skipped = 3
	m.Error = "fetch 17: NO [UNAVAILABLE]"
	m.DirectoryUpdated = time.Date(2024, 3, 1, 1, 2, 3, 4, zone)
	m.SourceRemoved = time.Date(2024, 3, 1, 5, 6, 7, 8, zone)
	m.StartedAt = time.Date(2024, 2, 29, 23, 59, 59, 999999999, zone)
	m.FinishedAt = time.Date(2024, 3, 2, 0, 0, 0, 1, time.UTC)
	m.Attempt = 2
	// SaveMove must ignore what it is not allowed to change.
	m.CancelRequested = false
	m.JobID = 999
	m.UID = "mallory"
	m.Target = "elsewhere"
	m.CreatedAt = time.Time{}
	if err := d.SaveMove(ctx, m); err != nil {
		t.Fatalf("SaveMove() = %v", err)
	}

	got, err := d.Move(ctx, m.ID)
	if err != nil {
		t.Fatalf("Move(%d) = %v", m.ID, err)
	}
	want := m
	want.JobID, want.UID, want.Target = orig.JobID, orig.UID, orig.Target
	want.CreatedAt = orig.CreatedAt
	want.CancelRequested = true
	want.DirectoryUpdated = m.DirectoryUpdated.UTC()
	want.SourceRemoved = m.SourceRemoved.UTC()
	want.StartedAt = m.StartedAt.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Move(%d) =\n%+v\nwant\n%+v", m.ID, got, want)
	}
	for name, tm := range map[string]time.Time{
		"DirectoryUpdated": got.DirectoryUpdated, "SourceRemoved": got.SourceRemoved,
		"CreatedAt": got.CreatedAt, "StartedAt": got.StartedAt, "FinishedAt": got.FinishedAt,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("Move().%s location = %v, want UTC", name, tm.Location())
		}
	}
	if c, err := d.CancelRequested(ctx, m.ID); err != nil || !c {
		t.Errorf("CancelRequested(%d) = %v, %v, want true, nil", m.ID, c, err)
	}

	// Zero times are stored as zero, not as year 1.
	m.FinishedAt = time.Time{}
	if err := d.SaveMove(ctx, m); err != nil {
		t.Fatalf("SaveMove() = %v", err)
	}
	got, err = d.Move(ctx, m.ID)
	if err != nil {
		t.Fatalf("Move(%d) = %v", m.ID, err)
	}
	if !got.FinishedAt.IsZero() {
		t.Errorf("Move().FinishedAt = %v, want zero", got.FinishedAt)
	}
}

// TestSaveMoveOneUnfinishedPerUser: the unique index keeps a user in at most
// one unfinished move even if a caller tries to re-queue an old one.
func TestSaveMoveOneUnfinishedPerUser(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	old := mustFinishMove(t, d, ms[0])
	mustCreateJob(t, d, "alice")
	old.State = model.MoveQueued
	if err := d.SaveMove(ctx, old); err == nil {
		t.Errorf("SaveMove(second unfinished move of alice) = nil, want a constraint error")
	}
}

func TestRequestCancel(t *testing.T) {
	// A queued move nothing was done for is cancelled at once instead
	// (TestCancelMoveQueued).
	for _, state := range []model.MoveState{model.MoveRunning} {
		t.Run(string(state), func(t *testing.T) {
			ctx := context.Background()
			d := mustOpenDB(t)
			j, ms := mustCreateJob(t, d, "alice")
			m := ms[0]
			m.State = state
			if err := d.SaveMove(ctx, m); err != nil {
				t.Fatalf("SaveMove() = %v", err)
			}
			if c, err := d.CancelRequested(ctx, m.ID); err != nil || c {
				t.Fatalf("CancelRequested() before = %v, %v, want false, nil", c, err)
			}
			if err := d.RequestCancel(ctx, m.ID, "operator"); err != nil {
				t.Fatalf("RequestCancel() = %v", err)
			}
			if c, err := d.CancelRequested(ctx, m.ID); err != nil || !c {
				t.Errorf("CancelRequested() = %v, %v, want true, nil", c, err)
			}
			audit, err := d.AuditBefore(ctx, 0, 1)
			if err != nil {
				t.Fatalf("Audit() = %v", err)
			}
			want := AuditEntry{ID: audit[0].ID, At: testNow.UTC(), Actor: "operator",
				Action: "cancel mailbox", JobID: j.ID, MoveID: m.ID, Detail: "alice"}
			if len(audit) != 1 || audit[0] != want {
				t.Errorf("Audit(1) = %+v, want %+v", audit, want)
			}
		})
	}
}

func TestRequestCancelFinished(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	m := mustFinishMove(t, d, ms[0])
	before := countRows(t, d, "audit")
	err := d.RequestCancel(ctx, m.ID, "operator")
	if !errors.Is(err, ErrConflict) {
		t.Errorf("RequestCancel(done move) = %v, want ErrConflict", err)
	}
	if c, err := d.CancelRequested(ctx, m.ID); err != nil || c {
		t.Errorf("CancelRequested() = %v, %v, want false, nil", c, err)
	}
	if got := countRows(t, d, "audit"); got != before {
		t.Errorf("audit rows = %d, want %d", got, before)
	}
}

func TestUnfinishedMoves(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms1 := mustCreateJob(t, d, "a", "b")
	_, ms2 := mustCreateJob(t, d, "c")
	mustFinishMove(t, d, ms1[0])
	running := ms2[0]
	running.State = model.MoveRunning
	if err := d.SaveMove(ctx, running); err != nil {
		t.Fatalf("SaveMove() = %v", err)
	}
	got, err := d.UnfinishedMoves(ctx)
	if err != nil {
		t.Fatalf("UnfinishedMoves() = %v", err)
	}
	var uids []string
	for _, m := range got {
		uids = append(uids, m.UID)
	}
	if want := []string{"b", "c"}; !reflect.DeepEqual(uids, want) {
		t.Errorf("UnfinishedMoves() = %v, want %v", uids, want)
	}
	tests := []struct {
		state model.MoveState
		want  bool
	}{
		{model.MoveQueued, true}, {model.MoveRunning, true}, {model.MoveDone, false}, {model.MoveFailed, false},
		{model.MoveAbandoned, false}, {model.MoveCancelled, false}, {model.MoveAlreadyThere, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			if got := (model.Move{State: tt.state}).Unfinished(); got != tt.want {
				t.Errorf("model.Move{State: %q}.Unfinished() = %v, want %v", tt.state, got, tt.want)
			}
		})
	}
}
