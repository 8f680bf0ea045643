package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// hierarchy is the hierarchy phase (docs/engine.md): recreate the folder tree on the target,
// then measure the mailbox and check the target's quota before any message
// is copied.
func (r *run) hierarchy(ctx context.Context, next model.Phase) error {
	if r.m.Phase != model.PhaseHierarchy {
		if err := r.setPhase(ctx, model.PhaseHierarchy); err != nil {
			return err
		}
	}
	if err := r.syncHierarchy(ctx); err != nil {
		return err
	}
	if err := r.measure(ctx); err != nil {
		return err
	}
	if err := r.checkQuota(ctx); err != nil {
		return err
	}
	r.mv.crash("hierarchy-done")
	return r.setPhase(ctx, next)
}

// listFolders LISTs a server's personal namespace with special-use and
// subscription information where the server can return them (RFC 5258,
// RFC 6154).
func listFolders(c *conn) ([]*imap.ListData, error) {
	var opts *imap.ListOptions
	if c.caps.Has(imap.CapListExtended) {
		opts = &imap.ListOptions{ReturnSubscribed: true, ReturnSpecialUse: c.caps.Has(imap.CapSpecialUse)}
	}
	boxes, err := c.c.List("", "*", opts).Collect()
	if err != nil {
		return nil, fmt.Errorf("list folders on %s: %w", c.server.Name, err)
	}
	out := boxes[:0]
	for _, b := range boxes {
		if !c.foreign(b.Mailbox) {
			out = append(out, b)
		}
	}
	return out, nil
}

// foreign reports whether a name is in another user's or a shared namespace.
func (c *conn) foreign(name string) bool {
	for _, p := range c.others {
		if strings.HasPrefix(name, p) || name+string(c.h.Delim) == p {
			return true
		}
	}
	return false
}

