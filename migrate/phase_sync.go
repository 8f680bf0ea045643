package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
)

// syncState runs once every folder verified, just before the cut-over,
// while the source is still the user's mailbox: what the user did there
// during the copy is carried over. Flags changed on the source (mail read,
// flagged, answered) are set on the copies, and copies of messages the
// user deleted on the source are removed from the target. After the
// cut-over the target is the user's mailbox and is not touched this way,
// except by a staged move's final delta pass (syncStateAfterCutover).
func (r *run) syncState(ctx context.Context) error {
	return r.syncStates(ctx, false)
}

// syncStateAfterCutover is syncState for the final delta pass of a staged
// move, when the target already is the user's mailbox: a change made on
// the source since the last sync is carried only where the target still
// shows what that sync left (db.DB.SyncedFlags); where both sides changed,
// the target's is kept and the event says so.
func (r *run) syncStateAfterCutover(ctx context.Context) error {
	return r.syncStates(ctx, true)
}

func (r *run) syncStates(ctx context.Context, after bool) error {
	folders, err := r.mv.DB.Folders(ctx, r.m.ID)
	if err != nil {
		return err
	}
	for i := range folders {
		if err := r.syncFolderState(ctx, &folders[i], after); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) syncFolderState(ctx context.Context, f *db.Folder, after bool) error {
	if f.NoSelect {
		return nil
	}
	sc, dc, err := r.conns(ctx)
	if err != nil {
		return err
	}
	// A staged move syncs again and again: where the source has CONDSTORE,
	// a sync after the first reads only the flags changed since the last
	// one's HIGHESTMODSEQ (the rest are as that sync recorded them).
	condstore := r.job.Stage && sc.caps.Has(imap.CapCondStore)
	sel, err := sc.c.Select(f.Source, &imap.SelectOptions{ReadOnly: true, CondStore: condstore}).Wait()
	if isNo(err) {
		return nil // the folder went away; verification already accepted that
	}
	if err != nil {
		return fmt.Errorf("examine %q: %w", f.Source, err)
	}
	if sel.UIDValidity != f.SourceUIDValidity {
		return nil // the next verification round starts the folder over
	}
	copies, err := r.mv.DB.Copies(ctx, f.ID)
	if err != nil {
		return err
	}
	// base is what the last sync before the cut-over left on both sides
	// (staged moves); record is whether this sync records what it leaves.
	var base map[uint32]string
	var since uint64
	if r.job.Stage {
		if base, err = r.mv.DB.SyncedFlags(ctx, f.ID); err != nil {
			return err
		}
		if condstore && sel.HighestModSeq > 0 {
			if since, err = r.mv.DB.SyncedModSeq(ctx, f.ID, sel.UIDValidity); err != nil {
				return err
			}
		}
	}
	var srcFlags map[imap.UID][]imap.Flag
	var only map[uint32]bool // nil: every copy is compared
	if since > 0 {
		srcFlags, only, err = changedFlags(sc, sel.NumMessages, since, copies, base)
	} else {
		srcFlags, err = fetchFlags(sc, imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, sel.NumMessages)
	}
	if err != nil {
		return fmt.Errorf("flags in %q: %w", f.Source, err)
	}
	var targets imap.UIDSet
	for _, c := range copies {
		if c.State == db.CopyDone && c.TargetUID != 0 && (only == nil || only[c.SourceUID]) {
			targets.AddNum(imap.UID(c.TargetUID))
		}
	}
	record := r.job.Stage && !after
	if len(targets) == 0 && record && only != nil {
		// Nothing changed since the last sync: its record stands, with
		// the new HIGHESTMODSEQ.
		return r.mv.DB.SaveSyncedFlags(ctx, f.ID, base, sel.UIDValidity, sel.HighestModSeq)
	}
	if len(targets) == 0 {
		return nil
	}
	tsel, err := dc.c.Select(f.Target, nil).Wait()
	if err != nil {
		return fmt.Errorf("select target %q: %w", f.Target, err)
	}
	if tsel.UIDValidity != f.TargetUIDValidity {
		return nil
	}
	dstFlags, err := fetchFlags(dc, targets, tsel.NumMessages)
	if err != nil {
		return fmt.Errorf("flags in target %q: %w", f.Target, err)
	}
	synced := map[uint32]string{}
	changes := map[string]imap.UIDSet{} // wanted flags -> target UIDs
	wanted := map[string][]imap.Flag{}
	var gone, goneTarget []uint32
	conflicts, keptOnTarget := 0, 0
	for _, c := range copies {
		if c.State != db.CopyDone || c.TargetUID == 0 {
			continue
		}
		b, hasBase := base[c.SourceUID]
		if only != nil && !only[c.SourceUID] {
			if hasBase && record {
				synced[c.SourceUID] = b // unchanged since the last sync
			}
			continue
		}
		sf, inSource := srcFlags[imap.UID(c.SourceUID)]
		df, onTarget := dstFlags[imap.UID(c.TargetUID)]
		key := flagKey(sf)
		if inSource && onTarget && record {
			synced[c.SourceUID] = key
		}
		var last *string
		if hasBase {
			last = &b
		}
		switch syncAction(after, inSource, key, onTarget, flagKey(df), last) {
		case syncSetFlags:
			set := changes[key]
			set.AddNum(imap.UID(c.TargetUID))
			changes[key], wanted[key] = set, copyFlags(sf)
		case syncConflict:
			conflicts++
		case syncRemove:
			gone = append(gone, c.SourceUID)
			goneTarget = append(goneTarget, c.TargetUID)
		case syncForget:
			gone = append(gone, c.SourceUID)
		case syncKeepOnTarget:
			keptOnTarget++
		}
	}
	for key, set := range changes {
		err := dc.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: wanted[key]}, nil).Close()
		if isNo(err) {
			// A keyword the target cannot store is not worth the mailbox.
			r.event(ctx, "flags-kept", fmt.Sprintf("%s: target refused flags %s: %v", f.Target, key, err))
			continue
		}
		if err != nil {
			return fmt.Errorf("store flags in %q: %w", f.Target, err)
		}
	}
	if len(goneTarget) > 0 {
		if err := expungeUIDs(dc, f.Target, goneTarget); err != nil {
			return err
		}
	}
	if len(gone) > 0 {
		if err := r.mv.DB.ForgetCopies(ctx, f.ID, gone); err != nil {
			return err
		}
		if err := r.recount(ctx); err != nil {
			return err
		}
		r.event(ctx, "deleted-on-source", fmt.Sprintf("%s: %d messages deleted on the source during the move removed from the target", f.Source, len(gone)))
	}
	if len(changes) > 0 {
		r.event(ctx, "flags-synced", fmt.Sprintf("%s: flags changed on the source during the move copied (%d flag sets)", f.Source, len(changes)))
	}
	if conflicts > 0 {
		r.event(ctx, "flags-conflict", fmt.Sprintf("%s: %d messages had their flags changed on both servers around the switch; the target's flags were kept", f.Source, conflicts))
	}
	if keptOnTarget > 0 {
		r.event(ctx, "deleted-on-source-kept", fmt.Sprintf("%s: %d messages deleted on the source around the switch were kept on the target, where they had been changed", f.Source, keptOnTarget))
	}
	if record {
		if err := r.mv.DB.SaveSyncedFlags(ctx, f.ID, synced, sel.UIDValidity, sel.HighestModSeq); err != nil {
			return err
		}
	}
	return unselect(dc)
}

