package config

import (
	"fmt"
	"strings"
)

// Verdict is the answer of the move rule (CanMove) for one user and target.
type Verdict int

const (
	// Movable: the user lives on a registered server from which the mode
	// allows a move to the target (or, asked without a target, the user
	// lives on a registered server and can be selected).
	Movable Verdict = iota
	// AlreadyThere: the user already lives on the target. Nothing is to be
	// moved; this is not an error (the mover finishes such a move as
	// model.MoveAlreadyThere, the wizard skips the user).
	AlreadyThere
	// UnknownTarget: the target is not a registered server.
	UnknownTarget
	// NoHome: the user has no home attribute value.
	NoHome
	// UnknownHome: the home attribute names no registered server.
	UnknownHome
	// OtherGroup: mixed mode, and the source's administrative group is not
	// the target's.
	OtherGroup
)

// Eligibility is what CanMove decided.
type Eligibility struct {
	Verdict Verdict
	Source  Server // the server the user's home names; zero for NoHome and UnknownHome
	Target  Server // zero for UnknownTarget and when no target was asked about
	reason  string
}

// OK reports whether the move may run.
func (e Eligibility) OK() bool { return e.Verdict == Movable }

// Refused reports whether the move must not run: anything but Movable and
// AlreadyThere.
func (e Eligibility) Refused() bool { return e.Verdict != Movable && e.Verdict != AlreadyThere }

// Reason says why the move may not run (or why there is nothing to move),
// as a lower-case clause without a final period, fit for a page or a move's
// error; "" when OK.
func (e Eligibility) Reason() string { return e.reason }

// CanMove is the one rule of who may move where, used by the mover's
// preflight and by every wizard step. home is the user's home attribute
// value as the directory has it; target is a server name, or "" to ask only
// about the user's side (the wizard's user step, before a target is
// chosen). The checks, in order:
//
//  1. the target is a registered server (UnknownTarget);
//  2. the user has a home value (NoHome) that names a registered server,
//     ignoring case (UnknownHome);
//  3. that server is not the target (AlreadyThere);
//  4. in mixed mode, source and target are in the same group (OtherGroup).
//
// Whether the user is in the directory is the directory's answer, and
// whether the user already has an unfinished move is the job store's (it
// refuses a second one atomically); callers check both themselves.
func (c *Config) CanMove(home, target string) Eligibility {
	var e Eligibility
	if target != "" {
		dst, ok := c.Server(target)
		if !ok {
			return refuse(e, UnknownTarget, "target server %q is not registered", target)
		}
		e.Target = dst
	}
	if strings.TrimSpace(home) == "" {
		return refuse(e, NoHome, "no %s value, so no registered server holds the mailbox", c.Directory.HomeAttr())
	}
	src, ok := c.ServerByHome(home)
	if !ok {
		return refuse(e, UnknownHome, "%s %q is not a registered server", c.Directory.HomeAttr(), home)
	}
	e.Source = src
	switch {
	case target == "":
		return e
	case src.Name == e.Target.Name:
		return refuse(e, AlreadyThere, "the mailbox already is on %s", src.Name)
	case c.Mode == ModeMixed && src.Group != e.Target.Group:
		return refuse(e, OtherGroup, "mixed mode: target group %q differs from source group %q", e.Target.Group, src.Group)
	}
	return e
}

func refuse(e Eligibility, v Verdict, format string, args ...any) Eligibility {
	e.Verdict, e.reason = v, fmt.Sprintf(format, args...)
	return e
}

// HomeAttr is the directory attribute that names the user's server:
// HomeAttribute, or DefaultHomeAttribute when it is unset (a Config built
// in code rather than parsed). Every reader of the attribute's name uses
// this.
func (d Directory) HomeAttr() string {
	if d.HomeAttribute == "" {
		return DefaultHomeAttribute
	}
	return d.HomeAttribute
}
