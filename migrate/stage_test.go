package migrate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// stageClient logs in to addr as user, as the user's mail client would, and
// hands the client to fn.
func stageClient(t *testing.T, addr, user string, fn func(c *imapclient.Client)) {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, "pw-"+user).Wait(); err != nil {
		t.Fatal(err)
	}
	fn(c)
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}

// stageStore changes the flags of the message of folder whose subject is
// subject (UID SEARCH by subject).
func stageStore(t *testing.T, c *imapclient.Client, folder, subject string, op imap.StoreFlagsOp, flags ...imap.Flag) {
	t.Helper()
	uid := stageFind(t, c, folder, subject)
	if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
		t.Fatalf("store %s on %q: %v", flags, subject, err)
	}
}

func stageDelete(t *testing.T, c *imapclient.Client, folder, subject string) {
	t.Helper()
	uid := stageFind(t, c, folder, subject)
	if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
		t.Fatal(err)
	}
}

func stageFind(t *testing.T, c *imapclient.Client, folder, subject string) imap.UID {
	t.Helper()
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatalf("select %q: %v", folder, err)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	uids := res.AllUIDs()
	if len(uids) != 1 {
		t.Fatalf("%d messages with subject %q in %q, want 1", len(uids), subject, folder)
	}
	return uids[0]
}

// stageFlags returns subject -> flags of a folder on s.
func stageFlags(t *testing.T, e *memEnv, target bool, folder string) map[string]string {
	t.Helper()
	s := e.src
	if target {
		s = e.dst
	}
	out := map[string]string{}
	for _, m := range testenv.Messages(t, testenv.Mem(s, "alice"), folder) {
		subject := ""
		for _, line := range strings.Split(string(m.Body), "\r\n") {
			if v, ok := strings.CutPrefix(line, "Subject: "); ok {
				subject = v
				break
			}
		}
		var fs []string
		for _, f := range m.Flags {
			if !strings.EqualFold(string(f), `\Recent`) {
				fs = append(fs, strings.ToLower(string(f)))
			}
		}
		slices.Sort(fs)
		out[subject] = strings.Join(fs, " ")
	}
	return out
}

