package migrate_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// copyGate observes how many moves are in the copy phase at once. Each
// move entering the phase waits until one more than `want` moves are in it,
// or a grace period passed: a runner that allows too many shows a higher
// maximum, one that allows too few a lower one, and neither hangs the test.
type copyGate struct {
	mu   sync.Mutex
	cond *sync.Cond
	in   map[int64]bool
	seen map[int64]bool
	max  int
	want int
}

func newCopyGate(want int) *copyGate {
	g := &copyGate{in: map[int64]bool{}, seen: map[int64]bool{}, want: want}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *copyGate) progress(m model.Move) {
	g.mu.Lock()
	defer g.mu.Unlock()
	copying := m.State == model.MoveRunning && m.Phase == model.PhaseCopy
	switch {
	case copying && !g.in[m.ID]:
		g.in[m.ID] = true
		g.max = max(g.max, len(g.in))
		g.cond.Broadcast()
		if g.seen[m.ID] {
			return
		}
		g.seen[m.ID] = true
		// Wait for the others, but never forever: a runner that allows
		// fewer must show up as a lower maximum, not as a hung test.
		deadline := time.Now().Add(time.Second)
		go func() { time.Sleep(time.Second); g.mu.Lock(); g.cond.Broadcast(); g.mu.Unlock() }()
		for len(g.in) <= g.want && time.Now().Before(deadline) {
			g.cond.Wait()
		}
	case !copying && g.in[m.ID]:
		delete(g.in, m.ID)
	}
}

func usersN(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("user%02d", i))
	}
	return out
}

func seedUsers(t *testing.T, e *memEnv, users []string, n int) {
	t.Helper()
	for _, u := range users {
		var msgs []seedMsg
		for i := 0; i < n; i++ {
			msgs = append(msgs, msg("INBOX", u, i, imap.FlagSeen))
		}
		e.seed(t, u, msgs)
	}
}

func TestRunnerParallelism(t *testing.T) {
	for _, tc := range []struct {
		name      string
		globalCap int
		serverCap int
		jobs      []int // parallelism of each job (6 users each, or 12 for one job)
		wantMax   int
	}{
		{"job parallel 4", 30, 0, []int{4}, 4},
		{"global cap across two jobs", 3, 0, []int{4, 4}, 3},
		{"per-server cap across two jobs", 30, 2, []int{4, 4}, 2},
		{"two jobs side by side", 30, 0, []int{2, 3}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			users := usersN(12)
			e := newMemEnv(t, '/', '/', users...)
			seedUsers(t, e, users, 5)
			e.cfg.MaxParallel = tc.globalCap
			e.cfg.Servers[1].MaxParallel = tc.serverCap
			per := len(users) / len(tc.jobs)
			var ids []int64
			for i, p := range tc.jobs {
				j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: p, CreatedBy: "test"},
					users[i*per:(i+1)*per])
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, j.ID)
			}
			gate := newCopyGate(tc.wantMax)
			mv := e.mover()
			mv.Progress = gate.progress
			moves, err := (&migrate.Runner{Mover: mv, DB: e.db, Poll: 20 * time.Millisecond}).RunJobs(ctx, ids...)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range moves {
				if m.State != model.MoveDone {
					t.Errorf("%s: %s (%s), want done", m.UID, m.State, m.Error)
				}
			}
			if gate.max != tc.wantMax {
				t.Errorf("most moves copying at once = %d, want %d", gate.max, tc.wantMax)
			}
			for _, id := range ids {
				j, _ := e.db.Job(ctx, id)
				if j.State != model.JobDone || j.FinishedAt.IsZero() || j.StartedAt.IsZero() {
					t.Errorf("job %d = %s (started %v, finished %v), want done", id, j.State, j.StartedAt, j.FinishedAt)
				}
			}
		})
	}
}

// fakeClock is a settable clock for schedules.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRunnerStartAt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newMemEnv(t, '/', '/', "alice")
	seedUsers(t, e, []string{"alice"}, 3)
	clock := &fakeClock{now: time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)}
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test",
		StartAt: clock.Now().Add(time.Hour)}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	mv := e.mover()
	mv.Now = clock.Now
	rn := &migrate.Runner{Mover: mv, DB: e.db, Poll: 5 * time.Millisecond}
	done := make(chan error, 1)
	go func() { _, err := rn.RunJobs(ctx, j.ID); done <- err }()
	time.Sleep(100 * time.Millisecond) // many scheduling rounds before the start time
	if m, _ := e.db.Moves(ctx, j.ID); m[0].State != model.MoveQueued {
		t.Fatalf("before start_at: move %s, want queued", m[0].State)
	}
	clock.Add(time.Hour)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m, _ := e.db.Moves(ctx, j.ID); m[0].State != model.MoveDone {
		t.Fatalf("after start_at: move %s (%s), want done", m[0].State, m[0].Error)
	}
}

// holdInCopy blocks moves in the copy phase until released.
type holdInCopy struct {
	mu      sync.Mutex
	entered chan int64
	release chan struct{}
	seen    map[int64]bool
}

func newHold() *holdInCopy {
	return &holdInCopy{entered: make(chan int64, 64), release: make(chan struct{}), seen: map[int64]bool{}}
}

func (h *holdInCopy) progress(m model.Move) {
	if m.Phase != model.PhaseCopy || m.State != model.MoveRunning {
		return
	}
	h.mu.Lock()
	first := !h.seen[m.ID]
	h.seen[m.ID] = true
	h.mu.Unlock()
	if first {
		h.entered <- m.ID
		<-h.release
	}
}

