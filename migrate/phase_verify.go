package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// verifyAll is the verify phase (docs/engine.md): per folder, every source message is on
// the target (count plus a per-message check of UID and size). A folder
// with something missing is copied again and checked again; three rounds
// without agreement fail the move before anything irreversible happens.
func (r *run) verifyAll(ctx context.Context, next model.Phase) error {
	if r.m.Phase == model.PhaseVerify || r.m.Phase == model.PhaseCopy {
		if r.m.Phase != model.PhaseVerify {
			if err := r.setPhase(ctx, model.PhaseVerify); err != nil {
				return err
			}
		}
	}
	var problems []string
	for round := 0; round < 3; round++ {
		folders, err := r.mv.DB.Folders(ctx, r.m.ID)
		if err != nil {
			return err
		}
		problems = problems[:0]
		for i := range folders {
			problem, err := r.verifyFolder(ctx, &folders[i])
			if err != nil {
				return err
			}
			if problem != "" {
				problems = append(problems, problem)
			}
		}
		if len(problems) == 0 {
			if next == model.PhaseCutover {
				if err := r.syncState(ctx); err != nil {
					return err
				}
			}
			r.event(ctx, "verified", fmt.Sprintf("%d folders verified", len(folders)))
			r.mv.crash("verified")
			if next == model.PhaseCutover {
				if r.job.Stage {
					return r.waitOrComplete(ctx)
				}
				return r.takeCutover(ctx)
			}
			closed := r.m.DeltaDoneAt.IsZero()
			if closed {
				// The final delta pass ended: the cut-over window closes
				// (committed with the phase).
				r.m.DeltaDoneAt = r.mv.now()
			}
			if err := r.setPhase(ctx, next); err != nil {
				return err
			}
			if w := r.m.CutoverWindow(); closed && w > 0 {
				r.event(ctx, "cutover-window", fmt.Sprintf("cut-over window %s (directory update to the end of the final delta)", w.Round(time.Millisecond)))
			}
			return nil
		}
		r.log.Warn("verify found differences", "problems", problems)
	}
	return permanent(fmt.Errorf("verification failed three times: %v", errors.Join(errorsOf(problems)...)))
}

func errorsOf(ss []string) []error {
	out := make([]error, len(ss))
	for i, s := range ss {
		out[i] = errors.New(s)
	}
	return out
}

// verifyFolder copies what is still missing, then checks the target. It
// returns a description of what did not match ("" when all did).
func (r *run) verifyFolder(ctx context.Context, f *db.Folder) (string, error) {
	if f.NoSelect {
		return "", nil
	}
	v, err := r.copyFolder(ctx, f)
	if err != nil {
		return "", err
	}
	if !v.present {
		return "", r.folderGone(ctx, f)
	}
	sc, dc, err := r.conns(ctx)
	if err != nil {
		return "", err
	}
	if !v.current {
		// Something was copied: read the folder again, which also picks up
		// mail that arrived meanwhile.
		var ok bool
		if v, ok, err = r.rereadFolder(ctx, sc, dc, f); err != nil {
			return "", err
		}
		if !ok {
			return "", r.folderGone(ctx, f)
		}
	}
	want, missing := doneCopies(v)
	if missing > 0 {
		return fmt.Sprintf("%q: %d source messages not on the target", f.Source, missing), nil
	}
	onTarget, err := targetSizes(dc, f)
	if err != nil {
		return "", err
	}
	if onTarget, err = r.removeExtras(ctx, dc, f, v.copies, onTarget); err != nil {
		return "", err
	}
	bad, altered := compareSizes(want, onTarget)
	if !r.m.DirectoryUpdated.IsZero() {
		// After the cut-over the target is the user's mailbox: a copy the
		// target acknowledged (APPENDUID) that is gone now was deleted by
		// the user. It is not sent again (that would bring back what they
		// deleted). Its source goes with the other verified sources if it
		// was verified before; if not, it stays on the source, where the
		// removal's source-kept event names it.
		gone := map[uint32]bool{}
		bad = slices.DeleteFunc(bad, func(c db.Copy) bool {
			if c.TargetUID != 0 {
				gone[c.SourceUID] = true
				return true
			}
			return false
		})
		if len(gone) > 0 {
			want = slices.DeleteFunc(want, func(c db.Copy) bool { return gone[c.SourceUID] })
			r.event(ctx, "deleted-on-target", fmt.Sprintf("%q: %d messages deleted on the target by the user after the switch are not copied again", f.Source, len(gone)))
		}
	}
	if len(bad) > 0 {
		if err := r.forgetBad(ctx, f, bad); err != nil {
			return "", err
		}
		return fmt.Sprintf("%q: %d copies missing on the target", f.Source, len(bad)), nil
	}
	// Same size is not same bytes: read the copies back.
	differ, unread, err := r.checkContent(ctx, dc, f, want, altered)
	if err != nil {
		return "", err
	}
	if err := r.rejectAltered(ctx, sc, dc, f, differ); err != nil {
		return "", err
	}
	if unread > 0 {
		return fmt.Sprintf("%q: %d copies vanished from the target while being read back", f.Source, unread), nil
	}
	f.State = db.FolderVerified
	return "", r.mv.DB.SaveFolder(ctx, *f)
}

