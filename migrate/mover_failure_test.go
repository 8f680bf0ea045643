package migrate_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// TestFailedMoveSaysWhyInWords: a move that fails because a server cannot
// be reached records (and shows in its history) a sentence for people, not
// Go's transport text; the log keeps the raw error.
func TestFailedMoveSaysWhyInWords(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	e.seed(t, "alice", []seedMsg{msg("INBOX", "hello", 1)})
	e.dst.Close() // the target refuses every connection
	var logBuf bytes.Buffer
	mv := e.mover()
	mv.Patience = time.Second
	mv.Log = slog.New(slog.NewTextHandler(&logBuf, nil))
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	m := runWith(t, e, mv, j.ID)
	if m.State != model.MoveFailed {
		t.Fatalf("move state = %s (%s), want failed", m.State, m.Error)
	}
	const want = "Gave up after 1s of lost connections to the mail servers; the last failure: "
	if !strings.HasPrefix(m.Error, want) || !strings.Contains(m.Error, "cannot connect: connection refused") {
		t.Errorf("move error = %q, want %q... cannot connect: connection refused", m.Error, want)
	}
	for _, noise := range []string{"dial tcp", "connect: connection"} {
		if strings.Contains(m.Error, noise) && !strings.Contains(m.Error, "cannot "+noise) {
			t.Errorf("move error = %q, contains Go's %q", m.Error, noise)
		}
	}
	events, err := e.db.Events(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Kind != "failed" || last.Message != m.Error {
		t.Errorf("last event = %s %q, want failed %q", last.Kind, last.Message, m.Error)
	}
	if log := logBuf.String(); !strings.Contains(log, "move failed") || !strings.Contains(log, "dial tcp") {
		t.Errorf("log = %q, want the raw error (dial tcp ...) with \"move failed\"", log)
	}
}

// closingDirectory closes the job store when asked for a user, and has no
// such user: the failure that follows cannot be checked against a cancel
// request.
type closingDirectory struct {
	directory.Directory
	close func()
}

func (d closingDirectory) Lookup(ctx context.Context, uid string) (directory.User, error) {
	d.close()
	return directory.User{}, fmt.Errorf("%s: %w", uid, directory.ErrNotFound)
}

// TestCancelUnknownStopsMove: when the store cannot say whether the move
// was cancelled, the move is neither failed nor cancelled: Run stops with a
// job store error and the move stays as last committed.
func TestCancelUnknownStopsMove(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	moves, err := e.db.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	store := e.db
	mv := e.mover()
	mv.Dir = closingDirectory{Directory: e.dir, close: func() { store.Close() }}
	_, err = mv.Run(ctx, j, moves[0])
	if err == nil || !db.IsStoreError(err) || !strings.Contains(err.Error(), "cancel request") {
		t.Fatalf("Run() with a store that fails on the cancel check = %v, want a job store error about the cancel request", err)
	}
	reopened, err := db.Open(ctx, e.cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	m, err := reopened.Move(ctx, moves[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != model.MoveRunning || m.Error != "" {
		t.Errorf("move after the stop = %s (%q), want running with no error (resumable)", m.State, m.Error)
	}
}