// syncHierarchy plans the target names, records them (the first plan wins,
// so a resumed move keeps its names) and creates what is missing. Run again
// in the delta pass, it picks up folders the user made in the meantime.
//
// A name the target refuses to create is created under a mapped name
// (Hierarchy.mapRefused), recorded in the folder's row before the CREATE so
// that a resumed move keeps it; children follow a renamed parent. A folder
// the target refuses under both names is not recorded at all: its messages
// are bad items for the error policy and stay on the source
// (folderNotCreated).
func (r *run) syncHierarchy(ctx context.Context) error {
	sc, dc, err := r.conns(ctx)
	if err != nil {
		return err
	}
	srcBoxes, err := listFolders(sc)
	if err != nil {
		return err
	}
	dstBoxes, err := listFolders(dc)
	if err != nil {
		return err
	}
	var src []SourceFolder
	for _, b := range srcBoxes {
		src = append(src, SourceFolder{Name: b.Mailbox, Attrs: b.Attrs, Subscribed: b.Attrs != nil && hasAttr(b.Attrs, imap.MailboxAttrSubscribed)})
	}
	var dst []TargetFolder
	for _, b := range dstBoxes {
		dst = append(dst, TargetFolder{Name: b.Mailbox, Attrs: b.Attrs})
	}
	plans, skipped, err := PlanHierarchy(src, dst, sc.h, dc.h)
	if err != nil {
		// Nothing irreversible has happened: the admin renames and retries.
		return abandonf("folder names cannot be mapped onto %s: %v", r.dst.Name, err)
	}
	for _, s := range skipped {
		r.event(ctx, "folder-skipped", fmt.Sprintf("%s: %s", s.Name, s.Reason))
	}
	recorded, err := r.mv.DB.Folders(ctx, r.m.ID)
	if err != nil {
		return err
	}
	pass := newHierarchyPass(dc.h, dstBoxes, plans, recorded)
	for _, p := range plans {
		// A child of a folder created under another name goes under that
		// name; the rewritten name is not on the plan's list of existing
		// folders, so whether it exists is asked again.
		target := dc.h.underRenamed(p.Target, pass.renamed)
		exists := p.Exists
		if target != p.Target {
			exists = pass.present[target]
		}
		state := db.CreateExisting
		if !exists {
			state = db.CreateSending
		}
		f, err := r.mv.DB.AddFolder(ctx, db.Folder{MoveID: r.m.ID, Source: p.Source, Target: target,
			SpecialUse: string(p.SpecialUse), Subscribed: p.Subscribe, NoSelect: p.NoSelect, CreateState: state})
		if err != nil {
			return err
		}
		pass.owner[f.Target] = f.Source
		err = r.createFolder(ctx, dc, &f, pass, p.Target)
		var refused *folderRefusedError
		if errors.As(err, &refused) {
			if err := r.folderNotCreated(ctx, pass, f, refused); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		pass.present[f.Target] = true
		if f.Target != p.Target {
			pass.renamed[p.Target] = f.Target
		}
	}
	return nil
}

// hierarchyPass is what one syncHierarchy knows of the target's names.
type hierarchyPass struct {
	h Hierarchy
	// owner maps a target name to the source folder that has it or is
	// planned onto it; "" marks a folder of the target's own.
	owner map[string]string
	// present holds the target names that exist: LISTed, or created or
	// found by this pass.
	present    map[string]bool
	subscribed map[string]bool
	// renamed maps a planned target name to the name the folder got.
	renamed map[string]string
	// events are the move's events, read when eventOnce first needs them.
	events []model.Event
}

func newHierarchyPass(h Hierarchy, dstBoxes []*imap.ListData, plans []FolderPlan, recorded []db.Folder) *hierarchyPass {
	pass := &hierarchyPass{h: h, owner: map[string]string{}, present: map[string]bool{"INBOX": true},
		subscribed: map[string]bool{}, renamed: map[string]string{}}
	for _, b := range dstBoxes {
		name := canonical(h, b.Mailbox)
		pass.owner[name] = ""
		pass.subscribed[b.Mailbox] = hasAttr(b.Attrs, imap.MailboxAttrSubscribed)
		if !hasAttr(b.Attrs, imap.MailboxAttrNonExistent) {
			pass.present[name] = true
		}
	}
	for _, p := range plans {
		pass.owner[p.Target] = p.Source
	}
	for _, f := range recorded {
		pass.owner[f.Target] = f.Source
	}
	return pass
}

// takenFor reports whether a target name belongs to a folder other than
// the source folder src: the target's own, or another one of this move.
func (pass *hierarchyPass) takenFor(src string) func(string) bool {
	return func(name string) bool {
		o, ok := pass.owner[name]
		return ok && o != src
	}
}

// folderRefusedError: the target refused to create a folder under its
// planned name and under the mapped one (or no mapped name differs).
type folderRefusedError struct {
	names []string // the names tried, planned first
	err   error    // the last refusal
}

func (e *folderRefusedError) Error() string {
	quoted := make([]string, len(e.names))
	for i, n := range e.names {
		quoted[i] = strconv.Quote(n)
	}
	return fmt.Sprintf("the target refused to create it as %s: %v", strings.Join(quoted, ", then as "), e.err)
}

// nameRefused reports whether a CREATE failed because the target will not
// have that name: a NO that is not about quota, throttling or the
// connection (those are retried or abandon the move as before).
func nameRefused(err error) bool {
	if !isNo(err) || isThrottle(err) {
		return false
	}
	switch imapCode(err) {
	case imap.ResponseCodeAlreadyExists, imap.ResponseCodeOverQuota:
		return false
	}
	return true
}

// sendCreate CREATEs f's target, with its special use where the target
// has CREATE-SPECIAL-USE. A folder that exists already counts as created
// (ours, from a run that died before recording it, or one of the same name
// the plan merges into).
func sendCreate(dc *conn, f *db.Folder) error {
	var opts *imap.CreateOptions
	if f.SpecialUse != "" && dc.caps.Has(imap.CapCreateSpecialUse) {
		opts = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttr(f.SpecialUse)}}
	}
	err := dc.c.Create(f.Target, opts).Wait()
	if opts != nil && isNo(err) && imapCode(err) != imap.ResponseCodeAlreadyExists {
		// RFC 6154 §3: a server may refuse the USE; the folder matters
		// more than its special use.
		err = dc.c.Create(f.Target, nil).Wait()
	}
	if imapCode(err) == imap.ResponseCodeAlreadyExists {
		return nil
	}
	return err
}

