package migrate_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// TestMeasureOnce: with STATUS=SIZE the hierarchy step measures each folder
// with one STATUS and selects none; the delta pass measures only the folder
// made since, yet the totals count the mail that arrived after the cut-over.
func TestMeasureOnce(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	msgs, bytes := seedRepeat(t, e)
	late := []seedMsg{msg("INBOX", "late", 1), msg("Late", "late", 2), msg("Late", "late", 3)}
	for _, m := range late {
		msgs++
		bytes += int64(len(m.body))
	}

	var mu sync.Mutex
	var afterHierarchy, beforeDelta map[string]imapmem.MailboxCounts
	var totalsAfterHierarchy [2]int64
	mv := e.mover()
	mv.Crash = func(point string) {
		if point == "hierarchy-done" {
			mu.Lock()
			afterHierarchy = e.src.Faults().MailboxCounts("alice")
			mu.Unlock()
		}
	}
	mv.Progress = func(m model.Move) {
		mu.Lock()
		defer mu.Unlock()
		if m.Phase == model.PhaseCopy && totalsAfterHierarchy == [2]int64{} {
			totalsAfterHierarchy = [2]int64{m.MsgsTotal, m.BytesTotal}
		}
		if m.Phase == model.PhaseDelta && beforeDelta == nil {
			beforeDelta = e.src.Faults().MailboxCounts("alice")
			e.seed(t, "alice", late) // after the cut-over, before the delta pass
		}
	}
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicySkip, MaxBad: 1, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	final := runWith(t, e, mv, j.ID)
	if final.State != model.MoveDone {
		t.Fatalf("move = %s (%s), want done", final.State, final.Error)
	}
	if afterHierarchy == nil || beforeDelta == nil {
		t.Fatal("the move passed neither the hierarchy step's end nor the delta pass")
	}
	for _, f := range []string{"INBOX", "Archive", "Empty"} {
		c := afterHierarchy[f]
		if examined(c) != 0 || c.Statuses != 1 {
			t.Errorf("hierarchy step, source %q: %d SELECT/EXAMINE and %d STATUS, want 0 and 1", f, examined(c), c.Statuses)
		}
	}
	if want := [2]int64{msgs - 3, bytes - int64(len(late[0].body)+len(late[1].body)+len(late[2].body))}; totalsAfterHierarchy != want {
		t.Errorf("totals after the hierarchy step = %v, want %v", totalsAfterHierarchy, want)
	}
	end := e.src.Faults().MailboxCounts("alice")
	for _, f := range []string{"INBOX", "Archive", "Empty"} {
		if n := end[f].Statuses - beforeDelta[f].Statuses; n != 0 {
			t.Errorf("delta pass: %d STATUS of %q, which the hierarchy step measured", n, f)
		}
	}
	if n := end["Late"].Statuses; n != 1 {
		t.Errorf("delta pass: %d STATUS of the folder made after the cut-over, want 1", n)
	}
	// Totals count the skipped item, done does not.
	bad := int64(len(msg("Archive", "old", 2).body))
	if final.Skipped != 1 || final.MsgsTotal != msgs || final.MsgsDone != msgs-1 || final.BytesTotal != bytes || final.BytesDone != bytes-bad {
		t.Errorf("done/total = %d/%d messages, %d/%d bytes, %d skipped; want %d/%d messages, %d/%d bytes, 1 skipped",
			final.MsgsDone, final.MsgsTotal, final.BytesDone, final.BytesTotal, final.Skipped, msgs-1, msgs, bytes-bad, bytes)
	}
	for _, f := range []string{"INBOX", "Late"} {
		if n := leftOn(t, e.src, "alice", f); n != 0 {
			t.Errorf("source %q still holds %d messages", f, n)
		}
	}
}

// TestMeasureWithoutStatusSize: a source without STATUS=SIZE is measured
// with STATUS (MESSAGES), and only folders with mail are examined for their
// sizes.
func TestMeasureWithoutStatusSize(t *testing.T) {
	e := newMemEnv(t, '/', '/', "alice")
	src, addr := testenv.Serve(t, imapmem.Options{NoStatusSize: true})
	src.AddUser("alice", "pw-alice")
	e.src, e.cfg.Servers[0].Address = src, addr
	msgs, bytes := seedRepeat(t, e)

	var afterHierarchy map[string]imapmem.MailboxCounts
	var totals [2]int64
	var mu sync.Mutex
	mv := e.mover()
	mv.Crash = func(point string) {
		if point == "hierarchy-done" {
			mu.Lock()
			afterHierarchy = src.Faults().MailboxCounts("alice")
			mu.Unlock()
		}
	}
	mv.Progress = func(m model.Move) {
		mu.Lock()
		defer mu.Unlock()
		if m.Phase == model.PhaseCopy && totals == [2]int64{} {
			totals = [2]int64{m.MsgsTotal, m.BytesTotal}
		}
	}
	mv.Patience = 3 * time.Second
	j, err := e.db.CreateJob(context.Background(), model.Job{Target: "dst", Policy: model.PolicySkip, MaxBad: 1, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	final := runWith(t, e, mv, j.ID)
	if final.State != model.MoveDone {
		t.Fatalf("move = %s (%s), want done", final.State, final.Error)
	}
	if totals != [2]int64{msgs, bytes} {
		t.Errorf("totals after the hierarchy step = %v, want [%d %d]", totals, msgs, bytes)
	}
	for f, want := range map[string]int{"INBOX": 1, "Archive": 1, "Empty": 0} {
		if got := examined(afterHierarchy[f]); got != want {
			t.Errorf("hierarchy step, source %q: %d SELECT/EXAMINE, want %d", f, got, want)
		}
	}
}
