package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// takeCutover commits the cutover phase, the move's point of no return,
// unless someone asked to cancel it (db.DB.TakeCutover decides both in one
// transaction): then the move is cancelled, before anything irreversible.
// It is taken before the directory is changed, so that no cancel can be
// accepted once the directory names the target.
func (r *run) takeCutover(ctx context.Context) error {
	m := r.m
	m.Phase, m.CurrentFolder, m.Error = model.PhaseCutover, "", ""
	if err := r.mv.DB.TakeCutover(ctx, m); err != nil {
		if errors.Is(err, db.ErrCancelRequested) {
			return errCancelled
		}
		return err
	}
	r.m = m
	r.publish()
	r.event(ctx, "phase", string(model.PhaseCutover))
	return nil
}

// cutover is the cutover phase (docs/engine.md): re-home the user in the directory. SetHome
// is a compare-and-swap from the source's value, so it happens at most once
// and never overwrites someone else's change; a crash between the LDAP
// modify and our commit is recognised on resume (the home already names
// the target and no modify is sent).
func (r *run) cutover(ctx context.Context) error {
	if r.m.DirectoryUpdated.IsZero() {
		err := r.mv.Dir.SetHome(ctx, r.user.DN, r.src.Home, r.dst.Home)
		if errors.Is(err, directory.ErrConflict) {
			return permanent(fmt.Errorf("directory entry of %q changed during the move: %w", r.m.UID, err))
		}
		if err != nil {
			return fmt.Errorf("update the directory for %q: %w", r.m.UID, err)
		}
		r.mv.crash("cutover-ldap")
		r.m.DirectoryUpdated = r.mv.now()
		if err := r.save(ctx); err != nil {
			return err
		}
		r.event(ctx, "cutover", fmt.Sprintf("%s changed from %s to %s", r.mv.Config.Directory.HomeAttr(), r.src.Home, r.dst.Home))
		r.log.Info("directory updated", "from", r.src.Home, "to", r.dst.Home)
		r.mv.crash("cutover")
	}
	// Still in this phase after the directory update: end the user's
	// sessions on the source (again, after a crash here: a second kick
	// finds none, a missed one would leave them on the old server).
	r.endSourceSessions(ctx)
	if waited, err := r.waitPropagation(ctx); err != nil {
		return err
	} else if waited {
		// Sessions opened meanwhile through a look-up cached from before
		// the update end too, before the delta pass reads the source.
		r.endSourceSessions(ctx)
	}
	return r.setPhase(ctx, model.PhaseDelta)
}

// delta is the final pass after the cut-over: folders and mail that reached
// the source meanwhile are copied, and everything is verified again. What
// is known is not asked again: measure asks the source only about folders
// made since the hierarchy step, and once everything verified the totals
// are the store's record (every source message is then a copy or a skipped
// item), which counts the mail that arrived meanwhile. (A crash between
// verification's commit and that last save leaves the totals of before,
// which only the progress display reads.)
func (r *run) delta(ctx context.Context) error {
	if err := r.syncHierarchy(ctx); err != nil {
		return err
	}
	if err := r.measure(ctx); err != nil {
		return err
	}
	next := model.PhaseRemove
	if r.job.KeepSource {
		next = model.PhaseDone
	}
	if r.job.Stage {
		// Flags and deletions made on the source since the last sync
		// (phase_stage.go).
		if err := r.syncStateAfterCutover(ctx); err != nil {
			return err
		}
	}
	if err := r.verifyAll(ctx, next); err != nil {
		return err
	}
	return r.measure(ctx)
}
