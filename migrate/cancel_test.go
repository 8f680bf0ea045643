package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// A cancel asked for once the move took its cut-over (between the
// directory change and its commit, right after the commit, during the
// delta pass and during the removal) is refused, and the move ends done:
// the target holds the mail, the source is removed, nothing is lost. The
// mover's crash points and progress are the hooks: each asks to cancel
// from inside the move, at exactly that moment.
func TestCancelPastCutoverRefused(t *testing.T) {
	for _, at := range []string{"cutover-ldap", "cutover", "phase delta", "phase remove"} {
		t.Run(at, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t, '/', '/', "alice")
			faultCorpus(t, e)
			before := sourceManifests(t, e)
			j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
			if err != nil {
				t.Fatal(err)
			}
			mv := e.mover()
			var asked int
			var refusal error
			ask := func(id int64) {
				asked++
				_, refusal = e.db.CancelMove(ctx, id, "admin-ann")
			}
			moves, err := e.db.Moves(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			mv.Crash = func(point string) {
				if point == at && asked == 0 {
					ask(moves[0].ID)
				}
			}
			mv.Progress = func(m model.Move) {
				if "phase "+string(m.Phase) == at && asked == 0 {
					ask(m.ID)
				}
			}
			final, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(ctx, j.ID)
			if err != nil {
				t.Fatalf("RunJobs() = %v", err)
			}
			if asked != 1 {
				t.Fatalf("the cancel was asked %d times at %s, want once", asked, at)
			}
			if !errors.Is(refusal, db.ErrPastCutover) {
				t.Errorf("CancelMove() at %s = %v, want ErrPastCutover", at, refusal)
			}
			m := final[0]
			if m.State != model.MoveDone || m.CancelRequested || m.SourceRemoved.IsZero() {
				t.Fatalf("move after the refused cancel = %s (error %q), cancel requested %v, source removed %v; want done",
					m.State, m.Error, m.CancelRequested, m.SourceRemoved)
			}
			assertTargetEquals(t, e, before)
			// The source is removed (its empty folders too; INBOX stays).
			if got := manifest(t, e.src, "alice", "INBOX"); len(got) != 0 {
				t.Errorf("source INBOX holds %d messages after the move, want 0", len(got))
			}
			if u, err := e.dir.Lookup(ctx, "alice"); err != nil || u.Home != testenv.DstHome {
				t.Errorf("alice's home = %q, %v; want %q", u.Home, err, testenv.DstHome)
			}
			events, err := e.db.Events(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range events {
				if ev.Kind == "cancel" || ev.Kind == string(model.MoveCancelled) || strings.Contains(ev.Message, "cancelled") {
					t.Errorf("history has %s %q after a refused cancel", ev.Kind, ev.Message)
				}
			}
		})
	}
}

// A cancel asked for after verification, just before the cut-over, wins:
// the mover finds it when it takes the cut-over, and the move ends
// cancelled with the directory and the source untouched and the target
// cleaned.
func TestCancelJustBeforeCutover(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	faultCorpus(t, e)
	before := sourceManifests(t, e)
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	moves, err := e.db.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	mv := e.mover()
	var cancelErr error
	asked := false
	mv.Crash = func(point string) {
		if point == "verified" && !asked {
			asked = true
			_, cancelErr = e.db.CancelMove(ctx, moves[0].ID, "admin-ann")
		}
	}
	final, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(ctx, j.ID)
	if err != nil {
		t.Fatalf("RunJobs() = %v", err)
	}
	if !asked || cancelErr != nil {
		t.Fatalf("CancelMove() after verification = %v (asked %v), want accepted", cancelErr, asked)
	}
	if m := final[0]; m.State != model.MoveCancelled || !m.DirectoryUpdated.IsZero() || m.Phase.PastCutover() {
		t.Fatalf("move = %s in %s (error %q), directory updated %v; want cancelled before the cut-over",
			m.State, m.Phase, m.Error, m.DirectoryUpdated)
	}
	assertUntouched(t, e, before)
}
