package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// preflight is the move's first phase (docs/engine.md): it checks that the
// user exists, lives on a registered server other than the target, and that
// the mode allows the move. A resumed move after the directory update keeps
// its recorded source.
func (r *run) preflight(ctx context.Context) error {
	cfg := r.mv.Config
	dst, ok := cfg.Server(r.m.Target)
	if !ok {
		return permanent(fmt.Errorf("target server %q is not in the configuration", r.m.Target))
	}
	r.dst = dst
	u, err := r.mv.Dir.Lookup(ctx, r.m.UID)
	if errors.Is(err, directory.ErrNotFound) {
		return permanent(fmt.Errorf("user %q is not in the directory", r.m.UID))
	}
	if err != nil {
		return fmt.Errorf("look up %q in the directory: %w", r.m.UID, err)
	}
	r.user = u
	if !r.m.DirectoryUpdated.IsZero() {
		src, ok := cfg.Server(r.m.Source)
		if !ok {
			return permanent(fmt.Errorf("source server %q of this move is no longer in the configuration", r.m.Source))
		}
		r.src = src
		return nil
	}
	if strings.EqualFold(u.Home, dst.Home) {
		if r.m.Phase == "" || r.m.Phase == model.PhasePreflight {
			r.m.State, r.m.Phase, r.m.UserDN, r.m.FinishedAt = model.MoveAlreadyThere, model.PhaseDone, u.DN, r.mv.now()
			r.m.Error = fmt.Sprintf("mailbox already on %s (%s=%s); nothing to do", dst.Name, cfg.Directory.HomeAttribute, u.Home)
			if err := r.save(ctx); err != nil {
				return err
			}
			r.event(ctx, "already-there", r.m.Error)
			return nil
		}
		if r.m.Phase != model.PhaseCutover {
			return permanent(fmt.Errorf("user %q was re-homed to %s outside this move (phase %s); source and target kept", r.m.UID, dst.Name, r.m.Phase))
		}
		// Our own cut-over happened but was not recorded (a crash between
		// the LDAP modify and the commit): the recorded source still holds.
		src, ok := cfg.Server(r.m.Source)
		if !ok {
			return permanent(fmt.Errorf("source server %q of this move is no longer in the configuration", r.m.Source))
		}
		r.src = src
		return nil
	}
	src, ok := cfg.ServerByHome(u.Home)
	if !ok {
		return permanent(fmt.Errorf("user %q has %s %q, which is no registered server", r.m.UID, cfg.Directory.HomeAttribute, u.Home))
	}
	if r.m.Source != "" && r.m.Source != src.Name {
		return permanent(fmt.Errorf("user %q moved from %s to %s outside this move; retry it as a new move", r.m.UID, r.m.Source, src.Name))
	}
	if ok, why := cfg.Eligible(src, dst); !ok {
		return permanent(fmt.Errorf("cannot move %q from %s to %s: %s", r.m.UID, src.Name, dst.Name, why))
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
