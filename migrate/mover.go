package migrate

// Invariants of a move (one mailbox):
//
//   - A message is deleted from the source only after its copy was verified
//     on the target (present under the recorded target UID with the same
//     bytes: its SHA-256 read back equals the source's), and only under the
//     source UIDVALIDITY the copy was recorded for.
//   - The directory is changed at most once per move, with a compare-and-swap
//     from the source's home value to the target's, and only after every
//     folder verified. Nothing is abandoned after that point.
//   - Every APPEND is preceded by a committed 'sending' row and followed by a
//     'done' row with the target UID; after a crash the 'sending' rows are
//     reconciled against the target before anything is re-sent, so a resumed
//     move never duplicates a message.
//   - Identity is the source UID under its UIDVALIDITY, never a header:
//     messages without or with duplicate Message-IDs are all copied.
//   - Progress is committed to the database before it is published.
//   - A server may still execute what a dead client sent. Before the
//     cut-over (and again after the delta pass) each target folder holds
//     exactly the recorded copies above its UID floor: verification finds
//     extras, removes those with the bytes of a recorded copy (ours, sent by
//     an interrupted run) and reports any other. A stop keeps the
//     connections for the drain period so that answers to commands already
//     sent are recorded; what is still unanswered then is settled like a
//     crash.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// Mover moves mailboxes. Its fields are its dependencies; it holds no
// per-move state, so one Mover runs many moves at once.
type Mover struct {
	Config *config.Config
	Dir    directory.Directory
	DB     *db.DB
	Log    *slog.Logger
	// Progress, if set, receives a move's state after each commit.
	Progress func(model.Move)
	// Patience bounds how long connection loss and throttling are retried
	// before the move fails (default 15 minutes).
	Patience time.Duration
	// ChunkSize is how many messages one FETCH asks for (default 250), and
	// Window how many APPENDs may await their answer at once (default 32).
	ChunkSize, Window int
	// Drain bounds how long, after a stop, a move's connections stay open
	// for the answers to commands already sent (default 20 seconds).
	Drain time.Duration
	// Crash, if set, is called at named points of a move; the crash tests
	// make it kill the process there (see cmd/movewizard).
	Crash func(point string)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (mv *Mover) now() time.Time {
	if mv.Now != nil {
		return mv.Now()
	}
	return time.Now()
}

// Run executes (or resumes) one move to an outcome: done, already-there,
// abandoned, cancelled or failed. It returns the final move; an error only
// for a stopped context (the move stays resumable) or a broken store.
func (mv *Mover) Run(ctx context.Context, job model.Job, m model.Move) (model.Move, error) {
	r := &run{mv: mv, job: job, m: m, log: mv.logger().With("job", job.ID, "mailbox", m.UID),
		failedOnce: map[string]bool{}}
	defer r.closeConns()
	// After a stop, in-flight commands get the drain period to be answered
	// (the copy stops sending at once and records what was confirmed);
	// then the connections are closed, failing whatever still waits.
	stopDrain := context.AfterFunc(ctx, func() { time.AfterFunc(mv.drain(), r.live.closeAll) })
	defer stopDrain()
	if r.m.State == model.MoveQueued || r.m.State == model.MoveSynced {
		// Only a move still queued (or synced: a staged move waiting to
		// complete, which syncs again, phase_stage.go) starts: one
		// cancelled after the runner read it stays cancelled
		// (db.CancelMove ends queued moves at once).
		started, err := mv.DB.StartMove(ctx, r.m.ID)
		if err != nil {
			return r.m, err
		}
		if !started {
			now, err := mv.DB.Move(ctx, r.m.ID)
			if err != nil {
				return r.m, err
			}
			r.log.Info("move not started: no longer queued or synced", "state", now.State)
			return now, nil
		}
		if r.m.State == model.MoveQueued {
			r.m.StartedAt = mv.now()
			r.event(ctx, "start", "move started")
		} else {
			r.m.Phase = model.PhaseResync
		}
		r.m.State, r.m.Error = model.MoveRunning, ""
		r.publish()
	}
	var waitingSince time.Time
	delay := time.Second
	lastMark := ""
	for {
		err := r.step(ctx)
		if err == nil {
			return r.m, nil
		}
		// Patience and back-off count from the last progress: a long move
		// with an occasional dropped connection is not a failing one.
		if mark := fmt.Sprint(r.m.Phase, r.m.MsgsDone, r.m.Skipped); mark != lastMark {
			lastMark, waitingSince, delay = mark, time.Time{}, time.Second
		}
		if ctx.Err() != nil {
			r.log.Info("move interrupted", "phase", r.m.Phase)
			return r.m, ctx.Err()
		}
		r.closeConns()
		if db.IsStoreError(err) {
			// The job store failed (full disk, locked or closed database):
			// retrying cannot help and recording the failure would fail
			// too. The move stays as last committed, resumable.
			r.log.Error("move stopped: the job store failed", "phase", r.m.Phase, "err", err)
			return r.m, fmt.Errorf("job store: %w", err)
		}
		// A failure may be the admin's cancel arriving (connections closed
		// under the move); the store says whether it was. Past the cut-over
		// there is none to honour: db.CancelMove refuses those moves.
		cancelled := errors.Is(err, errCancelled) && !r.m.Phase.PastCutover()
		if !cancelled && !r.m.Phase.PastCutover() {
			c, cerr := mv.DB.CancelRequested(ctx, r.m.ID)
			if cerr != nil {
				// Without the answer the move can neither be called cancelled
				// nor failed nor retried: it stops as last committed, as for
				// any failure of the job store, and stays resumable.
				r.log.Error("move stopped: cannot read whether it was cancelled", "phase", r.m.Phase,
					"err", cerr, "failure", err)
				return r.m, fmt.Errorf("job store: read the cancel request of move %d: %w", r.m.ID, cerr)
			}
			cancelled = c
		}
		if cancelled {
			return r.finishAbandoned(ctx, model.MoveCancelled, "cancelled")
		}
		var ae *abandonError
		if errors.As(err, &ae) {
			return r.finishAbandoned(ctx, model.MoveAbandoned, ae.reason)
		}
		if !isTransient(err) {
			return r.finishFailed(ctx, err)
		}
		if waitingSince.IsZero() {
			waitingSince = mv.now()
		}
		if mv.now().Sub(waitingSince) > mv.patience() {
			return r.finishFailed(ctx, &gaveUpError{after: mv.patience(), err: err})
		}
		what := "connection lost"
		if isThrottle(err) {
			what = "server throttling"
		}
		r.m.Error = fmt.Sprintf("%s, retrying in %s: %s", what, delay, plainDetail(err))
		r.log.Warn("move retrying", "phase", r.m.Phase, "delay", delay, "err", err)
		if err := r.save(ctx); err != nil && ctx.Err() == nil {
			return r.m, err
		}
		select {
		case <-ctx.Done():
			return r.m, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Minute)
	}
}

func (mv *Mover) patience() time.Duration {
	if mv.Patience > 0 {
		return mv.Patience
	}
	return 15 * time.Minute
}

func (mv *Mover) drain() time.Duration {
	if mv.Drain > 0 {
		return mv.Drain
	}
	return 20 * time.Second
}

func (mv *Mover) logger() *slog.Logger {
	if mv.Log != nil {
		return mv.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (mv *Mover) crash(point string) {
	if mv.Crash != nil {
		mv.Crash(point)
	}
}

// run is the state of one move while it executes.
type run struct {
	mv       *Mover
	job      model.Job
	m        model.Move
	log      *slog.Logger
	user     directory.User
	src, dst config.Server
	sc, dc   *conn
	// failedOnce remembers source reads that failed once (folder\x00uid),
	// so the next failure of the same item is final.
	failedOnce map[string]bool
	live       liveConns
}

// liveConns are a run's open connections, for the drain timer, which runs
// in its own goroutine.
type liveConns struct {
	mu     sync.Mutex
	conns  []*conn
	closed bool // the drain period ended: no connection may stay open
}

// add registers c; it reports false (and closes c) once the drain ended.
func (l *liveConns) add(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.abort()
		return false
	}
	l.conns = append(l.conns, c)
	return true
}

func (l *liveConns) remove(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = slices.DeleteFunc(l.conns, func(x *conn) bool { return x == c })
}

// closeAll ends every connection at once: pending commands fail.
func (l *liveConns) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, c := range l.conns {
		c.abort()
	}
	l.conns = nil
}

// step runs the move from its recorded phase to the end.
func (r *run) step(ctx context.Context) error {
	if err := r.checkCancel(ctx); err != nil {
		return err
	}
	if err := r.preflight(ctx); err != nil {
		return err
	}
	if r.m.State != model.MoveRunning { // already on the target
		return nil
	}
	for {
		var err error
		switch r.m.Phase {
		case "", model.PhasePreflight, model.PhaseHierarchy:
			err = r.hierarchy(ctx, model.PhaseCopy)
		case model.PhaseCopy:
			err = r.copyAll(ctx, model.PhaseVerify)
		case model.PhaseVerify:
			err = r.verifyAll(ctx, model.PhaseCutover)
		case model.PhaseResync:
			err = r.resync(ctx)
		case model.PhaseCutover:
			err = r.cutover(ctx)
		case model.PhaseDelta:
			err = r.delta(ctx)
		case model.PhaseRemove:
			err = r.removeSource(ctx)
		case model.PhaseDone:
			return r.finishDone(ctx)
		default:
			return permanent(fmt.Errorf("unknown phase %q in the database", r.m.Phase))
		}
		if err != nil {
			return err
		}
		if r.m.State == model.MoveSynced {
			return nil // a staged move waits to complete
		}
	}
}

// setPhase commits the move's new phase.
func (r *run) setPhase(ctx context.Context, phase model.Phase) error {
	r.m.Phase, r.m.CurrentFolder, r.m.Error = phase, "", ""
	if err := r.save(ctx); err != nil {
		return err
	}
	r.event(ctx, "phase", string(phase))
	return nil
}

// recount sets the move's progress from the copy records, after copies
// were forgotten or found outside the copy pipeline.
func (r *run) recount(ctx context.Context) error {
	msgs, bytes, err := r.mv.DB.CopyTotals(ctx, r.m.ID)
	if err != nil {
		return err
	}
	r.m.MsgsDone, r.m.BytesDone = msgs, bytes
	return nil
}

func (r *run) save(ctx context.Context) error {
	if err := r.mv.DB.SaveMove(ctx, r.m); err != nil {
		return err
	}
	r.publish()
	return nil
}

func (r *run) publish() { r.publishMove(r.m) }

// publishMove hands one committed state of the move to the broker.
func (r *run) publishMove(m model.Move) {
	if r.mv.Progress != nil {
		r.mv.Progress(m)
	}
}

func (r *run) event(ctx context.Context, kind, msg string) {
	if err := r.mv.DB.AddEvent(ctx, r.job.ID, r.m.ID, kind, msg); err != nil && ctx.Err() == nil {
		r.log.Warn("record event", "err", err)
	}
}

// checkCancel returns errCancelled if someone asked to cancel the move.
// Past the cut-over nobody can (db.CancelMove refuses), and a request
// recorded before it would have stopped db.DB.TakeCutover: it is ignored.
func (r *run) checkCancel(ctx context.Context) error {
	if r.m.Phase.PastCutover() {
		return nil
	}
	c, err := r.mv.DB.CancelRequested(ctx, r.m.ID)
	if err != nil {
		return err
	}
	if c {
		return errCancelled
	}
	return nil
}

// conns returns connections to source and target, dialling as needed.
func (r *run) conns(ctx context.Context) (*conn, *conn, error) {
	// Both at once: a connection and its login take each server a few
	// round trips, and a process of its own to start.
	var dc *conn
	var derr error
	var wg sync.WaitGroup
	if r.dc == nil {
		wg.Go(func() { dc, derr = r.dial(ctx, r.dst) })
	}
	var serr error
	if r.sc == nil {
		r.sc, serr = r.dial(ctx, r.src)
	}
	wg.Wait()
	if dc != nil {
		r.dc = dc
	}
	if serr != nil {
		return nil, nil, serr
	}
	if derr != nil {
		return nil, nil, derr
	}
	return r.sc, r.dc, nil
}

// dial opens a connection that outlives a stop by the drain period.
func (r *run) dial(ctx context.Context, s config.Server) (*conn, error) {
	c, err := dialConn(ctx, s, r.m.UID, false)
	if err != nil {
		return nil, err
	}
	if !r.live.add(c) {
		return nil, fmt.Errorf("connect to %s: %w", s.Name, context.Cause(ctx))
	}
	return c, nil
}

func (r *run) closeConns() {
	for _, c := range []*conn{r.sc, r.dc} {
		if c != nil {
			r.live.remove(c)
			c.Close()
		}
	}
	r.sc, r.dc = nil, nil
}

func (r *run) finishDone(ctx context.Context) error {
	r.m.State, r.m.Phase, r.m.CurrentFolder, r.m.Error = model.MoveDone, model.PhaseDone, "", ""
	r.m.FinishedAt = r.mv.now()
	if err := r.save(ctx); err != nil {
		return err
	}
	r.event(ctx, "done", fmt.Sprintf("moved %d messages (%d bytes), %d skipped", r.m.MsgsDone, r.m.BytesDone, r.m.Skipped))
	r.log.Info("move done", "msgs", r.m.MsgsDone, "bytes", r.m.BytesDone, "skipped", r.m.Skipped)
	return nil
}

// finishFailed ends a move as failed. The move, its event and what is
// published carry failureText (a sentence for people); the log keeps the
// raw error.
func (r *run) finishFailed(ctx context.Context, cause error) (model.Move, error) {
	text := failureText(cause)
	r.m.State, r.m.Error, r.m.FinishedAt, r.m.CurrentFolder = model.MoveFailed, text, r.mv.now(), ""
	r.log.Error("move failed", "phase", r.m.Phase, "err", cause)
	if err := r.save(ctx); err != nil {
		return r.m, err
	}
	r.event(ctx, "failed", text)
	return r.m, nil
}

// finishAbandoned ends a move as abandoned or cancelled: the target copy is
// removed and the source and the directory stay as they were. After the
// directory update that is no longer possible; the move then fails instead
// and keeps both copies for an admin to look at. Only an abandon (a bad
// item in the delta pass) gets there: a cancel cannot, as Run ignores
// cancel requests past the cut-over and db.CancelMove refuses them.
func (r *run) finishAbandoned(ctx context.Context, state model.MoveState, reason string) (model.Move, error) {
	if !r.m.DirectoryUpdated.IsZero() {
		return r.finishFailed(ctx, permanent(fmt.Errorf("%s after the directory update; source and target both kept: %s", state, reason)))
	}
	// A move cancelled before this run's preflight (one that waited,
	// synced, or was resumed) knows its servers from its record.
	if err := r.recordedServers(); err != nil {
		return r.finishFailed(ctx, fmt.Errorf("%s (%s), but the partial copy cannot be removed from the target: %w", state, reason, err))
	}
	r.m.Phase = model.PhaseCleanup
	r.m.Error = reason
	if err := r.save(ctx); err != nil {
		return r.m, err
	}
	if err := r.cleanupTarget(ctx); err != nil {
		if ctx.Err() != nil {
			return r.m, ctx.Err()
		}
		return r.finishFailed(ctx, permanent(fmt.Errorf("%s (%s), but removing the partial copy from the target failed: %w", state, reason, err)))
	}
	r.m.State, r.m.FinishedAt, r.m.CurrentFolder = state, r.mv.now(), ""
	r.m.MsgsDone, r.m.BytesDone = 0, 0
	r.log.Warn("move ended", "state", state, "reason", reason)
	if err := r.save(ctx); err != nil {
		return r.m, err
	}
	r.event(ctx, string(state), reason)
	return r.m, nil
}
