package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// copyAll is the copy phase (docs/engine.md): every selectable folder, message by message.
func (r *run) copyAll(ctx context.Context, next model.Phase) error {
	folders, err := r.mv.DB.Folders(ctx, r.m.ID)
	if err != nil {
		return err
	}
	// Each folder copied is read back while the next one copies, so that
	// verification (same bytes, verify_content.go) costs little time.
	rb := r.startReadBack(ctx)
	for i := range folders {
		if _, err := r.copyFolder(ctx, &folders[i]); err != nil {
			rb.stop()
			return err
		}
		rb.add(folders[i])
	}
	rb.stop()
	return r.setPhase(ctx, next)
}

// msgMeta is what APPEND needs before the body: flags and INTERNALDATE.
type msgMeta struct {
	uid   imap.UID
	flags []imap.Flag
	date  time.Time
	size  int64
}

// folderView is what copyFolder read of a folder: the source UIDs, the
// copy records and the skipped UIDs. current says nothing was copied or
// reconciled after those reads, so they still describe the folder and a
// caller (verification) need not read them again.
type folderView struct {
	present bool // the folder exists on the source and is selectable
	current bool
	uids    []imap.UID
	copies  map[uint32]db.Copy
	skipped map[uint32]bool
}

// copyFolder copies every source message of f not yet on the target. It is
// safe to call again at any point: what is done is skipped and what was in
// flight is reconciled first.
func (r *run) copyFolder(ctx context.Context, f *db.Folder) (folderView, error) {
	if f.NoSelect {
		return folderView{}, nil
	}
	if err := r.checkCancel(ctx); err != nil {
		return folderView{}, err
	}
	sc, dc, err := r.conns(ctx)
	if err != nil {
		return folderView{}, err
	}
	r.m.CurrentFolder = f.Source
	r.publish()
	uids, ok, err := r.openFolder(ctx, sc, dc, f)
	if err != nil || !ok {
		return folderView{}, err
	}
	v := folderView{present: true, current: true, uids: uids}
	if v.copies, err = r.mv.DB.Copies(ctx, f.ID); err != nil {
		return folderView{}, err
	}
	if hasSending(v.copies) {
		v.current = false
		if v.copies, err = r.reconcile(ctx, f, v.copies); err != nil {
			return folderView{}, err
		}
		if _, err := sc.c.Select(f.Source, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return folderView{}, fmt.Errorf("examine %q: %w", f.Source, err)
		}
	}
	if v.skipped, err = r.skippedIn(ctx, f.Source); err != nil {
		return folderView{}, err
	}
	var todo []imap.UID
	for _, u := range uids {
		if _, ok := v.copies[uint32(u)]; !ok && !v.skipped[uint32(u)] {
			todo = append(todo, u)
		}
	}
	if len(todo) > 0 {
		v.current = false
	}
	for len(todo) > 0 {
		if err := r.checkCancel(ctx); err != nil {
			return folderView{}, err
		}
		n := min(len(todo), r.mv.chunkSize())
		if err := r.copyChunk(ctx, f, todo[:n]); err != nil {
			return folderView{}, err
		}
		todo = todo[n:]
	}
	return v, nil
}

