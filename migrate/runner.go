package migrate

// Invariants of the runner:
//
//   - Everything about a job lives in SQLite; the runner's memory holds only
//     which moves it is running now. A restart finds running moves in the
//     database and resumes them before starting queued ones.
//   - At most job.Parallel moves of a job, config.Config.MaxParallel moves in all,
//     and servers[].max_parallel moves touching one server (as source or
//     target) run at once.
//   - Jobs are served oldest first and fairly: each scheduling round starts
//     at most one move per job before any job gets a second.
//   - A move starts no earlier than its job's start_at; a job's moves still
//     running cancel_after_hours after the job started are cancelled (their
//     source untouched, partial copy removed).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// Runner schedules and runs moves.
type Runner struct {
	Mover *Mover
	DB    *db.DB
	Log   *slog.Logger
	// Poll is how often the runner looks at the database when nothing woke
	// it (schedules, control actions from another process). Default 1s.
	Poll time.Duration

	// Owned by the scheduling loop (one goroutine), never locked:
	//
	// sources caches the source server of queued moves, so that a move
	// waiting for a cap is not looked up in the directory every round.
	sources map[int64]string
	// seen is the state of each unfinished move at the last round, and
	// lastRound when that was; see publishOutside.
	seen      map[int64]model.MoveState
	lastRound time.Time

	// Shared between the loop and the move goroutines, guarded by mu, which
	// is only ever held to read or change these fields: never across a
	// database, directory or network call.
	mu      sync.Mutex
	running map[int64]slot // move id -> slot; the loop adds, a move's goroutine removes
	wake    chan struct{}
	// held are moves that stopped because the job store failed, with the
	// time they may start again: a full disk is not retried every round.
	held map[int64]time.Time
	// storeErr is the last job store failure of a move, which ends RunJobs
	// (the command line): it cannot finish its jobs without a store.
	storeErr error
}

// storeHold is how long a move that stopped on a job store failure waits
// before serve starts it again.
const storeHold = time.Minute

type slot struct {
	jobID    int64
	src, dst string
	cancel   context.CancelFunc
}

func (rn *Runner) init() {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.running == nil {
		rn.running = map[int64]slot{}
		rn.wake = make(chan struct{}, 1)
		rn.sources = map[int64]string{}
	}
}

// Wake asks the runner to look for work now (a job was created, a move
// retried or cancelled).
func (rn *Runner) Wake() {
	rn.init()
	select {
	case rn.wake <- struct{}{}:
	default:
	}
}

// Running returns how many moves run now.
func (rn *Runner) Running() int {
	rn.init()
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return len(rn.running)
}

// Run is the service loop: it starts moves as the caps and schedules allow
// until ctx ends, then waits for the running moves to reach a checkpoint.
func (rn *Runner) Run(ctx context.Context) error {
	return rn.loop(ctx, nil)
}

// RunJobs runs until every move of these jobs has an outcome (the CLI's
// move and resume), and returns their moves.
func (rn *Runner) RunJobs(ctx context.Context, jobIDs ...int64) ([]model.Move, error) {
	if err := rn.loop(ctx, jobIDs); err != nil {
		return nil, err
	}
	var all []model.Move
	for _, id := range jobIDs {
		moves, err := rn.DB.Moves(ctx, id)
		if err != nil {
			return nil, err
		}
		all = append(all, moves...)
	}
	return all, nil
}

func (rn *Runner) loop(ctx context.Context, only []int64) error {
	rn.init()
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := rn.Poll
	if poll <= 0 {
		poll = time.Second
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rn.wake:
		case <-timer.C:
		}
		pending, err := rn.schedule(ctx, only, &wg)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rn.logger().Error("schedule moves", "err", err)
		}
		if only != nil && rn.Running() == 0 {
			rn.mu.Lock()
			serr := rn.storeErr
			rn.mu.Unlock()
			if serr != nil {
				return serr // the command line cannot finish its jobs without a store
			}
		}
		if only != nil && pending == 0 && rn.Running() == 0 {
			return nil
		}
		timer.Reset(poll)
	}
}

func (rn *Runner) logger() *slog.Logger {
	if rn.Log != nil {
		return rn.Log
	}
	return slog.New(slog.DiscardHandler)
}

