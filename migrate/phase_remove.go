package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// removeSource is the remove phase (docs/engine.md): delete from the source exactly the
// messages verified on the target, under the UIDVALIDITY they were
// verified for, then the folders left empty (children first). Anything
// else (skipped items, mail that arrived after the final pass) stays, and
// the report says so.
func (r *run) removeSource(ctx context.Context) error {
	sc, _, err := r.conns(ctx)
	if err != nil {
		return err
	}
	folders, err := r.mv.DB.Folders(ctx, r.m.ID)
	if err != nil {
		return err
	}
	var kept []string
	for i := len(folders) - 1; i >= 0; i-- {
		f := folders[i]
		if f.State == db.FolderRemoved {
			continue
		}
		left, err := r.removeFolder(ctx, sc, &f)
		if err != nil {
			return err
		}
		if left > 0 {
			kept = append(kept, fmt.Sprintf("%s (%d)", f.Source, left))
		}
		f.State = db.FolderRemoved
		if err := r.mv.DB.SaveFolder(ctx, f); err != nil {
			return err
		}
		r.mv.crash("remove")
	}
	if len(kept) > 0 {
		r.event(ctx, "source-kept", "messages not verified on the target stay on the source: "+strings.Join(kept, ", "))
	}
	r.m.SourceRemoved = r.mv.now()
	if err := r.save(ctx); err != nil {
		return err
	}
	return r.setPhase(ctx, model.PhaseDone)
}

// removeFolder removes the verified messages of one folder and the folder
// itself if nothing is left in it. It returns how many messages stay.
func (r *run) removeFolder(ctx context.Context, sc *conn, f *db.Folder) (int, error) {
	r.m.CurrentFolder = f.Source
	left := 0
	if !f.NoSelect {
		if f.State != db.FolderVerified {
			return 0, permanent(fmt.Errorf("folder %q was not verified; refusing to remove it from the source", f.Source))
		}
		sel, err := sc.c.Select(f.Source, nil).Wait()
		gone, gerr := sourceGone(sc, f.Source, err)
		switch {
		case gerr != nil:
			return 0, gerr
		case gone:
			// Already gone (a crash after our DELETE, or the user deleted
			// it): make sure the subscription went too.
			if err := sc.c.Unsubscribe(f.Source).Wait(); err != nil && !isNo(err) {
				return 0, err
			}
			return 0, nil
		case isNo(err) && !isThrottle(err):
			// There, but the server will not open it: nothing in it is
			// removed, and the admin is told.
			r.event(ctx, "folder-kept", fmt.Sprintf("%s: the source refused to open it for removal (%v); its messages stay there", f.Source, err))
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("select %q: %w", f.Source, err)
		}
		if sel.UIDValidity != f.SourceUIDValidity {
			// The folder was deleted and created again since it was verified:
			// by us before a crash (servers auto-create special-use folders)
			// or by the user. Its UIDs are not ours, so nothing in it is
			// removed; an empty one is simply done.
			if err := unselect(sc); err != nil {
				return 0, err
			}
			if sel.NumMessages > 0 {
				r.event(ctx, "folder-kept", fmt.Sprintf("%s was re-created since verification and holds %d messages; kept", f.Source, sel.NumMessages))
			}
			return int(sel.NumMessages), nil
		}
		copies, err := r.mv.DB.Copies(ctx, f.ID)
		if err != nil {
			return 0, err
		}
		var del []uint32
		if sel.NumMessages > 0 {
			res, err := sc.c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
			if err != nil {
				return 0, fmt.Errorf("search %q: %w", f.Source, err)
			}
			for _, u := range res.AllUIDs() {
				// Only a copy whose bytes were read back and matched.
				if c, ok := copies[uint32(u)]; ok && c.State == db.CopyDone && c.Verified {
					del = append(del, uint32(u))
				} else {
					left++
				}
			}
		}
		// Expunged under the SELECT whose UIDVALIDITY was checked above:
		// selecting again would cost a round trip and let the folder be
		// re-created in between, its UIDs naming other messages.
		if err := expungeSelected(sc, f.Source, del); err != nil {
			return 0, err
		}
		if err := unselect(sc); err != nil {
			return 0, err
		}
	}
	if left == 0 && !strings.EqualFold(f.Source, "INBOX") {
		err := sc.c.Delete(f.Source).Wait()
		switch {
		case err == nil, imapCode(err) == imap.ResponseCodeNonExistent:
			// NONEXISTENT: already gone, as a \NoSelect parent is once
			// its children were deleted (Dovecot), or after a crash.
		case isNo(err):
			r.event(ctx, "folder-kept", fmt.Sprintf("%s: %v", f.Source, err))
		default:
			return 0, fmt.Errorf("delete %q: %w", f.Source, err)
		}
		if err := sc.c.Unsubscribe(f.Source).Wait(); err != nil && !isNo(err) {
			return 0, err
		}
	}
	return left, nil
}