// TestStagedMove: a staged job copies the mailbox and waits, synced, with
// the directory and the source untouched; a resync carries new mail, new
// folders, flags and deletions made on the source; completion switches the
// directory, and its final delta carries what the user did on the source
// in the seconds around the switch (mail delivered, flags changed, mail
// deleted) without undoing what they did on the target meanwhile.
func TestStagedMove(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 8; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i, imap.FlagSeen))
	}
	e.seed(t, "alice", msgs)
	var offset atomic.Int64 // the clock, moved forward to make a resync due
	mv := e.mover()
	mv.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e.cfg.ResyncInterval = time.Hour
	e.cfg.Directory.PropagationDelay = 0
	job, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test", Stage: true},
		[]string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	run := func() model.Move {
		t.Helper()
		moves, err := (&migrate.Runner{Mover: mv, DB: e.db, Poll: 20 * time.Millisecond}).RunJobs(ctx, job.ID)
		if err != nil {
			t.Fatalf("RunJobs() = %v", err)
		}
		return moves[0]
	}
	home := func() string {
		t.Helper()
		u, err := e.dir.Lookup(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.Home
	}

	// The first sync: everything copied, nothing else touched.
	m := run()
	if m.State != model.MoveSynced || m.Syncs != 1 || m.LastSyncAt.IsZero() || !m.DirectoryUpdated.IsZero() {
		t.Fatalf("staged move after RunJobs = %s, %d syncs, last %v, directory %v; want synced once, directory untouched",
			m.State, m.Syncs, m.LastSyncAt, m.DirectoryUpdated)
	}
	if home() != testenv.SrcHome {
		t.Fatalf("home = %q after the sync, want the source's", home())
	}
	equalManifest(t, "target INBOX after the first sync", manifest(t, e.dst, "alice", "INBOX"), manifest(t, e.src, "alice", "INBOX"))
	if n := len(manifest(t, e.src, "alice", "INBOX")); n != 8 {
		t.Fatalf("source INBOX holds %d messages after the sync, want 8", n)
	}
	// Not due: a second run starts nothing.
	if m = run(); m.Syncs != 1 || m.State != model.MoveSynced {
		t.Fatalf("run before the resync interval = %s with %d syncs, want it left alone", m.State, m.Syncs)
	}

	// The user works on the source; an hour later the move syncs again.
	srcAddr, dstAddr := e.cfg.Servers[0].Address, e.cfg.Servers[1].Address
	stageClient(t, srcAddr, "alice", func(c *imapclient.Client) {
		testenv.Append(t, c, msg("INBOX", "new mail", 20).msg())
		if err := c.Create("Projects", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		testenv.Append(t, c, msg("Projects", "plan", 21).msg())
		stageStore(t, c, "INBOX", "hello 0", imap.StoreFlagsAdd, imap.FlagFlagged)
		stageDelete(t, c, "INBOX", "hello 1")
	})
	offset.Store(int64(2 * time.Hour))
	m = run()
	if m.State != model.MoveSynced || m.Syncs != 2 {
		t.Fatalf("after the resync interval the move is %s with %d syncs, want synced twice", m.State, m.Syncs)
	}
	for _, f := range []string{"INBOX", "Projects"} {
		equalManifest(t, "target "+f+" after the resync", manifest(t, e.dst, "alice", f), manifest(t, e.src, "alice", f))
	}

	// Completion. In the seconds after the directory update (the mover's
	// "cutover" point) the user's old session still acts on the source,
	// and their new one on the target.
	acted := false
	mv.Crash = func(point string) {
		if point != "cutover" || acted {
			return
		}
		acted = true
		stageClient(t, srcAddr, "alice", func(c *imapclient.Client) {
			testenv.Append(t, c, msg("INBOX", "late mail", 30).msg())
			stageStore(t, c, "INBOX", "hello 2", imap.StoreFlagsAdd, imap.FlagAnswered) // source only: carried
			stageStore(t, c, "INBOX", "hello 3", imap.StoreFlagsAdd, imap.FlagFlagged)  // both: the target's wins
			stageDelete(t, c, "INBOX", "hello 4")                                       // source only: carried
			stageDelete(t, c, "INBOX", "hello 5")                                       // changed on the target: kept
		})
		stageClient(t, dstAddr, "alice", func(c *imapclient.Client) {
			stageStore(t, c, "INBOX", "hello 3", imap.StoreFlagsDel, imap.FlagSeen)
			stageStore(t, c, "INBOX", "hello 5", imap.StoreFlagsAdd, "$Important")
			stageStore(t, c, "INBOX", "hello 6", imap.StoreFlagsAdd, imap.FlagFlagged) // target only: kept
		})
	}
	if _, err := e.db.CompleteJob(ctx, job.ID, "admin"); err != nil {
		t.Fatalf("CompleteJob() = %v", err)
	}
	m = run()
	if m.State != model.MoveDone || !acted {
		t.Fatalf("completed move = %s (%s), user acted %v; want done", m.State, m.Error, acted)
	}
	if home() != testenv.DstHome {
		t.Errorf("home = %q after completion, want the target's", home())
	}
	if m.CutoverWindow() <= 0 {
		t.Errorf("cut-over window = %v, want it measured", m.CutoverWindow())
	}
	got := stageFlags(t, e, true, "INBOX")
	want := map[string]string{
		"hello 0":      `\flagged \seen`,
		"hello 2":      `\answered \seen`,
		"hello 3":      "",                 // the target's change stands over the source's
		"hello 5":      `$important \seen`, // deleted on the source, but changed on the target
		"hello 6":      `\flagged \seen`,
		"hello 7":      `\seen`,
		"new mail 20":  "",
		"late mail 30": "",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("target INBOX after completion = %v\nwant %v", got, want)
	}
	if got := stageFlags(t, e, true, "Projects"); fmt.Sprint(got) != fmt.Sprint(map[string]string{"plan 21": ""}) {
		t.Errorf("target Projects = %v", got)
	}
	if left := stageFlags(t, e, false, "INBOX"); len(left) != 0 {
		t.Errorf("source INBOX after completion holds %v, want it emptied", left)
	}
	events, err := e.db.Events(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range events {
		kinds = append(kinds, ev.Kind)
	}
	for _, k := range []string{"synced", "complete", "cutover", "flags-conflict", "deleted-on-source-kept", "cutover-window", "done"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("events %v lack %q", kinds, k)
		}
	}
}

// TestStagedMoveCancel: cancelling a move waiting to complete removes its
// copy from the target and leaves the source and the directory as they
// were.
func TestStagedMoveCancel(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 5; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i))
	}
	e.seed(t, "alice", msgs)
	before := manifest(t, e.src, "alice", "INBOX")
	m := e.move(t, ctx, "alice", model.Job{Stage: true})
	if m.State != model.MoveSynced {
		t.Fatalf("staged move = %s (%s), want synced", m.State, m.Error)
	}
	if n := len(manifest(t, e.dst, "alice", "INBOX")); n != 5 {
		t.Fatalf("target INBOX holds %d messages when synced, want 5", n)
	}
	if _, err := e.db.CancelMove(ctx, m.ID, "admin"); err != nil {
		t.Fatalf("CancelMove() of a synced move = %v", err)
	}
	if m = e.runJob(t, ctx, m.JobID); m.State != model.MoveCancelled {
		t.Fatalf("cancelled synced move = %s (%s), want cancelled", m.State, m.Error)
	}
	if n := len(manifest(t, e.dst, "alice", "INBOX")); n != 0 {
		t.Errorf("target INBOX holds %d messages after the cancel, want the copy removed", n)
	}
	equalManifest(t, "source INBOX after the cancel", manifest(t, e.src, "alice", "INBOX"), before)
	if u, err := e.dir.Lookup(ctx, "alice"); err != nil || u.Home != testenv.SrcHome {
		t.Errorf("home after the cancel = %q, %v; want the source's", u.Home, err)
	}
	j, err := e.db.Job(ctx, m.JobID)
	if err != nil || j.State != model.JobFailed {
		t.Errorf("job after its only move was cancelled = %s, %v; want failed (nothing moved)", j.State, err)
	}
	// A completion of a finished move, or of a move of a job that is not
	// staged, is refused.
	if _, err := e.db.RequestComplete(ctx, m.ID, "admin"); err == nil {
		t.Errorf("RequestComplete() of a cancelled move succeeded")
	}
	plain := e.move(t, ctx, "alice", model.Job{})
	if _, err := e.db.RequestComplete(ctx, plain.ID, "admin"); err == nil || !strings.Contains(err.Error(), "not a staged move") {
		t.Errorf("RequestComplete() of a plain move = %v, want 'not a staged move'", err)
	}
}

