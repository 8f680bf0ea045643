package migrate_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
)

// TestSourceFolderDeletedDuringMove: the user deletes a folder on the
// source after the hierarchy was planned and before its copy. The copy's
// EXAMINE fails (its pipelined search and the target's STATUS go out with
// it), the move says which folder vanished and moves the rest: every other
// folder ends on the target exactly, and the source is emptied.
func TestSourceFolderDeletedDuringMove(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 5; i++ {
		msgs = append(msgs, msg("INBOX", "in", i), msg("Later", "later", i))
	}
	for i := 0; i < 4; i++ {
		msgs = append(msgs, msg("Old", "old", i))
	}
	e.seed(t, "alice", msgs)
	want := map[string][]string{}
	for _, f := range []string{"INBOX", "Later"} {
		want[f] = manifest(t, e.src, "alice", f)
	}
	var once sync.Once
	mv := e.mover()
	mv.Crash = func(point string) {
		if point != "hierarchy-done" {
			return
		}
		once.Do(func() {
			c, err := imapclient.DialInsecure(e.cfg.Servers[0].Address, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.Login("alice", "pw-alice").Wait(); err != nil {
				t.Error(err)
				return
			}
			if err := c.Delete("Old").Wait(); err != nil {
				t.Errorf("delete Old on the source: %v", err)
			}
		})
	}
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	m := runWith(t, e, mv, j.ID)
	if m.State != model.MoveDone {
		t.Fatalf("move = %s (%s), want done", m.State, m.Error)
	}
	for f, w := range want {
		equalManifest(t, "target "+f, manifest(t, e.dst, "alice", f), w)
	}
	left, err := e.src.Mailboxes("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Name != "INBOX" || len(manifest(t, e.src, "alice", "INBOX")) != 0 {
		t.Errorf("source after the move = %+v, want only an empty INBOX", left)
	}
	if got := manifest(t, e.dst, "alice", "Old"); len(got) != 0 {
		t.Errorf("target Old holds %d messages, want none (it vanished before its copy)", len(got))
	}
	if m.MsgsDone != 10 {
		t.Errorf("MsgsDone = %d, want 10", m.MsgsDone)
	}
	events, err := e.db.Events(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	vanished := false
	for _, ev := range events {
		if ev.Kind == "folder-vanished" && strings.HasPrefix(ev.Message, "Old:") {
			vanished = true
		}
	}
	if !vanished {
		t.Errorf("no folder-vanished event for Old in %+v", events)
	}
}

// TestSourceRefusesExamine: a source that refuses to EXAMINE a folder it
// still lists has not lost it. Throttling (NO [UNAVAILABLE]) is waited out
// and the folder is copied; any other refusal fails the move before the
// cut-over, with the source untouched. Neither says the folder vanished.
func TestSourceRefusesExamine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  imap.ResponseCode
		times int
		want  model.MoveState
	}{
		{"throttled once", imap.ResponseCodeUnavailable, 1, model.MoveDone},
		{"refused", imap.ResponseCodeServerBug, 1000, model.MoveFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := inboxAndLater(t)
			before := map[string][]string{"INBOX": manifest(t, e.src, "alice", "INBOX"), "Later": manifest(t, e.src, "alice", "Later")}
			mv := e.mover()
			mv.Crash = func(point string) {
				if point == "hierarchy-done" {
					e.src.Faults().FailSelect("alice", "Later", tc.times, tc.code, "not now")
				}
			}
			m := moveWithFault(t, e, mv)
			if m.State != tc.want {
				t.Fatalf("move = %s (%s), want %s", m.State, m.Error, tc.want)
			}
			events, err := e.db.Events(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range events {
				if ev.Kind == "folder-vanished" {
					t.Errorf("event %s %q: the folder is still listed", ev.Kind, ev.Message)
				}
			}
			if tc.want == model.MoveDone {
				equalManifest(t, "target Later", manifest(t, e.dst, "alice", "Later"), before["Later"])
				return
			}
			t.Logf("move failed: %s", m.Error)
			if !strings.Contains(m.Error, `"Later"`) {
				t.Errorf("error %q does not name the folder", m.Error)
			}
			// A failed move keeps its partial copy on the target for the
			// admin; the source and the directory are as before.
			for f, w := range before {
				equalManifest(t, "source "+f, manifest(t, e.src, "alice", f), w)
			}
			if n := e.dir.Updates("uid=alice,ou=people,dc=example,dc=org"); n != 0 || !m.DirectoryUpdated.IsZero() {
				t.Errorf("directory updates = %d (at %v), want none", n, m.DirectoryUpdated)
			}
		})
	}
}

// TestSourceRefusesRemoval: after the cut-over, a source that refuses to
// SELECT a folder it still lists keeps that folder's mail: throttling is
// waited out and the folder removed; any other refusal leaves its messages
// on the source, named in a folder-kept event, and the move ends done.
func TestSourceRefusesRemoval(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    imap.ResponseCode
		times   int
		removed bool
	}{
		{"throttled once", imap.ResponseCodeUnavailable, 1, true},
		{"refused", imap.ResponseCodeServerBug, 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := inboxAndLater(t)
			later := manifest(t, e.src, "alice", "Later")
			mv := e.mover()
			verified := 0
			mv.Crash = func(point string) {
				// The second verification is the delta pass's; the removal
				// comes next.
				if point == "verified" {
					if verified++; verified == 2 {
						e.src.Faults().FailSelect("alice", "Later", tc.times, tc.code, "not now")
					}
				}
			}
			m := moveWithFault(t, e, mv)
			if m.State != model.MoveDone || verified < 2 {
				t.Fatalf("move = %s (%s) after %d verifications, want done after 2", m.State, m.Error, verified)
			}
			equalManifest(t, "target Later", manifest(t, e.dst, "alice", "Later"), later)
			boxes, err := e.src.Mailboxes("alice")
			if err != nil {
				t.Fatal(err)
			}
			kept := slices.ContainsFunc(boxes, func(b imapmem.MailboxInfo) bool { return b.Name == "Later" })
			events, err := e.db.Events(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			told := slices.ContainsFunc(events, func(ev model.Event) bool {
				return ev.Kind == "folder-kept" && strings.HasPrefix(ev.Message, "Later:")
			})
			if tc.removed {
				if kept || told {
					t.Errorf("source Later kept = %v, folder-kept event = %v; want it removed", kept, told)
				}
				return
			}
			if !kept || !told {
				t.Fatalf("source Later kept = %v, folder-kept event = %v; want both", kept, told)
			}
			equalManifest(t, "source Later", manifest(t, e.src, "alice", "Later"), later)
		})
	}
}

// inboxAndLater is alice with five messages in INBOX and five in Later.
func inboxAndLater(t *testing.T) *memEnv {
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 5; i++ {
		msgs = append(msgs, msg("INBOX", "in", i), msg("Later", "later", i))
	}
	e.seed(t, "alice", msgs)
	return e
}

// moveWithFault moves alice with mv, whose hooks set a FailSelect fault on
// Later, and clears the fault afterwards.
func moveWithFault(t *testing.T, e *memEnv, mv *migrate.Mover) model.Move {
	t.Helper()
	j, err := e.db.CreateJob(context.Background(), model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	m := runWith(t, e, mv, j.ID)
	e.src.Faults().FailSelect("alice", "Later", 0, "", "")
	return m
}