// openFolder EXAMINEs the source folder, checks both UIDVALIDITYs against
// the checkpoint (resetting the folder when either changed: its UIDs mean
// nothing now) and returns the source UIDs. ok is false when the folder
// vanished from the source.
func (r *run) openFolder(ctx context.Context, sc, dc *conn, f *db.Folder) ([]imap.UID, bool, error) {
	// The three commands go out together, and both servers answer at once:
	// this runs for every folder in the copy, verify and delta passes. The
	// search fails harmlessly (no mailbox selected) when the EXAMINE does.
	selCmd := sc.c.Select(f.Source, &imap.SelectOptions{ReadOnly: true})
	searchCmd := sc.c.UIDSearch(&imap.SearchCriteria{}, nil)
	stCmd := dc.c.Status(f.Target, &imap.StatusOptions{UIDNext: true, UIDValidity: true})
	sel, err := selCmd.Wait()
	res, serr := searchCmd.Wait()
	st, stErr := stCmd.Wait()
	if gone, gerr := sourceGone(sc, f.Source, err); gerr != nil {
		return nil, false, gerr
	} else if gone {
		r.event(ctx, "folder-vanished", fmt.Sprintf("%s: %v", f.Source, err))
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("examine %q: %w", f.Source, err)
	}
	if err := stErr; err != nil {
		if isNo(err) {
			return nil, false, abandonf("target folder %q of %q is not there: %v", f.Target, f.Source, err)
		}
		return nil, false, fmt.Errorf("status %q on target: %w", f.Target, err)
	}
	changed := (f.SourceUIDValidity != 0 && f.SourceUIDValidity != sel.UIDValidity) ||
		(f.TargetUIDValidity != 0 && f.TargetUIDValidity != st.UIDValidity)
	if changed {
		if !r.m.DirectoryUpdated.IsZero() {
			return nil, false, permanent(fmt.Errorf("UIDVALIDITY of %q changed after the directory update; stopping before anything is removed", f.Source))
		}
		r.event(ctx, "uidvalidity", fmt.Sprintf("%s: UIDVALIDITY changed; copying the folder again", f.Source))
		if err := r.purgeFolderCopies(ctx, dc, f); err != nil {
			return nil, false, err
		}
		if err := r.mv.DB.ResetFolder(ctx, *f); err != nil {
			return nil, false, err
		}
		f.SourceUIDValidity, f.TargetUIDValidity, f.TargetUIDFloor = 0, 0, 0
	}
	if f.SourceUIDValidity == 0 || f.TargetUIDFloor == 0 {
		f.SourceUIDValidity, f.TargetUIDValidity = sel.UIDValidity, st.UIDValidity
		f.TargetUIDFloor = max(uint32(st.UIDNext), 1)
		if err := r.mv.DB.SaveFolder(ctx, *f); err != nil {
			return nil, false, err
		}
	}
	if serr != nil {
		return nil, false, fmt.Errorf("search %q: %w", f.Source, serr)
	}
	uids := res.AllUIDs()
	slices.Sort(uids)
	return uids, true, nil
}

// sourceGone tells, from the error of a SELECT or EXAMINE of a source
// folder, whether the folder is gone: only a NO that is not throttling, and
// only if LIST agrees (a server may refuse to open a folder it still has;
// then the caller handles err as any other refusal).
func sourceGone(sc *conn, name string, err error) (bool, error) {
	if !isNo(err) || isThrottle(err) {
		return false, nil
	}
	listed, lerr := folderListed(sc, name)
	return !listed, lerr
}

// folderListed reports whether the source still lists name. LIST takes a
// pattern, and a name may hold "%" or "*": the answer is searched for the
// exact name.
func folderListed(sc *conn, name string) (bool, error) {
	boxes, err := sc.c.List("", name, nil).Collect()
	if err != nil {
		return false, fmt.Errorf("list %q: %w", name, err)
	}
	for _, b := range boxes {
		if b.Mailbox == name && !hasAttr(b.Attrs, imap.MailboxAttrNonExistent) {
			return true, nil
		}
	}
	return false, nil
}

func hasSending(cs map[uint32]db.Copy) bool {
	for _, c := range cs {
		if c.State == db.CopySending {
			return true
		}
	}
	return false
}

func (mv *Mover) chunkSize() int {
	if mv.ChunkSize > 0 {
		return mv.ChunkSize
	}
	return 250
}

func (mv *Mover) window() int {
	if mv.Window > 0 {
		return mv.Window
	}
	return 32
}

// copyFlags drops \Recent, which only a server may set (RFC 3501 §2.3.2);
// Dovecot returns it and APPEND rejects it.
func copyFlags(flags []imap.Flag) []imap.Flag {
	out := make([]imap.Flag, 0, len(flags))
	for _, f := range flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			out = append(out, f)
		}
	}
	return out
}
