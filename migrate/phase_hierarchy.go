package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
)

// hierarchy is DESIGN.md step 3: recreate the folder tree on the target,
// then measure the mailbox and check the target's quota before any message
// is copied.
func (r *run) hierarchy(ctx context.Context, next string) error {
	if r.m.Phase != db.PhaseHierarchy {
		if err := r.setPhase(ctx, db.PhaseHierarchy); err != nil {
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
	subscribed := map[string]bool{}
	for _, b := range dstBoxes {
		dst = append(dst, TargetFolder{Name: b.Mailbox, Attrs: b.Attrs})
		subscribed[b.Mailbox] = hasAttr(b.Attrs, imap.MailboxAttrSubscribed)
	}
	plans, skipped, err := PlanHierarchy(src, dst, sc.h, dc.h)
	if err != nil {
		// Nothing irreversible has happened: the admin renames and retries.
		return abandonf("folder names cannot be mapped onto %s: %v", r.dst.Name, err)
	}
	for _, s := range skipped {
		r.event(ctx, "folder-skipped", fmt.Sprintf("%s: %s", s.Name, s.Reason))
	}
	for _, p := range plans {
		state := db.CreateExisting
		if p.Create {
			state = db.CreateSending
		}
		f, err := r.mv.DB.AddFolder(ctx, db.Folder{MoveID: r.m.ID, Source: p.Source, Target: p.Target,
			SpecialUse: string(p.SpecialUse), Subscribed: p.Subscribe, NoSelect: p.NoSelect, CreateState: state})
		if err != nil {
			return err
		}
		if err := r.createFolder(ctx, dc, &f, subscribed[f.Target]); err != nil {
			return err
		}
	}
	return nil
}

// createFolder sends CREATE for a folder recorded as 'creating' (the
// intent is committed first, so a crash right after CREATE still knows the
// folder is ours and an abandon removes it) and subscribes as on the source.
func (r *run) createFolder(ctx context.Context, dc *conn, f *db.Folder, alreadySubscribed bool) error {
	if f.CreateState == db.CreateSending {
		r.m.CurrentFolder = f.Target
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
		if err != nil && imapCode(err) != imap.ResponseCodeAlreadyExists {
			if isNo(err) {
				return abandonf("target %s refused to create folder %q (from %q): %v", r.dst.Name, f.Target, f.Source, err)
			}
			return err
		}
		f.CreateState = db.CreateCreated
		if err := r.mv.DB.SaveFolder(ctx, *f); err != nil {
			return err
		}
		r.mv.crash("hierarchy-create")
	}
	if f.Subscribed && !alreadySubscribed && !f.SubscribedByUs {
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

// measure counts messages and bytes per folder for progress and the quota
// check (folderSize: STATUS=SIZE where offered, else streamed sizes).
func (r *run) measure(ctx context.Context) error {
	sc, _, err := r.conns(ctx)
	if err != nil {
		return err
	}
	folders, err := r.mv.DB.Folders(ctx, r.m.ID)
	if err != nil {
		return err
	}
	withSize := sc.caps.Has(imap.CapStatusSize)
	var msgs, bytes int64
	for _, f := range folders {
		if f.NoSelect {
			continue
		}
		n, size, err := folderSize(sc, f.Source, withSize)
		if isNo(err) {
			continue // vanished since LIST; the copy pass notices too
		}
		if err != nil {
			return err
		}
		f.MsgsTotal, f.BytesTotal = n, size
		if err := r.mv.DB.SaveFolder(ctx, f); err != nil {
			return err
		}
		msgs += n
		bytes += size
	}
	r.m.MsgsTotal, r.m.BytesTotal = msgs, bytes
	return r.save(ctx)
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