// createFolder sends CREATE for a folder recorded as 'creating' (the
// intent is committed first, so a crash right after CREATE still knows the
// folder is ours and an abandon removes it) and subscribes as on the source.
// planned is the name PlanHierarchy gave the folder: a folder created under
// another one gets an EventFolderRenamed.
func (r *run) createFolder(ctx context.Context, dc *conn, f *db.Folder, pass *hierarchyPass, planned string) error {
	if f.CreateState == db.CreateSending {
		r.m.CurrentFolder = f.Target
		err := sendCreate(dc, f)
		reason := ""
		if nameRefused(err) {
			refused := f.Target
			mapped, ok := dc.h.mapRefused(f.Target, func(n string) bool { return pass.present[n] })
			if !ok {
				return &folderRefusedError{names: []string{refused}, err: err}
			}
			mapped = dc.h.unusedName(mapped, pass.takenFor(f.Source))
			reason = fmt.Sprintf("the target refused %q (%v)", refused, err)
			r.log.Warn("target refused a folder name; creating it under a look-alike", "folder", f.Source, "refused", refused, "as", mapped, "err", err)
			r.mv.crash("hierarchy-refused")
			// Recorded before the CREATE, like the first name: a crash
			// after it resumes with this name.
			f.Target = mapped
			if err := r.mv.DB.SaveFolder(ctx, *f); err != nil {
				return err
			}
			pass.owner[mapped] = f.Source
			r.m.CurrentFolder = mapped
			if err = sendCreate(dc, f); nameRefused(err) {
				return &folderRefusedError{names: []string{refused, mapped}, err: err}
			}
		}
		if err != nil {
			if isNo(err) && !isThrottle(err) {
				return abandonf("target %s refused to create folder %q (from %q): %v", r.dst.Name, f.Target, f.Source, err)
			}
			return err
		}
		if f.Target != planned {
			// Before the state is saved: a crash in between records it on
			// the resumed run (once: see renameEvent).
			switch {
			case reason != "":
			case f.Target == dc.h.underRenamed(planned, pass.renamed):
				reason = "its parent folder was renamed"
			default:
				reason = fmt.Sprintf("the target refused %q", dc.h.underRenamed(planned, pass.renamed))
			}
			r.renameEvent(ctx, pass, FolderRename{Source: f.Source, Target: f.Target, Reason: reason})
		}
		f.CreateState = db.CreateCreated
		if err := r.mv.DB.SaveFolder(ctx, *f); err != nil {
			return err
		}
		r.mv.crash("hierarchy-create")
	}
	if f.Subscribed && !pass.subscribed[f.Target] && !f.SubscribedByUs {
		// Recorded first, so that a cleanup after a crash still knows.
		f.SubscribedByUs = true
		if err := r.mv.DB.SaveFolder(ctx, *f); err != nil {
			return err
		}
		if err := dc.c.Subscribe(f.Target).Wait(); err != nil && !isNo(err) {
			return err
		}
	}
	return nil
}

// renameEvent records an EventFolderRenamed unless this move has one for
// the same source and target already (a resumed move).
func (r *run) renameEvent(ctx context.Context, pass *hierarchyPass, fr FolderRename) {
	r.log.Info("folder renamed on the target", "folder", fr.Source, "as", fr.Target, "reason", fr.Reason)
	r.eventOnce(ctx, pass, EventFolderRenamed, fr.key(), fr.Message())
}

// eventOnce records an event unless the move has one of this kind whose
// message starts with key.
func (r *run) eventOnce(ctx context.Context, pass *hierarchyPass, kind, key, msg string) {
	if pass.events == nil {
		events, err := r.mv.DB.Events(ctx, r.m.ID)
		if err != nil {
			r.log.Warn("read events", "err", err)
		}
		pass.events = events
	}
	for _, e := range pass.events {
		if e.Kind == kind && strings.HasPrefix(e.Message, key) {
			return
		}
	}
	pass.events = append(pass.events, model.Event{Kind: kind, Message: msg})
	r.event(ctx, kind, msg)
}

// folderNotCreated handles a folder the target refused under every name
// tried. Its row is forgotten, so copy, verification and removal never see
// it and the source folder keeps its messages; each of them is a bad item
// for the error policy (badItem: skipped up to the job's maximum, or the
// mailbox abandoned). A later pass (the delta pass, a resumed move) tries
// again and adds only messages not yet recorded.
func (r *run) folderNotCreated(ctx context.Context, pass *hierarchyPass, f db.Folder, refused *folderRefusedError) error {
	if err := r.mv.DB.DeleteFolder(ctx, f.ID); err != nil {
		return err
	}
	r.log.Warn("target refused a folder", "folder", f.Source, "err", refused)
	sc, _, err := r.conns(ctx)
	if err != nil {
		return err
	}
	metas, err := folderMetas(sc, f.Source)
	if err != nil {
		return err
	}
	skipped, err := r.skippedIn(ctx, f.Source)
	if err != nil {
		return err
	}
	var todo []msgMeta
	for _, m := range metas {
		if !skipped[uint32(m.uid)] {
			todo = append(todo, m)
		}
	}
	key := strconv.Quote(f.Source) + ": "
	what := "it holds no messages"
	if len(metas) > 0 {
		what = fmt.Sprintf("its %d messages stay on the source", len(metas))
	}
	r.eventOnce(ctx, pass, EventFolderNotCreated, key, fmt.Sprintf("%s%v; %s", key, refused, what))
	reason := fmt.Sprintf("target folder not created: %v", refused)
	for _, m := range todo {
		if err := r.badItem(ctx, &f, m, reason); err != nil {
			return err
		}
	}
	return nil
}

// folderMetas EXAMINEs a source folder and returns UID, size and
// INTERNALDATE of its messages, leaving it selected (badItem reads the
// envelopes there). A folder that vanished, or cannot be selected, has none.
func folderMetas(sc *conn, name string) ([]msgMeta, error) {
	sel, err := sc.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if isNo(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("examine %q: %w", name, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	msgs, err := sc.c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}},
		&imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("sizes in %q: %w", name, err)
	}
	out := make([]msgMeta, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, msgMeta{uid: m.UID, date: m.InternalDate, size: m.RFC822Size})
	}
	return out, nil
}

