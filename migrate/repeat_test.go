package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
)

// seedRepeat fills alice's source with two folders with mail (one message
// of Archive unreadable) and one without, and returns the messages and
// bytes seeded.
func seedRepeat(t *testing.T, e *memEnv) (msgs, bytes int64) {
	t.Helper()
	var seed []seedMsg
	for i := 0; i < 6; i++ {
		seed = append(seed, msg("INBOX", "hello", i))
	}
	for i := 0; i < 4; i++ {
		seed = append(seed, msg("Archive", "old", i))
	}
	uids := e.seed(t, "alice", seed)
	// One message cannot be read: a skipped item under model.PolicySkip.
	e.src.Faults().FailFetch("alice", "Archive", uids["Archive"][2], -1)
	if err := e.src.CreateMailbox("alice", "Empty", ""); err != nil {
		t.Fatal(err)
	}
	for _, m := range seed {
		msgs++
		bytes += int64(len(m.body))
	}
	return msgs, bytes
}

func examined(c imapmem.MailboxCounts) int { return c.Selects + c.Examines }

// leftOn counts the messages a folder still holds (0 when it was removed).
func leftOn(t *testing.T, s *imapmem.Server, user, folder string) int {
	t.Helper()
	msgs, err := s.Messages(user, folder)
	if errors.Is(err, imapmem.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// TestRemovalSelectsEachFolderOnce: removing the source content SELECTs
// each folder once (its UIDVALIDITY check and the UID EXPUNGE share it).
// Nothing else of a move SELECTs the source read-write.
func TestRemovalSelectsEachFolderOnce(t *testing.T) {
	e := newMemEnv(t, '/', '/', "alice")
	seedRepeat(t, e)
	m := e.move(t, context.Background(), "alice", model.Job{Policy: model.PolicySkip, MaxBad: 1})
	if m.State != model.MoveDone {
		t.Fatalf("move = %s (%s), want done", m.State, m.Error)
	}
	counts := e.src.Faults().MailboxCounts("alice")
	for _, f := range []string{"INBOX", "Archive", "Empty"} {
		if got := counts[f].Selects; got != 1 {
			t.Errorf("source %q: %d SELECTs, want 1", f, got)
		}
	}
	if n := leftOn(t, e.src, "alice", "INBOX"); n != 0 {
		t.Errorf("source INBOX still holds %d messages", n)
	}
	if n := leftOn(t, e.src, "alice", "Archive"); n != 1 {
		t.Errorf("source Archive holds %d messages, want the unreadable one", n)
	}
}