// schedule does one round: finish jobs without work, apply cancel-after,
// and start every move the caps allow. It returns how many unfinished
// moves (of the jobs in only, when set) are not running.
func (rn *Runner) schedule(ctx context.Context, only []int64, wg *sync.WaitGroup) (int, error) {
	// Staged jobs whose completion time came: their moves are asked to
	// complete before they are read.
	if _, err := rn.DB.CompleteDue(ctx, rn.Mover.now()); err != nil {
		return 0, err
	}
	// What runs now, copied before the moves are read: a move leaves
	// running only after its outcome is stored, so one that is not in this
	// copy is read as it ended (read first, a staged move that ended its
	// sync in between looked synced, due and idle, and synced again). The
	// caps are checked against this copy, which can only over-count (a move
	// that finished meanwhile wakes the loop for another round), and the
	// loop adds what it starts.
	rn.mu.Lock()
	running := maps.Clone(rn.running)
	held := maps.Clone(rn.held)
	rn.mu.Unlock()
	moves, err := rn.DB.UnfinishedMoves(ctx)
	if err != nil {
		return 0, err
	}
	if err := rn.publishOutside(ctx, moves); err != nil {
		return 0, err
	}
	w, err := rn.readWork(ctx, moves, only)
	if err != nil {
		return 0, err
	}
	if err := rn.finishIdleJobs(ctx, w); err != nil {
		return 0, err
	}
	now := rn.Mover.now()
	for _, id := range w.order {
		j := w.jobs[id]
		if j.CancelAfterHours > 0 && !j.StartedAt.IsZero() && now.Sub(j.StartedAt) > time.Duration(j.CancelAfterHours)*time.Hour {
			rn.cancelOverdue(ctx, j, w.byJob[id])
		}
	}
	rn.forgetSources(moves)
	pending := 0
	// Running moves first (resumed after a restart), then queued ones,
	// then synced ones that are due to sync again or to complete.
	for _, state := range []model.MoveState{model.MoveRunning, model.MoveQueued, model.MoveSynced} {
		queues := map[int64][]model.Move{}
		for _, id := range w.order {
			for _, m := range w.byJob[id] {
				if m.State == model.MoveSynced && !rn.resyncDue(m, now) {
					continue
				}
				if _, runs := running[m.ID]; m.State == state && !runs && !now.Before(held[m.ID]) {
					queues[id] = append(queues[id], m)
				}
			}
			pending += len(queues[id])
		}
		started, err := rn.startRoundRobin(ctx, w, queues, running, now, wg)
		pending -= started
		if err != nil {
			return pending, err
		}
	}
	return pending, nil
}

// resyncDue reports whether a synced move of a staged job is to be started
// again: asked to complete or to cancel, or its last sync is older than
// the resync interval. A synced move that is not due does not count as
// pending: RunJobs of a staged job returns once every move is synced.
func (rn *Runner) resyncDue(m model.Move, now time.Time) bool {
	every := rn.Mover.Config.ResyncInterval
	if every <= 0 {
		every = time.Hour
	}
	return m.CompleteRequested || m.CancelRequested || !now.Before(m.LastSyncAt.Add(every))
}

// work is the unfinished moves of one round, by job, jobs oldest first.
type work struct {
	jobs  map[int64]model.Job
	order []int64
	byJob map[int64][]model.Move
}

// readWork groups moves by job (only the jobs in only, when set) and loads
// each job once.
func (rn *Runner) readWork(ctx context.Context, moves []model.Move, only []int64) (work, error) {
	w := work{jobs: map[int64]model.Job{}, byJob: map[int64][]model.Move{}}
	for _, m := range moves {
		if only != nil && !slices.Contains(only, m.JobID) {
			continue
		}
		if _, ok := w.jobs[m.JobID]; !ok {
			j, err := rn.DB.Job(ctx, m.JobID)
			if err != nil {
				return work{}, err
			}
			w.jobs[m.JobID] = j
			w.order = append(w.order, m.JobID)
		}
		w.byJob[m.JobID] = append(w.byJob[m.JobID], m)
	}
	return w, nil
}

