package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
)

// faultCorpus seeds alice with INBOX (20 messages, one 300 KB) and an
// Archive folder, and returns the source UIDs per folder.
func faultCorpus(t *testing.T, e *memEnv) map[string][]imap.UID {
	t.Helper()
	var msgs []seedMsg
	for i := 0; i < 20; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i, imap.FlagSeen))
	}
	big := msg("INBOX", "big", 99)
	big.body = bigBody(300 << 10)
	msgs = append(msgs, big)
	for i := 0; i < 5; i++ {
		msgs = append(msgs, msg("Archive", "old", i, "$Label1"))
	}
	return e.seed(t, "alice", msgs)
}

func sourceManifests(t *testing.T, e *memEnv) map[string][]string {
	return map[string][]string{"INBOX": manifest(t, e.src, "alice", "INBOX"), "Archive": manifest(t, e.src, "alice", "Archive")}
}

func assertTargetEquals(t *testing.T, e *memEnv, want map[string][]string) {
	t.Helper()
	for folder, w := range want {
		equalManifest(t, "target "+folder, manifest(t, e.dst, "alice", folder), w)
	}
}

// assertUntouched checks the promise of an abandoned or cancelled move:
// source and directory as before, nothing of ours left on the target.
func assertUntouched(t *testing.T, e *memEnv, before map[string][]string) {
	t.Helper()
	for folder, w := range before {
		equalManifest(t, "source "+folder, manifest(t, e.src, "alice", folder), w)
	}
	if n := e.dir.Updates("uid=alice,ou=people,dc=example,dc=org"); n != 0 {
		t.Errorf("directory updates = %d, want 0", n)
	}
	boxes, err := e.dst.Mailboxes("alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range boxes {
		if b.Messages != 0 {
			t.Errorf("target %q has %d messages after cleanup", b.Name, b.Messages)
		}
		if b.Name == "Archive" {
			t.Errorf("target still has folder %q created by the move", b.Name)
		}
	}
}

func TestFetchFailsOnceIsRetried(t *testing.T) {
	e := newMemEnv(t, '/', '/', "alice")
	uids := faultCorpus(t, e)
	want := sourceManifests(t, e)
	e.src.Faults().FailFetch("alice", "INBOX", uids["INBOX"][3], 1)
	before := e.src.Faults().Counts().FetchBodies
	m := e.move(t, context.Background(), "alice", model.Job{})
	if m.State != model.MoveDone || m.Skipped != 0 {
		t.Fatalf("move = %s, %d skipped (%s), want done, 0 skipped", m.State, m.Skipped, m.Error)
	}
	assertTargetEquals(t, e, want)
	if got := e.src.Faults().Counts().FetchBodies - before; got < 27 {
		t.Errorf("body fetches = %d, want at least 26 messages + 1 retry", got)
	}
}

func TestUnreadableItemSkipped(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	uids := faultCorpus(t, e)
	bad := uids["INBOX"][5]
	e.src.Faults().FailFetch("alice", "INBOX", bad, -1)
	m := e.move(t, ctx, "alice", model.Job{Policy: model.PolicySkip, MaxBad: 3})
	if m.State != model.MoveDone || m.Skipped != 1 {
		t.Fatalf("move = %s, %d skipped (%s), want done with 1 skipped", m.State, m.Skipped, m.Error)
	}
	items, err := e.db.Skipped(ctx, m.ID)
	if err != nil || len(items) != 1 {
		t.Fatalf("Skipped() = %v, %v; want one item", items, err)
	}
	it := items[0]
	if it.Folder != "INBOX" || it.UID != uint32(bad) || it.MessageID != "hello-5@example.org" ||
		it.Subject != "hello 5" || it.Size == 0 || !strings.Contains(it.Error, "read failed twice") {
		t.Errorf("skipped item = %+v", it)
	}
	// The unreadable message stays on the source; everything else moved.
	left, _ := e.src.Messages("alice", "INBOX")
	if len(left) != 1 || left[0].UID != bad {
		t.Errorf("source INBOX after move = %d messages, want only uid %d", len(left), bad)
	}
	if got := len(manifest(t, e.dst, "alice", "INBOX")); got != 20 {
		t.Errorf("target INBOX = %d messages, want 20", got)
	}
}

func TestUnreadableItemAbandons(t *testing.T) {
	for _, tc := range []struct {
		name  string
		job   model.Job
		fails int
	}{
		{"abandon policy", model.Job{Policy: model.PolicyAbandon}, 1},
		{"skip policy over its maximum", model.Job{Policy: model.PolicySkip, MaxBad: 2}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMemEnv(t, '/', '/', "alice")
			uids := faultCorpus(t, e)
			before := sourceManifests(t, e)
			for i := 0; i < tc.fails; i++ {
				e.src.Faults().FailFetch("alice", "Archive", uids["Archive"][i], -1)
			}
			m := e.move(t, context.Background(), "alice", tc.job)
			if m.State != model.MoveAbandoned {
				t.Fatalf("move = %s (%s), want abandoned", m.State, m.Error)
			}
			if !strings.Contains(m.Error, "Archive") {
				t.Errorf("reason %q does not name the folder", m.Error)
			}
			assertUntouched(t, e, before)
		})
	}
}