// What a sync does with one copy (syncAction).
const (
	syncNothing      = iota
	syncSetFlags     // the target's flags become the source's
	syncConflict     // both sides changed them since the last sync: the target's stand
	syncRemove       // gone from the source: removed from the target, the copy forgotten
	syncForget       // gone from both sides: the copy forgotten
	syncKeepOnTarget // gone from the source, but changed on the target since: kept there
)

// syncAction decides what a sync does with one copy, from the source's and
// the target's flag keys ("" when the message is not there) and, for the
// final delta pass of a staged move (after), what the last sync before the
// cut-over left on both sides (base; nil when it did not see the copy).
// Before the cut-over the source is the user's mailbox and wins. After it
// the target is theirs: a change made only on the source since base is
// carried, one made on the target too is kept.
func syncAction(after, inSource bool, src string, onTarget bool, dst string, base *string) int {
	if !after {
		switch {
		case !inSource:
			return syncRemove
		case !onTarget || src == dst:
			return syncNothing
		}
		return syncSetFlags
	}
	switch {
	case !inSource && !onTarget:
		return syncForget
	case !inSource && (base == nil || *base != dst):
		return syncKeepOnTarget
	case !inSource:
		return syncRemove
	case !onTarget || src == dst || base == nil || src == *base:
		return syncNothing
	case dst != *base:
		return syncConflict
	}
	return syncSetFlags
}