// TestUserDeletesOnTargetAfterSwitch: once the directory names the target,
// a message the user deletes there is not copied again by the delta pass's
// verification, and its source goes with the other verified sources.
func TestUserDeletesOnTargetAfterSwitch(t *testing.T) {
	for _, stage := range []bool{false, true} {
		t.Run(fmt.Sprintf("stage=%v", stage), func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t, '/', '/', "alice")
			var msgs []seedMsg
			for i := 0; i < 5; i++ {
				msgs = append(msgs, msg("INBOX", "hello", i))
			}
			e.seed(t, "alice", msgs)
			mv := e.mover()
			acted := false
			mv.Crash = func(point string) {
				if point != "cutover" || acted {
					return
				}
				acted = true
				stageClient(t, e.cfg.Servers[1].Address, "alice", func(c *imapclient.Client) {
					stageDelete(t, c, "INBOX", "hello 2")
				})
			}
			j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test", Stage: stage},
				[]string{"alice"})
			if err != nil {
				t.Fatal(err)
			}
			m := runWith(t, e, mv, j.ID)
			if stage {
				if _, err := e.db.CompleteJob(ctx, j.ID, "admin"); err != nil {
					t.Fatal(err)
				}
				m = runWith(t, e, mv, j.ID)
			}
			if m.State != model.MoveDone || !acted {
				t.Fatalf("move = %s (%s), user acted %v; want done", m.State, m.Error, acted)
			}
			got := stageFlags(t, e, true, "INBOX")
			if _, back := got["hello 2"]; back || len(got) != 4 {
				t.Errorf("target INBOX = %v, want the 4 messages the user kept", got)
			}
			if left := stageFlags(t, e, false, "INBOX"); len(left) != 0 {
				t.Errorf("source INBOX = %v, want it emptied", left)
			}
		})
	}
}
