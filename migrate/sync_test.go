package migrate_test

import (
	"context"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/migrate/model"
)

// TestUserChangesDuringMove: while the copy runs, the user reads, flags and
// deletes mail on the source. The target must end as the source is at the
// cut-over, not as it was when each message was copied.
func TestUserChangesDuringMove(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 10; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i, imap.FlagSeen))
	}
	uids := e.seed(t, "alice", msgs)["INBOX"]
	done := false
	mv := e.mover()
	mv.Progress = func(m model.Move) {
		if m.Phase != model.PhaseVerify || done {
			return
		}
		done = true // everything is copied; now the user acts on the source
		c, err := imapclient.DialInsecure(e.cfg.Servers[0].Address, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		must := func(err error) {
			if err != nil {
				t.Error(err)
			}
		}
		must(c.Login("alice", "pw-alice").Wait())
		_, err = c.Select("INBOX", nil).Wait()
		must(err)
		must(c.Store(imap.UIDSetNum(uids[0]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{imap.FlagFlagged, imap.FlagAnswered, "$Forwarded"}}, nil).Close())
		must(c.Store(imap.UIDSetNum(uids[1]), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true,
			Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())
		must(c.Store(imap.UIDSetNum(uids[2]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
		must(c.UIDExpunge(imap.UIDSetNum(uids[2])).Close())
	}
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test", KeepSource: true}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	m := runWith(t, e, mv, j.ID)
	if m.State != model.MoveDone || !done {
		t.Fatalf("move = %s (%s), user acted %v; want done", m.State, m.Error, done)
	}
	equalManifest(t, "target INBOX", manifest(t, e.dst, "alice", "INBOX"), manifest(t, e.src, "alice", "INBOX"))
	if m.MsgsDone != 9 {
		t.Errorf("MsgsDone = %d, want 9 (one deleted on the source)", m.MsgsDone)
	}
}