// measure sets the move's totals for progress and the quota check from
// what is known, asking the source only what is not: a folder the copy pass
// has opened counts its copies and skipped items (the store's record of
// it), one not opened yet (all of them in the hierarchy step, in the delta
// pass those made since) is measured once (measureFolder).
func (r *run) measure(ctx context.Context) error {
	folders, err := r.mv.DB.Folders(ctx, r.m.ID)
	if err != nil {
		return err
	}
	msgs, bytes, err := r.mv.DB.CopyTotals(ctx, r.m.ID)
	if err != nil {
		return err
	}
	skipped, err := r.mv.DB.Skipped(ctx, r.m.ID)
	if err != nil {
		return err
	}
	opened := map[string]bool{}
	for _, f := range folders {
		if !f.NoSelect && f.SourceUIDValidity != 0 {
			opened[f.Source] = true
		}
	}
	for _, s := range skipped {
		// A folder the target refused to create (folderNotCreated) has no
		// row: its messages are not in the totals.
		if opened[s.Folder] {
			msgs++
			bytes += s.Size
		}
	}
	for _, f := range folders {
		if f.NoSelect || f.SourceUIDValidity != 0 {
			continue
		}
		sc, _, err := r.conns(ctx)
		if err != nil {
			return err
		}
		n, size, err := measureFolder(sc, f.Source)
		if isNo(err) {
			n, size, err = 0, 0, nil // vanished since LIST; the copy pass notices too
		}
		if err != nil {
			return err
		}
		if n != f.MsgsTotal || size != f.BytesTotal {
			f.MsgsTotal, f.BytesTotal = n, size
			if err := r.mv.DB.SaveFolder(ctx, f); err != nil {
				return err
			}
		}
		msgs += n
		bytes += size
	}
	r.m.MsgsTotal, r.m.BytesTotal = msgs, bytes
	return r.save(ctx)
}

// measureFolder counts a folder's messages and bytes without selecting it:
// STATUS (MESSAGES SIZE) where the server has STATUS=SIZE (RFC 8438).
// Elsewhere STATUS (MESSAGES) answers for an empty folder, and only one
// with mail is examined for the sizes (folderSize).
func measureFolder(sc *conn, name string) (msgs, size int64, err error) {
	withSize := sc.caps.Has(imap.CapStatusSize)
	st, err := sc.c.Status(name, &imap.StatusOptions{NumMessages: true, Size: withSize}).Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("status of %q: %w", name, err)
	}
	if st.NumMessages != nil {
		msgs = int64(*st.NumMessages)
	}
	if withSize {
		if st.Size != nil {
			size = *st.Size
		}
		return msgs, size, nil
	}
	if msgs == 0 {
		return 0, 0, nil
	}
	return folderSize(sc, name, false)
}

// checkQuota abandons the move before any copy when the target's quota
// cannot hold what is left to copy.
func (r *run) checkQuota(ctx context.Context) error {
	_, dc, err := r.conns(ctx)
	if err != nil {
		return err
	}
	q, err := storageQuota(dc)
	if err != nil || q.Limit <= 0 {
		return err
	}
	if need := r.m.BytesTotal - r.m.BytesDone; need > q.Free() {
		return abandonf("target %s quota %q too small: %d KiB of mail to copy, %d KiB free of %d KiB",
			r.dst.Name, q.Root, (need+1023)/1024, max(q.Free()/1024, 0), q.Limit/1024)
	}
	return nil
}

// quota is the STORAGE quota of the INBOX's quota root, in bytes.
type quota struct {
	Root         string
	Limit, Usage int64 // Limit 0: none
}

func (q quota) Free() int64 { return q.Limit - q.Usage }

// storageQuota reads GETQUOTAROOT INBOX (RFC 9208 STORAGE is in KiB). A
// server without QUOTA, or without a quota root, has no limit.
func storageQuota(c *conn) (quota, error) {
	if !c.caps.Has(imap.CapQuota) {
		return quota{}, nil
	}
	roots, err := c.c.GetQuotaRoot("INBOX").Wait()
	if isNo(err) {
		return quota{}, nil
	}
	if err != nil {
		return quota{}, fmt.Errorf("quota on %s: %w", c.server.Name, err)
	}
	for _, r := range roots {
		if res, ok := r.Resources[imap.QuotaResourceStorage]; ok && res.Limit > 0 {
			return quota{Root: r.Root, Limit: res.Limit * 1024, Usage: res.Usage * 1024}, nil
		}
	}
	return quota{}, nil
}
