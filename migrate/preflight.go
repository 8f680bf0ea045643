package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// preflight is the move's first phase (docs/engine.md): it checks the move
// against the one rule, config.CanMove (the user exists, lives on a
// registered server other than the target, and the mode allows the move).
// A user already on the target finishes the move as already-there. A
// resumed move after the directory update keeps its recorded source.
func (r *run) preflight(ctx context.Context) error {
	cfg := r.mv.Config
	u, err := r.mv.Dir.Lookup(ctx, r.m.UID)
	if errors.Is(err, directory.ErrNotFound) {
		return permanent(fmt.Errorf("user %q is not in the directory", r.m.UID))
	}
	if err != nil {
		return fmt.Errorf("look up %q in the directory: %w", r.m.UID, err)
	}
	e := cfg.CanMove(u.Home, r.m.Target)
	if e.Verdict == config.UnknownTarget {
		return permanent(fmt.Errorf("cannot move %q: %s", r.m.UID, e.Reason()))
	}
	r.dst, r.user = e.Target, u
	if !r.m.DirectoryUpdated.IsZero() {
		return r.recordedSource()
	}
	switch e.Verdict {
	case config.AlreadyThere:
		if r.m.Phase == "" || r.m.Phase == model.PhasePreflight {
			r.m.State, r.m.Phase, r.m.UserDN, r.m.FinishedAt = model.MoveAlreadyThere, model.PhaseDone, u.DN, r.mv.now()
			r.m.Error = fmt.Sprintf("mailbox already on %s (%s=%s); nothing to do", r.dst.Name, cfg.Directory.HomeAttr(), u.Home)
			if err := r.save(ctx); err != nil {
				return err
			}
			r.event(ctx, "already-there", r.m.Error)
			return nil
		}
		if r.m.Phase != model.PhaseCutover {
			return permanent(fmt.Errorf("user %q was re-homed to %s outside this move (phase %s); source and target kept", r.m.UID, r.dst.Name, r.m.Phase))
		}
		// Our own cut-over happened but was not recorded (a crash between
		// the LDAP modify and the commit): the recorded source still holds.
		return r.recordedSource()
	case config.NoHome, config.UnknownHome:
		return permanent(fmt.Errorf("cannot move %q: %s", r.m.UID, e.Reason()))
	}
	src := e.Source
	if r.m.Source != "" && r.m.Source != src.Name {
		return permanent(fmt.Errorf("user %q moved from %s to %s outside this move; retry it as a new move", r.m.UID, r.m.Source, src.Name))
	}
	if !e.OK() {
		return permanent(fmt.Errorf("cannot move %q from %s to %s: %s", r.m.UID, src.Name, r.dst.Name, e.Reason()))
	}
	r.src = src
	if r.m.Source == "" || r.m.UserDN != u.DN {
		r.m.Source, r.m.UserDN = src.Name, u.DN
		if r.m.Phase == "" {
			r.m.Phase = model.PhasePreflight
		}
		return r.save(ctx)
	}
	return nil
}

// recordedSource sets the move's source from its record, for a move whose
// directory update happened already: the directory then names the target.
func (r *run) recordedSource() error {
	src, ok := r.mv.Config.Server(r.m.Source)
	if !ok {
		return permanent(fmt.Errorf("source server %q of this move is no longer in the configuration", r.m.Source))
	}
	r.src = src
	return nil
}

// recordedServers sets source and target from the move's record where this
// run has not resolved them (its preflight did not run yet).
func (r *run) recordedServers() error {
	if r.dst.Name == "" && r.m.Target != "" {
		dst, ok := r.mv.Config.Server(r.m.Target)
		if !ok {
			return permanent(fmt.Errorf("target server %q of this move is no longer in the configuration", r.m.Target))
		}
		r.dst = dst
	}
	if r.src.Name == "" && r.m.Source != "" {
		return r.recordedSource()
	}
	return nil
}
