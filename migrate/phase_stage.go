package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// Staged moves (model.Job.Stage): the move copies and verifies the whole
// mailbox as any move does, and then, instead of taking its cut-over, waits
// as model.MoveSynced with the directory and the source untouched. The
// runner starts it again now and then (resync_interval) and when it is
// asked to complete or to cancel. Each resync carries what changed on the
// source since the last one: new folders and mail (copied and verified like
// the first copy), flags and deletions (syncState). Once completion was
// asked for, the resync that follows takes the cut-over; the final delta
// pass after it also carries the source's flag changes and deletions made
// since that last sync, three-way against what the sync recorded
// (syncStateAfterCutover), so that nothing done on either side in the
// seconds around the switch is lost silently.

// resync is the resync phase: what changed on the source since the last
// sync, then wait again or complete.
func (r *run) resync(ctx context.Context) error {
	if err := r.syncHierarchy(ctx); err != nil {
		return err
	}
	if err := r.measure(ctx); err != nil {
		return err
	}
	return r.verifyAll(ctx, model.PhaseCutover)
}

// waitOrComplete ends a staged move's sync: with completion asked for, the
// move takes its cut-over; otherwise it waits, synced. A completion asked
// for while the move parks is seen by the runner, which starts it again at
// once.
func (r *run) waitOrComplete(ctx context.Context) error {
	complete, err := r.mv.DB.CompleteRequested(ctx, r.m.ID)
	if err != nil {
		return err
	}
	if complete {
		return r.takeCutover(ctx)
	}
	r.m.State, r.m.Phase, r.m.CurrentFolder, r.m.Error = model.MoveSynced, model.PhaseResync, "", ""
	r.m.LastSyncAt = r.mv.now()
	r.m.Syncs++
	if err := r.save(ctx); err != nil {
		return err
	}
	r.event(ctx, "synced", fmt.Sprintf("synced (%d messages, %d bytes); waiting to complete", r.m.MsgsDone, r.m.BytesDone))
	r.log.Info("move synced, waiting to complete", "syncs", r.m.Syncs, "msgs", r.m.MsgsDone)
	return nil
}

// waitPropagation waits, after the directory update, until the directory's
// propagation delay has passed since it (counted from the recorded update,
// so a resumed move does not wait twice): mail delivered meanwhile by
// readers that still had the old home cached reaches the source, and the
// final delta pass that follows carries it over. It reports whether the
// move is configured to wait.
func (r *run) waitPropagation(ctx context.Context) (bool, error) {
	delay := r.mv.Config.Directory.PropagationDelay
	if delay <= 0 || r.m.DirectoryUpdated.IsZero() {
		return false, nil
	}
	wait := r.m.DirectoryUpdated.Add(delay).Sub(r.mv.now())
	if wait <= 0 {
		return true, nil
	}
	r.log.Info("waiting for the directory to propagate", "wait", wait)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true, ctx.Err()
	case <-t.C:
		return true, nil
	}
}