// finishIdleJobs gives an outcome to open jobs with no unfinished move left
// (their last move finished in another process, or they were cancelled).
func (rn *Runner) finishIdleJobs(ctx context.Context, w work) error {
	open, err := rn.DB.OpenJobs(ctx)
	if err != nil {
		return err
	}
	for _, id := range open {
		if _, ok := w.jobs[id]; ok {
			continue // has unfinished moves
		}
		if _, err := rn.DB.FinishJobIfDone(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// forgetSources drops cached source servers of moves no longer unfinished.
func (rn *Runner) forgetSources(moves []model.Move) {
	unfinished := make(map[int64]bool, len(moves))
	for _, m := range moves {
		unfinished[m.ID] = true
	}
	for id := range rn.sources {
		if !unfinished[id] {
			delete(rn.sources, id)
		}
	}
}

// startRoundRobin starts the moves in queues as the caps allow, one per job
// per pass, oldest job first, until a pass starts nothing. It returns how
// many left the queues (started, or found finished).
func (rn *Runner) startRoundRobin(ctx context.Context, w work, queues map[int64][]model.Move, running map[int64]slot, now time.Time, wg *sync.WaitGroup) (int, error) {
	left := 0
	for progress := true; progress; {
		progress = false
		for _, id := range w.order {
			q := queues[id]
			if len(q) == 0 {
				continue
			}
			j := w.jobs[id]
			if !j.StartAt.IsZero() && now.Before(j.StartAt) {
				continue // not yet
			}
			// The list was read before the copy of rn.running: a move that
			// just finished (and left it) may still show as running. Its
			// committed state decides.
			m, err := rn.DB.Move(ctx, q[0].ID)
			if err != nil {
				return left, err
			}
			if m.Unfinished() && !rn.admit(ctx, j, &m, running) {
				continue // this job's next move must wait for a cap
			}
			queues[id] = q[1:]
			left++
			progress = true
			if m.Unfinished() {
				running[m.ID] = rn.start(ctx, j, m, wg)
			}
		}
	}
	return left, nil
}

// publishOutside publishes moves whose state changed without a mover:
// queued by a new job or a retry, or finished while queued (a cancelled
// job), by this process's web pages or by a control command of another
// process. A move the runner runs publishes itself; publishing it again is
// harmless.
func (rn *Runner) publishOutside(ctx context.Context, unfinished []model.Move) error {
	publish := rn.Mover.Progress
	now := rn.Mover.now()
	rn.mu.Lock()
	running := maps.Clone(rn.running)
	rn.mu.Unlock()
	prev, since := rn.seen, rn.lastRound
	seen := make(map[int64]model.MoveState, len(unfinished))
	var changed []model.Move
	for _, m := range unfinished {
		seen[m.ID] = m.State
		if _, runs := running[m.ID]; prev[m.ID] != m.State && !runs {
			changed = append(changed, m)
		}
	}
	rn.seen, rn.lastRound = seen, now
	if publish == nil {
		return nil
	}
	if since.IsZero() {
		since = now
	}
	// A second of overlap: stored times do not sort below a second.
	finished, err := rn.DB.MovesFinishedSince(ctx, since.Add(-time.Second))
	if err != nil {
		return err
	}
	for _, m := range append(changed, finished...) {
		publish(m)
	}
	return nil
}

// admit checks the caps for m against running (the loop's copy), resolving
// its source server from the directory if it is not known yet.
func (rn *Runner) admit(ctx context.Context, j model.Job, m *model.Move, running map[int64]slot) bool {
	cfg := rn.Mover.Config
	if cfg.MaxParallel > 0 && len(running) >= cfg.MaxParallel {
		return false
	}
	inJob := 0
	perServer := map[string]int{}
	for _, s := range running {
		if s.jobID == j.ID {
			inJob++
		}
		perServer[s.src]++
		if s.dst != s.src {
			perServer[s.dst]++
		}
	}
	if inJob >= max(j.Parallel, 1) {
		return false
	}
	if m.Source == "" {
		src, known := rn.sources[m.ID]
		if !known {
			if u, err := rn.Mover.Dir.Lookup(ctx, m.UID); err == nil {
				if s, ok := cfg.ServerByHome(u.Home); ok {
					src = s.Name
				}
			}
			rn.sources[m.ID] = src // "" too: the mover's preflight reports why
		}
		m.Source = src
	}
	for _, name := range []string{m.Source, m.Target} {
		if s, ok := cfg.Server(name); ok && s.MaxParallel > 0 && perServer[name] >= s.MaxParallel {
			return false
		}
	}
	return true
}

// start runs one move in its own goroutine and returns its slot.
func (rn *Runner) start(ctx context.Context, j model.Job, m model.Move, wg *sync.WaitGroup) slot {
	mctx, cancel := context.WithCancel(ctx)
	sl := slot{jobID: j.ID, src: m.Source, dst: m.Target, cancel: cancel}
	rn.mu.Lock()
	rn.running[m.ID] = sl
	delete(rn.held, m.ID)
	rn.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		if err := rn.DB.MarkJobStarted(mctx, j.ID); err != nil && mctx.Err() == nil {
			rn.logger().Error("mark job started", "job", j.ID, "err", err)
		}
		final, err := rn.Mover.Run(mctx, j, m)
		stopped := err != nil && mctx.Err() == nil
		if stopped {
			rn.logger().Error("move stopped", "job", j.ID, "mailbox", m.UID, "err", err, "retry_in", storeHold)
		}
		rn.mu.Lock()
		delete(rn.running, m.ID)
		if stopped {
			if rn.held == nil {
				rn.held = map[int64]time.Time{}
			}
			rn.held[m.ID] = rn.Mover.now().Add(storeHold)
			rn.storeErr = err
		}
		rn.mu.Unlock()
		if !final.Unfinished() {
			if _, err := rn.DB.FinishJobIfDone(context.WithoutCancel(ctx), j.ID); err != nil {
				rn.logger().Error("finish job", "job", j.ID, "err", err)
			}
		}
		rn.Wake()
	}()
	return sl
}

// cancelOverdue requests cancellation of a job's unfinished moves once its
// cancel-after deadline passed, like the original wizard's "cancel tasks
// still running after N hours".
func (rn *Runner) cancelOverdue(ctx context.Context, j model.Job, moves []model.Move) {
	for _, m := range moves {
		if m.CancelRequested || m.Phase.PastCutover() || j.Stage {
			// Asked already, or past its cut-over: it finishes. A staged
			// job waits for days by design: its moves are not overdue.
			continue
		}
		actor := fmt.Sprintf("schedule (cancel after %d h)", j.CancelAfterHours)
		if err := rn.DB.RequestCancel(ctx, m.ID, actor); err != nil && !errors.Is(err, db.ErrConflict) {
			rn.logger().Error("cancel overdue move", "job", j.ID, "mailbox", m.UID, "err", err)
		}
	}
}