func TestRunnerCancelAfterHours(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice", "bob")
	seedUsers(t, e, []string{"alice", "bob"}, 20)
	before := manifest(t, e.src, "alice", "INBOX")
	clock := &fakeClock{now: time.Now()}
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test",
		CancelAfterHours: 2}, []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	hold := newHold()
	mv := e.mover()
	mv.Now, mv.Progress, mv.ChunkSize = clock.Now, hold.progress, 5
	rn := &migrate.Runner{Mover: mv, DB: e.db, Poll: 5 * time.Millisecond}
	done := make(chan []model.Move, 1)
	go func() { m, _ := rn.RunJobs(ctx, j.ID); done <- m }()
	<-hold.entered // alice is copying; bob waits for the parallelism of 1
	clock.Add(3 * time.Hour)
	time.Sleep(50 * time.Millisecond) // let the runner see the deadline
	close(hold.release)
	moves := <-done
	for _, m := range moves {
		if m.State != model.MoveCancelled {
			t.Errorf("%s: %s (%s), want cancelled", m.UID, m.State, m.Error)
		}
	}
	equalManifest(t, "source after cancel", manifest(t, e.src, "alice", "INBOX"), before)
	if got := manifest(t, e.dst, "alice", "INBOX"); len(got) != 0 {
		t.Errorf("target INBOX has %d messages after cancel, want 0", len(got))
	}
	audit, err := e.db.AuditBefore(ctx, 0, 10)
	if err != nil {
		t.Fatalf("AuditBefore() = %v", err)
	}
	if len(audit) == 0 || audit[0].Action != "cancel mailbox" {
		t.Errorf("audit = %+v, want the schedule's cancel", audit)
	}
}

func TestRunnerCancelOneAndRetry(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice", "bob")
	seedUsers(t, e, []string{"alice", "bob"}, 20)
	want := manifest(t, e.src, "alice", "INBOX")
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 2, CreatedBy: "test"}, []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	moves, _ := e.db.Moves(ctx, j.ID)
	alice := moves[0]
	hold := newHold()
	mv := e.mover()
	mv.Progress, mv.ChunkSize = hold.progress, 5
	rn := &migrate.Runner{Mover: mv, DB: e.db, Poll: 5 * time.Millisecond}
	done := make(chan []model.Move, 1)
	go func() { m, _ := rn.RunJobs(ctx, j.ID); done <- m }()
	<-hold.entered
	<-hold.entered
	if err := e.db.RequestCancel(ctx, alice.ID, "helpdesk-hank"); err != nil {
		t.Fatal(err)
	}
	close(hold.release)
	final := <-done
	if final[0].State != model.MoveCancelled || final[1].State != model.MoveDone {
		t.Fatalf("after cancel: alice %s, bob %s; want cancelled, done", final[0].State, final[1].State)
	}
	if got := manifest(t, e.dst, "alice", "INBOX"); len(got) != 0 {
		t.Errorf("target has %d of alice's messages after cancel", len(got))
	}
	// Retry: a new attempt of the same move, run to the end.
	if _, err := e.db.RetryMove(ctx, alice.ID, "admin-alice"); err != nil {
		t.Fatal(err)
	}
	mv.Progress = nil
	final, err = rn.RunJobs(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final[0].State != model.MoveDone || final[0].Attempt != 2 {
		t.Fatalf("retried alice: %s attempt %d (%s), want done attempt 2", final[0].State, final[0].Attempt, final[0].Error)
	}
	equalManifest(t, "target after retry", manifest(t, e.dst, "alice", "INBOX"), want)
	audit, err := e.db.AuditBefore(ctx, 0, 10)
	if err != nil {
		t.Fatalf("AuditBefore() = %v", err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Actor+":"+a.Action)
	}
	if fmt.Sprint(actions) != "[admin-alice:retry mailbox helpdesk-hank:cancel mailbox test:start job]" {
		t.Errorf("audit = %v", actions)
	}
}

func TestRunnerUserInOneUnfinishedMove(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	var held *db.HeldError
	if !errorsAs(err, &held) || held.JobID != j.ID {
		t.Fatalf("second CreateJob() = %v, want HeldError naming job %d", err, j.ID)
	}
}

// gatedDirectory blocks every Lookup until release is closed, and says on
// entered when the first one began.
type gatedDirectory struct {
	directory.Directory
	once    *sync.Once
	entered chan struct{}
	release chan struct{}
}

func (d gatedDirectory) Lookup(ctx context.Context, uid string) (directory.User, error) {
	d.once.Do(func() { close(d.entered) })
	<-d.release
	return d.Directory.Lookup(ctx, uid)
}

// TestRunnerNoLockAcrossDirectory: while the scheduler waits for the
// directory (to find a queued move's source server), the runner's state
// stays readable: /healthz (Running) and finishing moves take the same
// lock, so a slow directory must not stall them. Before, schedule held the
// lock across the lookup and this test hung in Running.
func TestRunnerNoLockAcrossDirectory(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	gd := gatedDirectory{Directory: e.dir, once: &sync.Once{}, entered: make(chan struct{}), release: make(chan struct{})}
	mv := e.mover()
	mv.Dir = gd
	rn := &migrate.Runner{Mover: mv, DB: e.db}
	done := make(chan error, 1)
	var moves []model.Move
	go func() {
		var err error
		moves, err = rn.RunJobs(ctx, j.ID)
		done <- err
	}()
	<-gd.entered
	if n := rn.Running(); n != 0 {
		t.Errorf("Running() while the first lookup waits = %d, want 0", n)
	}
	close(gd.release)
	if err := <-done; err != nil {
		t.Fatalf("RunJobs() = %v", err)
	}
	if len(moves) != 1 || moves[0].State != model.MoveDone {
		t.Fatalf("moves = %+v, want alice done", moves)
	}
}