// changedFlags reads what a sync needs of the selected source folder when
// the last sync recorded its HIGHESTMODSEQ (since): which messages are
// still there (UID SEARCH ALL) and the flags of those changed since (FETCH
// CHANGEDSINCE), or that the last sync did not record. It returns the
// flags it read and the source UIDs of the copies to look at: changed,
// gone, or without a record; the others are as recorded in base.
func changedFlags(c *conn, exists uint32, since uint64, copies map[uint32]db.Copy, base map[uint32]string) (map[imap.UID][]imap.Flag, map[uint32]bool, error) {
	flags := map[imap.UID][]imap.Flag{}
	only := map[uint32]bool{}
	present := map[imap.UID]bool{}
	if exists > 0 {
		res, err := c.c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			return nil, nil, err
		}
		for _, u := range res.AllUIDs() {
			present[u] = true
		}
		fetch := c.c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, ChangedSince: since})
		for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
			buf, err := msg.Collect()
			if err != nil {
				fetch.Close()
				return nil, nil, err
			}
			flags[buf.UID] = buf.Flags
		}
		if err := fetch.Close(); err != nil {
			return nil, nil, err
		}
	}
	var unknown imap.UIDSet
	for _, cp := range copies {
		if cp.State != db.CopyDone || cp.TargetUID == 0 {
			continue
		}
		u := imap.UID(cp.SourceUID)
		_, changed := flags[u]
		_, recorded := base[cp.SourceUID]
		switch {
		case !present[u] || changed:
			only[cp.SourceUID] = true
		case !recorded:
			only[cp.SourceUID] = true
			unknown.AddNum(u)
		}
	}
	if len(unknown) > 0 {
		more, err := fetchFlags(c, unknown, exists)
		if err != nil {
			return nil, nil, err
		}
		for u, f := range more {
			flags[u] = f
		}
	}
	return flags, only, nil
}

// fetchFlags returns UID -> FLAGS of the selected folder's messages in set.
func fetchFlags(c *conn, set imap.UIDSet, exists uint32) (map[imap.UID][]imap.Flag, error) {
	out := map[imap.UID][]imap.Flag{}
	if exists == 0 {
		return out, nil
	}
	fetch := c.c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		buf, err := msg.Collect()
		if err != nil {
			fetch.Close()
			return nil, err
		}
		out[buf.UID] = buf.Flags
	}
	if err := fetch.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// flagKey is a comparable form of a flag set: \Recent dropped, case folded
// (flags and keywords are case-insensitive atoms), sorted.
func flagKey(flags []imap.Flag) string {
	var ks []string
	for _, f := range copyFlags(flags) {
		ks = append(ks, strings.ToLower(string(f)))
	}
	slices.Sort(ks)
	return strings.Join(slices.Compact(ks), " ")
}