// folderGone settles a folder that is no longer on the source (openFolder
// recorded a folder-vanished event): nothing there is left to verify. What
// was copied before it went stays on the target. The removal finds it gone;
// should a folder of that name be back by then, the removal takes only
// sources verified under their UIDVALIDITY and keeps the rest, reported.
func (r *run) folderGone(ctx context.Context, f *db.Folder) error {
	f.State = db.FolderVerified
	return r.mv.DB.SaveFolder(ctx, *f)
}

// rereadFolder reads f's source UIDs, copy records and skipped UIDs anew,
// for a view that copying made stale. ok is false when the source folder
// can no longer be opened (openFolder has recorded why).
func (r *run) rereadFolder(ctx context.Context, sc, dc *conn, f *db.Folder) (v folderView, ok bool, err error) {
	if v.uids, ok, err = r.openFolder(ctx, sc, dc, f); err != nil || !ok {
		return folderView{}, ok, err
	}
	if v.copies, err = r.mv.DB.Copies(ctx, f.ID); err != nil {
		return folderView{}, false, err
	}
	if v.skipped, err = r.skippedIn(ctx, f.Source); err != nil {
		return folderView{}, false, err
	}
	v.present, v.current = true, true
	return v, true, nil
}

// doneCopies returns the done copy of each source message, in source UID
// order, and how many source messages have neither a done copy nor a
// skip record: those are not on the target yet.
func doneCopies(v folderView) (want []db.Copy, missing int) {
	for _, u := range v.uids {
		c, ok := v.copies[uint32(u)]
		switch {
		case ok && c.State == db.CopyDone:
			want = append(want, c)
		case !v.skipped[uint32(u)]:
			missing++
		}
	}
	return want, missing
}

// compareSizes checks each wanted copy against the target's sizes: bad
// copies are not there, altered ones are there with another size (the
// target changed the message). Without UIDPLUS a copy has no target UID
// and is only counted against a target message of its size, each used once.
func compareSizes(want []db.Copy, onTarget map[imap.UID]int64) (bad, altered []db.Copy) {
	bySize := map[int64]int{} // for targets without UIDPLUS
	for _, n := range onTarget {
		bySize[n]++
	}
	for _, c := range want {
		if c.TargetUID != 0 {
			n, ok := onTarget[imap.UID(c.TargetUID)]
			switch {
			case !ok:
				bad = append(bad, c)
			case n != c.Size:
				altered = append(altered, c)
			}
			continue
		}
		if bySize[c.Size] == 0 {
			bad = append(bad, c)
			continue
		}
		bySize[c.Size]--
	}
	return bad, altered
}

// forgetBad forgets the copies that are not on the target, so that the
// next round sends them again. (A bad copy is one whose target UID is
// absent, or, without UIDPLUS, one no target message of its size answers:
// there is nothing of it on the target to remove.)
func (r *run) forgetBad(ctx context.Context, f *db.Folder, bad []db.Copy) error {
	forget := make([]uint32, 0, len(bad))
	for _, c := range bad {
		forget = append(forget, c.SourceUID)
	}
	if err := r.mv.DB.ForgetCopies(ctx, f.ID, forget); err != nil {
		return err
	}
	return r.recount(ctx)
}

