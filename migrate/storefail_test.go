package migrate_test

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
)

// recordLog keeps the messages of a mover's log records.
type recordLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordLog) WithGroup(string) slog.Handler      { return l }

func (l *recordLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// TestStoreFailureStopsMove makes the job store fail in the middle of the
// copy, while APPENDs are in flight: the move must stop at once with a
// store error (no "connection lost" retries for Patience), leave the move
// as last committed, and a later run on a working store must finish it
// with every message on the target exactly once.
func TestStoreFailureStopsMove(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after is how many INBOX messages are copied before the failure.
		after int64
		// fail makes the store fail; repair undoes it and returns the
		// store to resume with.
		fail   func(t *testing.T, e *memEnv)
		repair func(t *testing.T, e *memEnv) *db.DB
	}{{
		// SQLite fails every write that records a copy as done, on every
		// connection of the pool (a trigger is part of the schema): the
		// 'sending' rows commit and the APPENDs go out, their answers
		// cannot be recorded.
		name:  "sqlite refuses writes",
		after: 0,
		fail: func(t *testing.T, e *memEnv) {
			execRaw(t, e.cfg.Database,
				`CREATE TRIGGER store_fails_insert BEFORE INSERT ON copies WHEN NEW.state = 'done'
					BEGIN SELECT RAISE(ABORT, 'injected store failure'); END`,
				`CREATE TRIGGER store_fails_update BEFORE UPDATE ON copies WHEN NEW.state = 'done'
					BEGIN SELECT RAISE(ABORT, 'injected store failure'); END`)
		},
		repair: func(t *testing.T, e *memEnv) *db.DB {
			execRaw(t, e.cfg.Database, `DROP TRIGGER store_fails_insert`, `DROP TRIGGER store_fails_update`)
			return e.db
		},
	}, {
		name:  "database closed",
		after: 10,
		fail: func(t *testing.T, e *memEnv) {
			if err := e.db.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		},
		repair: func(t *testing.T, e *memEnv) *db.DB {
			d, err := db.Open(context.Background(), e.cfg.Database)
			if err != nil {
				t.Fatal(err)
			}
			e.db = d // closed by newMemEnv's cleanup
			return d
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t, '/', '/', "alice")
			var msgs []seedMsg
			for i := 0; i < 120; i++ {
				msgs = append(msgs, msg("INBOX", "hello", i))
			}
			for i := 0; i < 30; i++ {
				msgs = append(msgs, msg("Archive", "old", i))
			}
			e.seed(t, "alice", msgs)
			want := map[string][]string{}
			for _, f := range []string{"INBOX", "Archive"} {
				want[f] = manifest(t, e.src, "alice", f)
			}
			j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
			if err != nil {
				t.Fatal(err)
			}
			moves, err := e.db.Moves(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}

			logs := &recordLog{}
			mv := e.mover()
			mv.Log = slog.New(logs)
			mv.Patience = time.Minute
			mv.ChunkSize = 10
			var once sync.Once
			failed, failedAt, inboxFrom := false, int64(0), int64(-1)
			mv.Progress = func(m model.Move) {
				// Published after a commit of confirmed copies, while
				// the rest of INBOX is being sent.
				if m.Phase != model.PhaseCopy || m.CurrentFolder != "INBOX" {
					return
				}
				if inboxFrom < 0 {
					inboxFrom = m.MsgsDone
				}
				if m.MsgsDone >= inboxFrom+tc.after {
					once.Do(func() { tc.fail(t, e); failed, failedAt = true, m.MsgsDone-inboxFrom })
				}
			}
			start := time.Now()
			got, err := mv.Run(ctx, j, moves[0])
			took := time.Since(start)
			if !failed {
				t.Fatal("the move never reached the point where the store fails")
			}
			if err == nil || !db.IsStoreError(err) || !strings.HasPrefix(err.Error(), "job store: ") {
				t.Fatalf("Run() = %s, %v; want a job store error", got.State, err)
			}
			t.Logf("store failed after %d copies of INBOX; Run() stopped after %v: %v", failedAt, took.Round(time.Millisecond), err)
			if n := logs.count("move retrying"); n != 0 {
				t.Errorf("the mover retried %d times after the store failed", n)
			}
			if n := logs.count("move stopped: the job store failed"); n != 1 {
				t.Errorf("%d \"job store failed\" log records, want 1 (log: %q)", n, logs.msgs)
			}
			if took > 30*time.Second {
				t.Errorf("Run() took %v to stop", took)
			}

			// The answers to APPENDs sent before the failure could not be
			// recorded: those copies are on the target, unconfirmed.
			if n := len(manifest(t, e.dst, "alice", "INBOX")); n == 0 {
				t.Errorf("target INBOX is empty: the store failed before any APPEND")
			}

			d := tc.repair(t, e)
			stored, err := d.Move(ctx, moves[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.State != model.MoveRunning || stored.Phase != model.PhaseCopy || stored.Error != "" {
				t.Errorf("stored move = %s/%s %q, want running/copy without an error: resumable as committed",
					stored.State, stored.Phase, stored.Error)
			}
			rn := &migrate.Runner{Mover: &migrate.Mover{Config: e.cfg, Dir: e.dir, DB: d, Patience: 3 * time.Second, ChunkSize: 10}, DB: d}
			final, err := rn.RunJobs(ctx, j.ID)
			if err != nil {
				t.Fatalf("RunJobs() after the repair = %v", err)
			}
			if final[0].State != model.MoveDone {
				t.Fatalf("resumed move = %s (%s), want done", final[0].State, final[0].Error)
			}
			for f, w := range want {
				equalManifest(t, "target "+f, manifest(t, e.dst, "alice", f), w)
			}
			if n := len(manifest(t, e.src, "alice", "INBOX")); n != 0 {
				t.Errorf("source INBOX still holds %d messages", n)
			}
			if final[0].MsgsDone != 150 || final[0].MsgsTotal != 150 {
				t.Errorf("MsgsDone/MsgsTotal = %d/%d, want 150/150", final[0].MsgsDone, final[0].MsgsTotal)
			}
		})
	}
}

// execRaw runs statements on a connection of its own to the job store.
func execRaw(t *testing.T, path string, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestRunnerStopsOnStoreFailure: through the runner, a move whose store
// fails is not started again at once (a full disk would loop): RunJobs, the
// command line's way in, ends with the store's error.
func TestRunnerStopsOnStoreFailure(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for i := 0; i < 40; i++ {
		msgs = append(msgs, msg("INBOX", "hello", i))
	}
	e.seed(t, "alice", msgs)
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	execRaw(t, e.cfg.Database,
		`CREATE TRIGGER store_fails_insert BEFORE INSERT ON copies WHEN NEW.state = 'done'
			BEGIN SELECT RAISE(ABORT, 'injected store failure'); END`,
		`CREATE TRIGGER store_fails_update BEFORE UPDATE ON copies WHEN NEW.state = 'done'
			BEGIN SELECT RAISE(ABORT, 'injected store failure'); END`)
	logs := &recordLog{}
	mv := e.mover()
	mv.Log = slog.New(logs)
	_, err = (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(ctx, j.ID)
	if err == nil || !db.IsStoreError(err) {
		t.Fatalf("RunJobs() with a failing store = %v, want the job store error", err)
	}
	if n := logs.count("move stopped: the job store failed"); n != 1 {
		t.Errorf("the move was started %d times, want once", n)
	}
}
