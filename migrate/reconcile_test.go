package migrate_test

import (
	"context"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
)

// TestResumeReconcilesInFlightAppends recreates, in the database, the state
// a kill -9 leaves between an APPEND's OK and its commit: copies recorded as
// 'sending' although they are on the target (some of them identical twins),
// and 'sending' copies that never arrived. The resumed move must end with
// every source message exactly once on the target.
func TestResumeReconcilesInFlightAppends(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 12; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i))
	}
	twin := msg("INBOX", "twin", 1)
	msgs = append(msgs, twin, twin, twin) // identical bytes, flags and date
	e.seed(t, "alice", msgs)
	want := manifest(t, e.src, "alice", "INBOX")

	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test", KeepSource: true}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	// Stop the move as soon as everything is copied.
	stopCtx, stop := context.WithCancel(ctx)
	mv := e.mover()
	mv.Progress = func(m model.Move) {
		if m.Phase == model.PhaseVerify {
			stop()
		}
	}
	if _, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(stopCtx, j.ID); err == nil {
		t.Fatal("RunJobs() = nil, want the cancellation")
	}
	moves, _ := e.db.Moves(ctx, j.ID)
	m := moves[0]
	folders, _ := e.db.Folders(ctx, m.ID)
	inbox := folders[slices.IndexFunc(folders, func(f db.Folder) bool { return f.Source == "INBOX" })]
	copies, _ := e.db.Copies(ctx, inbox.ID)
	if len(copies) != 15 {
		t.Fatalf("copies = %d, want 15", len(copies))
	}
	// Lost confirmations: the last five (three twins among them).
	var lost, never []db.Copy
	for uid := uint32(11); uid <= 15; uid++ {
		lost = append(lost, copies[uid])
	}
	// Never arrived: two more, removed from the target behind our back.
	never = append(never, copies[2], copies[3])
	expungeOnTarget(t, e, "INBOX", never[0].TargetUID, never[1].TargetUID)
	var forget []uint32
	for _, c := range append(lost, never...) {
		forget = append(forget, c.SourceUID)
	}
	if err := e.db.ForgetCopies(ctx, inbox.ID, forget); err != nil {
		t.Fatal(err)
	}
	if err := e.db.MarkSending(ctx, inbox.ID, append(lost, never...)); err != nil {
		t.Fatal(err)
	}
	m.Phase, m.MsgsDone = model.PhaseCopy, m.MsgsDone-7
	if err := e.db.SaveMove(ctx, m); err != nil {
		t.Fatal(err)
	}

	final := e.runJob(t, ctx, j.ID)
	if final.State != model.MoveDone {
		t.Fatalf("resumed move = %s (%s), want done", final.State, final.Error)
	}
	equalManifest(t, "target INBOX", manifest(t, e.dst, "alice", "INBOX"), want)
	if final.MsgsDone != 15 {
		t.Errorf("MsgsDone = %d, want 15", final.MsgsDone)
	}
}

func expungeOnTarget(t *testing.T, e *memEnv, mailbox string, uids ...uint32) {
	t.Helper()
	c, err := imapclient.DialInsecure(e.cfg.Servers[1].Address, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "pw-alice").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(set).Close(); err != nil {
		t.Fatal(err)
	}
}