// removeExtras enforces that the target folder holds exactly the recorded
// copies above its UID floor. An extra is a target message there that no
// copy record claims: a server still executing APPENDs of a process that
// died (or a connection cut mid-answer) lands them after the resumed run
// has reconciled and sent them again. An extra with the size and SHA-256 of
// a recorded copy of this folder is such a duplicate of ours and is removed
// (UID EXPUNGE); any other extra is reported and kept (before the cut-over
// someone else put it there; after it, it is new mail for the user). It
// returns onTarget without the removed messages.
func (r *run) removeExtras(ctx context.Context, dc *conn, f *db.Folder, copies map[uint32]db.Copy,
	onTarget map[imap.UID]int64) (map[imap.UID]int64, error) {
	claimed := map[imap.UID]bool{}
	ours := map[string]bool{} // size and SHA-256 of the recorded copies
	for _, c := range copies {
		if c.State != db.CopyDone {
			continue
		}
		if c.TargetUID == 0 {
			return onTarget, nil // no UIDPLUS: extras cannot be told apart
		}
		claimed[imap.UID(c.TargetUID)] = true
		ours[copyKey(c.Size, c.SHA256)] = true
	}
	var extras []imap.UID
	for uid := range onTarget {
		if !claimed[uid] {
			extras = append(extras, uid)
		}
	}
	if len(extras) == 0 {
		return onTarget, nil
	}
	slices.Sort(extras)
	// targetSizes left the target folder selected.
	sums, err := hashBodies(dc, extras)
	if err != nil {
		return nil, fmt.Errorf("hash extra messages in target %q: %w", f.Target, err)
	}
	var dups []uint32
	var foreign []imap.UID
	for _, uid := range extras {
		if sum, ok := sums[uid]; ok && ours[copyKey(onTarget[uid], sum)] {
			dups = append(dups, uint32(uid))
		} else if ok {
			foreign = append(foreign, uid)
		}
	}
	if len(dups) > 0 {
		if err := expungeUIDs(dc, f.Target, dups); err != nil {
			return nil, err
		}
		for _, u := range dups {
			delete(onTarget, imap.UID(u))
		}
		r.event(ctx, "duplicates-removed", fmt.Sprintf("%s: removed %d duplicate copies an interrupted run had sent (target UIDs %s)",
			f.Target, len(dups), uidList(dups)))
		r.log.Warn("removed duplicate copies", "folder", f.Source, "count", len(dups))
	}
	if len(foreign) > 0 && r.m.DirectoryUpdated.IsZero() {
		r.event(ctx, "foreign-on-target", fmt.Sprintf("%s: %d messages on the target that this move did not copy were kept (target UIDs %s)",
			f.Target, len(foreign), uidList(foreign)))
	}
	return onTarget, nil
}

// copyKey identifies a message's bytes.
func copyKey(size int64, sum []byte) string {
	return fmt.Sprintf("%d:%x", size, sum)
}

// uidList formats UIDs compactly for an event ("1002:1005,1009").
func uidList[U ~uint32](uids []U) string {
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	return set.String()
}

// targetSizes returns UID -> RFC822.SIZE of the target folder's messages at
// or above the folder's UID floor (everything we can have put there).
func targetSizes(dc *conn, f *db.Folder) (map[imap.UID]int64, error) {
	// EXAMINE and FETCH go out together (one round trip); the FETCH fails
	// harmlessly (no mailbox selected) when the EXAMINE does.
	selCmd := dc.c.Select(f.Target, &imap.SelectOptions{ReadOnly: true})
	var set imap.UIDSet
	set.AddRange(imap.UID(max(f.TargetUIDFloor, 1)), 0)
	fetch := dc.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true})
	sel, err := selCmd.Wait()
	if err != nil {
		fetch.Close()
		return nil, fmt.Errorf("examine target %q: %w", f.Target, err)
	}
	out := map[imap.UID]int64{}
	if sel.NumMessages == 0 {
		// Whatever a server answers to "n:*" in an empty folder (Dovecot:
		// nothing, OK), there is nothing to list.
		fetch.Close()
		return out, nil
	}
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		buf, err := msg.Collect()
		if err != nil {
			fetch.Close()
			return nil, fmt.Errorf("sizes on target %q: %w", f.Target, err)
		}
		if uint32(buf.UID) >= f.TargetUIDFloor {
			out[buf.UID] = buf.RFC822Size
		}
	}
	if err := fetch.Close(); err != nil {
		return nil, fmt.Errorf("sizes on target %q: %w", f.Target, err)
	}
	return out, nil
}

// expungeUIDs removes exactly these messages (RFC 4315 UID EXPUNGE, so
// nothing else flagged \Deleted by the user is touched).
func expungeUIDs(c *conn, mailbox string, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	if !c.caps.Has(imap.CapUIDPlus) {
		return fmt.Errorf("%s has no UIDPLUS: cannot remove single messages from %q safely", c.server.Name, mailbox)
	}
	if _, err := c.c.Select(mailbox, nil).Wait(); err != nil {
		return fmt.Errorf("select %q: %w", mailbox, err)
	}
	return expungeSelected(c, mailbox, uids)
}