// expungeSelected removes exactly these messages from mailbox, which c has
// selected read-write (RFC 4315 UID EXPUNGE, so nothing else flagged
// \Deleted by the user is touched). expungeUIDs is the same with its own
// SELECT.
func expungeSelected(c *conn, mailbox string, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	if !c.caps.Has(imap.CapUIDPlus) {
		return fmt.Errorf("%s has no UIDPLUS: cannot remove single messages from %q safely", c.server.Name, mailbox)
	}
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	if err := c.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("flag deleted in %q: %w", mailbox, err)
	}
	if err := c.c.UIDExpunge(set).Close(); err != nil {
		return fmt.Errorf("expunge in %q: %w", mailbox, err)
	}
	return nil
}

// cleanupTarget undoes a move that is abandoned or cancelled before the
// cut-over: folders we created are deleted, and our copies in folders that
// existed are expunged by UID. Copies in flight are reconciled first so
// that none is left behind.
func (r *run) cleanupTarget(ctx context.Context) error {
	folders, err := r.mv.DB.Folders(ctx, r.m.ID)
	if err != nil {
		return err
	}
	for i := len(folders) - 1; i >= 0; i-- {
		f := folders[i]
		_, dc, err := r.conns(ctx)
		if err != nil {
			return err
		}
		if f.SubscribedByUs || f.CreateState != db.CreateExisting {
			if err := dc.c.Unsubscribe(f.Target).Wait(); err != nil && !isNo(err) {
				return fmt.Errorf("unsubscribe target %q: %w", f.Target, err)
			}
		}
		switch f.CreateState {
		case db.CreateCreated, db.CreateSending:
			if err := dc.c.Delete(f.Target).Wait(); err != nil && !isNo(err) {
				return fmt.Errorf("delete target %q: %w", f.Target, err)
			}
		default:
			copies, err := r.mv.DB.Copies(ctx, f.ID)
			if err != nil {
				return err
			}
			if hasSending(copies) {
				if copies, err = r.reconcile(ctx, &f, copies); err != nil {
					return err
				}
			}
			var ours []uint32
			for _, c := range copies {
				if c.State == db.CopyDone && c.TargetUID != 0 {
					ours = append(ours, c.TargetUID)
				}
			}
			if err := expungeUIDs(dc, f.Target, ours); err != nil {
				return err
			}
		}
		if err := r.mv.DB.DeleteFolder(ctx, f.ID); err != nil {
			return err
		}
	}
	return nil
}

// purgeFolderCopies removes our copies of a folder from the target when
// its UIDs no longer identify source messages (UIDVALIDITY changed).
func (r *run) purgeFolderCopies(ctx context.Context, dc *conn, f *db.Folder) error {
	copies, err := r.mv.DB.Copies(ctx, f.ID)
	if err != nil {
		return err
	}
	st, err := dc.c.Status(f.Target, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		return fmt.Errorf("status %q on target: %w", f.Target, err)
	}
	if st.UIDValidity != f.TargetUIDValidity {
		return nil // the target folder was recreated: our copies went with it
	}
	var ours []uint32
	for _, c := range copies {
		if c.TargetUID != 0 {
			ours = append(ours, c.TargetUID)
		}
	}
	return expungeUIDs(dc, f.Target, ours)
}

// unselect leaves the folder without expunging (CLOSE would expunge every
// \Deleted message, including ones the user flagged and we did not copy).
func unselect(c *conn) error {
	var err error
	if c.caps.Has(imap.CapUnselect) {
		err = c.c.Unselect().Wait()
	} else {
		_, err = c.c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	}
	if err != nil && !isNo(err) {
		return err
	}
	return nil
}