func TestConnectionCutInsideLiteral(t *testing.T) {
	e := newMemEnv(t, '/', '/', "alice")
	uids := faultCorpus(t, e)
	want := sourceManifests(t, e)
	// The 300 KB message: cut 100 KB into its literal, twice.
	e.src.Faults().CutFetch("alice", "INBOX", uids["INBOX"][20], 100<<10, 2)
	m := e.move(t, context.Background(), "alice", model.Job{})
	if m.State != model.MoveDone || m.Skipped != 0 {
		t.Fatalf("move = %s, %d skipped (%s), want done", m.State, m.Skipped, m.Error)
	}
	// Exactly the source messages: no short copy, no duplicate.
	assertTargetEquals(t, e, want)
}

func TestSilentServerCancelled(t *testing.T) {
	e := newMemEnv(t, '/', '/', "alice")
	faultCorpus(t, e)
	e.dst.Faults().Hang("alice")
	defer e.dst.Faults().Unhang()
	ctx, cancel := context.WithCancel(context.Background())
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := (&migrate.Runner{Mover: e.mover(), DB: e.db}).RunJobs(ctx, j.ID)
		done <- err
	}()
	for e.dst.Faults().Waiting() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunJobs() = %v, want context.Canceled", err)
	}
	m, err := e.db.Moves(context.Background(), j.ID)
	if err != nil || m[0].State != model.MoveRunning {
		t.Fatalf("move after cancel = %+v, %v; want still running (resumable)", m, err)
	}
}

func TestTargetRefusesOneMessage(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	faultCorpus(t, e)
	// Refuse the big message, as a server with a 200 KB limit would.
	e.dst.Faults().RefuseAppend(func(mailbox string, size int64, flags []imap.Flag) *imap.Error {
		if size > 200<<10 {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "message too big"}
		}
		return nil
	})
	m := e.move(t, ctx, "alice", model.Job{Policy: model.PolicySkip, MaxBad: 1})
	if m.State != model.MoveDone || m.Skipped != 1 {
		t.Fatalf("move = %s, %d skipped (%s), want done with 1 skipped", m.State, m.Skipped, m.Error)
	}
	items, _ := e.db.Skipped(ctx, m.ID)
	if len(items) != 1 || !strings.Contains(items[0].Error, "target refused") || !strings.Contains(items[0].Error, "too big") {
		t.Errorf("skipped = %+v, want the target's refusal", items)
	}
}

func TestTargetOverQuota(t *testing.T) {
	e := newMemEnv(t, '/', '/', "alice")
	faultCorpus(t, e)
	before := sourceManifests(t, e)
	if err := e.dst.SetQuota("alice", 100<<10); err != nil {
		t.Fatal(err)
	}
	m := e.move(t, context.Background(), "alice", model.Job{Policy: model.PolicySkip, MaxBad: 100})
	if m.State != model.MoveAbandoned || !strings.Contains(m.Error, "quota") {
		t.Fatalf("move = %s (%s), want abandoned for quota", m.State, m.Error)
	}
	if n := e.dst.Faults().Counts().Appends; n != 0 {
		t.Errorf("appends = %d, want none: the quota is checked before copying", n)
	}
	assertUntouched(t, e, before)
}

func TestThrottledLoginRetried(t *testing.T) {
	e := newMemEnv(t, '/', '/', "alice")
	faultCorpus(t, e)
	want := sourceManifests(t, e)
	e.dst.Faults().FailLogin("alice", 2, imap.ResponseCodeUnavailable, "too many connections, try later")
	mv := e.mover()
	mv.Patience = time.Minute
	j, err := e.db.CreateJob(context.Background(), model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	var sawRetry bool
	mv.Progress = func(m model.Move) {
		if strings.Contains(m.Error, "throttling") {
			sawRetry = true
		}
	}
	moves, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(context.Background(), j.ID)
	if err != nil || moves[0].State != model.MoveDone {
		t.Fatalf("RunJobs() = %+v, %v; want done", moves, err)
	}
	if !sawRetry {
		t.Error("no progress said the server was throttling")
	}
	assertTargetEquals(t, e, want)
}

func TestCancelledMoveCleansTarget(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	faultCorpus(t, e)
	before := sourceManifests(t, e)
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	mv := e.mover()
	mv.ChunkSize = 5
	cancelled := false
	mv.Progress = func(m model.Move) {
		if m.MsgsDone >= 10 && !cancelled {
			cancelled = true
			if err := e.db.RequestCancel(ctx, m.ID, "tester"); err != nil {
				t.Error(err)
			}
		}
	}
	moves, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(ctx, j.ID)
	if err != nil || moves[0].State != model.MoveCancelled {
		t.Fatalf("RunJobs() = %+v, %v; want cancelled", moves, err)
	}
	assertUntouched(t, e, before)
}
