package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

// mustFolder plans an INBOX for a new move of uid and returns both.
func mustFolder(t *testing.T, d *DB, uid string) (model.Move, Folder) {
	t.Helper()
	_, ms := mustCreateJob(t, d, uid)
	f, err := d.AddFolder(context.Background(), Folder{MoveID: ms[0].ID, Source: "INBOX", Target: "INBOX"})
	if err != nil {
		t.Fatalf("AddFolder() = %v", err)
	}
	return ms[0], f
}

func mustCopies(t *testing.T, d *DB, folderID int64) map[uint32]Copy {
	t.Helper()
	cs, err := d.Copies(context.Background(), folderID)
	if err != nil {
		t.Fatalf("Copies(%d) = %v", folderID, err)
	}
	return cs
}

func TestCopiesLifecycle(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	m, f := mustFolder(t, d, "alice")
	sum1 := sha256.Sum256([]byte("message one"))
	sum3 := sha256.Sum256([]byte("message three"))

	if got := mustCopies(t, d, f.ID); len(got) != 0 {
		t.Fatalf("Copies() of a new folder = %+v, want empty", got)
	}

	// sending is written before the APPENDs; sizes come from the caller,
	// target UIDs and checksums are not known yet.
	if err := d.MarkSending(ctx, f.ID, []Copy{
		{SourceUID: 1, Size: 100, TargetUID: 77, SHA256: sum1[:]},
		{SourceUID: 2, Size: 200},
		{SourceUID: 3, Size: 300},
	}); err != nil {
		t.Fatalf("MarkSending() = %v", err)
	}
	want := map[uint32]Copy{
		1: {SourceUID: 1, State: CopySending, Size: 100},
		2: {SourceUID: 2, State: CopySending, Size: 200},
		3: {SourceUID: 3, State: CopySending, Size: 300},
	}
	if got := mustCopies(t, d, f.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Copies() after MarkSending = %+v, want %+v", got, want)
	}

	// Confirming upgrades sending to done and saves the move with it.
	m.State, m.Phase, m.MsgsDone, m.BytesDone, m.CurrentFolder = model.MoveRunning, model.PhaseCopy, 2, 400, "INBOX"
	if err := d.ConfirmCopies(ctx, f.ID, []Copy{
		{SourceUID: 1, TargetUID: 11, Size: 101, SHA256: sum1[:]},
		{SourceUID: 3, TargetUID: 0, Size: 300, SHA256: sum3[:]}, // no UIDPLUS
	}, m); err != nil {
		t.Fatalf("ConfirmCopies() = %v", err)
	}
	want[1] = Copy{SourceUID: 1, TargetUID: 11, State: CopyDone, Size: 101, SHA256: sum1[:]}
	want[3] = Copy{SourceUID: 3, TargetUID: 0, State: CopyDone, Size: 300, SHA256: sum3[:]}
	if got := mustCopies(t, d, f.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Copies() after ConfirmCopies = %+v, want %+v", got, want)
	}
	saved, err := d.Move(ctx, m.ID)
	if err != nil {
		t.Fatalf("Move() = %v", err)
	}
	if saved.MsgsDone != 2 || saved.BytesDone != 400 || saved.State != model.MoveRunning || saved.CurrentFolder != "INBOX" {
		t.Errorf("Move() after ConfirmCopies = %+v, want the progress saved", saved)
	}

	// A resumed move marks the same messages again: a done row stays done.
	if err := d.MarkSending(ctx, f.ID, []Copy{{SourceUID: 1, Size: 1}, {SourceUID: 4, Size: 400}}); err != nil {
		t.Fatalf("MarkSending(again) = %v", err)
	}
	want[4] = Copy{SourceUID: 4, State: CopySending, Size: 400}
	got := mustCopies(t, d, f.ID)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Copies() after MarkSending(again) = %+v, want %+v", got, want)
	}
	if !bytes.Equal(got[1].SHA256, sum1[:]) {
		t.Errorf("Copies()[1].SHA256 = %x, want %x", got[1].SHA256, sum1)
	}

	// Confirming a message never marked sending also works (insert).
	if err := d.ConfirmCopies(ctx, f.ID, []Copy{{SourceUID: 5, TargetUID: 15, Size: 500}}, saved); err != nil {
		t.Fatalf("ConfirmCopies(5) = %v", err)
	}
	want[5] = Copy{SourceUID: 5, TargetUID: 15, State: CopyDone, Size: 500}

	// The sending ones found missing after a crash are forgotten; forgetting
	// an unknown UID is not an error.
	if err := d.ForgetCopies(ctx, f.ID, []uint32{2, 4, 999}); err != nil {
		t.Fatalf("ForgetCopies() = %v", err)
	}
	delete(want, 2)
	delete(want, 4)
	if got := mustCopies(t, d, f.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Copies() after ForgetCopies = %+v, want %+v", got, want)
	}
}

