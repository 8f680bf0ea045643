package migrate_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// TestVerifyRemovesLateDuplicates recreates what a server still executing
// a dead client's APPENDs does: copies of messages this move already
// recorded land on the target after the resumed run sent them again. They
// land once before verification and once after the cut-over (a kill in
// the delta pass). Verification must remove exactly those (same bytes as a
// recorded copy), keep a message someone else put there, report both, and
// never touch the source's copy of anything.
func TestVerifyRemovesLateDuplicates(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 20; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i))
	}
	twin := msg("INBOX", "twin", 1)
	msgs = append(msgs, twin, twin) // identical twins are two messages, not a duplicate
	e.seed(t, "alice", msgs)
	want := manifest(t, e.src, "alice", "INBOX")

	foreign := msg("INBOX", "delivered elsewhere", 99)
	late := func(m seedMsg) {
		if _, err := e.dst.AddMessage("alice", "INBOX", m.flags, m.date, m.body); err != nil {
			t.Errorf("AddMessage on target: %v", err)
		}
	}
	var once sync.Map
	mv := e.mover()
	mv.Progress = func(m model.Move) {
		switch {
		case m.Phase == model.PhaseVerify:
			if _, done := once.LoadOrStore("verify", true); !done {
				late(msgs[3])
				late(msgs[3])
				late(twin)
				late(foreign)
			}
		case m.Phase == model.PhaseDelta:
			if _, done := once.LoadOrStore("delta", true); !done {
				late(msgs[7])
			}
		}
	}
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	final := runWith(t, e, mv, j.ID)
	if final.State != model.MoveDone {
		t.Fatalf("move = %s (%s), want done", final.State, final.Error)
	}
	if _, ok := once.Load("delta"); !ok {
		t.Fatal("the move never reported the delta phase: the test injected nothing after the cut-over")
	}
	// Want: the source's messages once each, plus the foreign one.
	wantTarget := append(manifest(t, e.src, "alice", "INBOX"), want...)
	if len(wantTarget) != len(want) {
		t.Fatalf("source still holds %d messages after the move", len(wantTarget)-len(want))
	}
	got := manifest(t, e.dst, "alice", "INBOX")
	foreignKey := testenv.Line(foreign.msg())
	if !slices.Contains(got, foreignKey) {
		t.Fatalf("the message someone else put on the target is gone: %d messages there", len(got))
	}
	withForeign := append(append([]string(nil), want...), foreignKey)
	equalManifest(t, "target INBOX", got, sortedCopy(withForeign))

	events, err := e.db.Events(ctx, final.ID)
	if err != nil {
		t.Fatal(err)
	}
	var removed, kept []string
	for _, ev := range events {
		switch ev.Kind {
		case "duplicates-removed":
			removed = append(removed, ev.Message)
		case "foreign-on-target":
			kept = append(kept, ev.Message)
		}
	}
	if len(removed) != 2 || !strings.Contains(removed[0], "removed 3 duplicate") || !strings.Contains(removed[1], "removed 1 duplicate") {
		t.Errorf("duplicates-removed events = %q, want 3 removed before the cut-over and 1 after", removed)
	}
	if len(kept) != 1 || !strings.Contains(kept[0], "1 messages on the target that this move did not copy") {
		t.Errorf("foreign-on-target events = %q, want one naming the kept message", kept)
	}
}

func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// TestStopWaitsForAppendAnswers stops a move while the target is still
// executing an APPEND it received (as a busy Dovecot does after the client
// stopped). The stop must wait for the answers to what was sent and record
// them: afterwards every message on the target is a recorded copy, so a
// resumed run has nothing to guess about.
func TestStopWaitsForAppendAnswers(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 40; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i))
	}
	e.seed(t, "alice", msgs)

	blocked, release := make(chan struct{}), make(chan struct{})
	var n int
	var mu sync.Mutex
	e.dst.Faults().RefuseAppend(func(string, int64, []imap.Flag) *imap.Error {
		mu.Lock()
		n++
		first := n == 5
		mu.Unlock()
		if first {
			close(blocked)
			<-release
		}
		return nil
	})
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	stopCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := (&migrate.Runner{Mover: e.mover(), DB: e.db}).RunJobs(stopCtx, j.ID)
		done <- err
	}()
	<-blocked
	stop()
	// Give a client that closes at once (the defect) the time to do so
	// before the server finishes the APPEND; not a speed assertion.
	time.Sleep(100 * time.Millisecond)
	close(release)
	if err := <-done; err == nil {
		t.Fatal("RunJobs() = nil, want the stop")
	}

	moves, err := e.db.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	folders, err := e.db.Folders(ctx, moves[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	inbox := folders[slices.IndexFunc(folders, func(f db.Folder) bool { return f.Source == "INBOX" })]
	copies, err := e.db.Copies(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[imap.UID]bool{}
	for _, c := range copies {
		if c.State == db.CopyDone {
			recorded[imap.UID(c.TargetUID)] = true
		}
	}
	onTarget, err := e.dst.Messages("alice", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(onTarget) < 5 {
		t.Fatalf("target holds %d messages, want at least the 5 sent before the stop", len(onTarget))
	}
	for _, m := range onTarget {
		if !recorded[m.UID] {
			t.Errorf("target UID %d is not a recorded copy after the stop (%d on the target, %d recorded)", m.UID, len(onTarget), len(recorded))
		}
	}
}