func TestCopiesPerFolder(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, f1 := mustFolder(t, d, "alice")
	_, f2 := mustFolder(t, d, "bob")
	if err := d.MarkSending(ctx, f1.ID, []Copy{{SourceUID: 1, Size: 1}}); err != nil {
		t.Fatalf("MarkSending(f1) = %v", err)
	}
	if err := d.MarkSending(ctx, f2.ID, []Copy{{SourceUID: 1, Size: 2}}); err != nil {
		t.Fatalf("MarkSending(f2) = %v", err)
	}
	if err := d.ForgetCopies(ctx, f1.ID, []uint32{1}); err != nil {
		t.Fatalf("ForgetCopies(f1) = %v", err)
	}
	if got := mustCopies(t, d, f2.ID); len(got) != 1 || got[1].Size != 2 {
		t.Errorf("Copies(f2) = %+v, want UID 1 of size 2 untouched", got)
	}
	if err := d.MarkSending(ctx, 12345, []Copy{{SourceUID: 1, Size: 1}}); err == nil {
		t.Errorf("MarkSending(missing folder) = nil, want a foreign key error")
	}
}

// TestConfirmCopiesAtomic: if the move cannot be saved, the copies of the
// same call are not recorded either.
func TestConfirmCopiesAtomic(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	old, f := mustFolder(t, d, "alice")
	old = mustFinishMove(t, d, old)
	mustCreateJob(t, d, "alice") // alice's new move is queued

	// Re-queuing the old move breaks the one-unfinished-move index.
	bad := old
	bad.State = model.MoveQueued
	bad.MsgsDone = 1
	if err := d.ConfirmCopies(ctx, f.ID, []Copy{{SourceUID: 1, TargetUID: 1, Size: 10}}, bad); err == nil {
		t.Fatalf("ConfirmCopies() with an unsaveable move = nil, want an error")
	}
	if got := mustCopies(t, d, f.ID); len(got) != 0 {
		t.Errorf("Copies() after failed ConfirmCopies = %+v, want none", got)
	}
	if got, err := d.Move(ctx, old.ID); err != nil || got.MsgsDone != 0 || got.State != model.MoveDone {
		t.Errorf("Move() after failed ConfirmCopies = %+v, %v, want unchanged", got, err)
	}
}

// TestConcurrentWriters runs the runner's hot path from several movers at
// once: every write must wait its turn rather than fail with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	const workers, iterations = 8, 300
	moves := make([]model.Move, workers)
	folders := make([]Folder, workers)
	for i := range workers {
		moves[i], folders[i] = mustFolder(t, d, fmt.Sprintf("user%d", i))
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			m, f := moves[w], folders[w]
			m.State = model.MoveRunning
			for i := range iterations {
				uid := uint32(i + 1)
				if err := d.MarkSending(ctx, f.ID, []Copy{{SourceUID: uid, Size: 10}}); err != nil {
					errs <- fmt.Errorf("worker %d: MarkSending(%d) = %w", w, uid, err)
					return
				}
				m.MsgsDone, m.BytesDone = int64(i+1), int64(10*(i+1))
				if err := d.ConfirmCopies(ctx, f.ID, []Copy{{SourceUID: uid, TargetUID: uid, Size: 10}}, m); err != nil {
					errs <- fmt.Errorf("worker %d: ConfirmCopies(%d) = %w", w, uid, err)
					return
				}
				if i%10 == 0 {
					if err := d.SaveMove(ctx, m); err != nil {
						errs <- fmt.Errorf("worker %d: SaveMove() = %w", w, err)
						return
					}
					if _, err := d.Copies(ctx, f.ID); err != nil {
						errs <- fmt.Errorf("worker %d: Copies() = %w", w, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for w := range workers {
		cs := mustCopies(t, d, folders[w].ID)
		if len(cs) != iterations {
			t.Errorf("worker %d: Copies() = %d copies, want %d", w, len(cs), iterations)
		}
		for uid, c := range cs {
			if c.State != CopyDone {
				t.Errorf("worker %d: Copies()[%d].State = %q, want %q", w, uid, c.State, CopyDone)
			}
		}
		m, err := d.Move(ctx, moves[w].ID)
		if err != nil {
			t.Fatalf("Move() = %v", err)
		}
		if m.MsgsDone != iterations || m.BytesDone != 10*iterations {
			t.Errorf("worker %d: Move() progress = %d msgs, %d bytes, want %d, %d",
				w, m.MsgsDone, m.BytesDone, iterations, 10*iterations)
		}
	}
}
