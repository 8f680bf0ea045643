package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
)

// reconcile settles 'sending' copies after a crash or a lost connection:
// each either reached the target (then it is recorded with its target UID)
// or did not (then it is forgotten and sent again). Candidates are the
// target messages at or above the folder's UID floor that no recorded copy
// claims; a candidate matches a sending message when size and SHA-256 of
// the bytes are equal. Identical duplicates are matched one to one, so
// every source message ends up exactly once on the target.
func (r *run) reconcile(ctx context.Context, f *db.Folder, copies map[uint32]db.Copy) (map[uint32]db.Copy, error) {
	sc, dc, err := r.conns(ctx)
	if err != nil {
		return nil, err
	}
	sending, claimed, doneHashes := sortCopies(copies)
	cands, err := r.targetCandidates(dc, f, claimed)
	if err != nil {
		return nil, err
	}
	srcSums, err := hashCandidates(sc, dc, f, sending, cands)
	if err != nil {
		return nil, err
	}
	found, lost := matchSending(sending, cands, srcSums, doneHashes)
	if err := r.settleCopies(ctx, f, found, lost); err != nil {
		return nil, err
	}
	for _, c := range found {
		copies[c.SourceUID] = c
	}
	for _, u := range lost {
		delete(copies, u)
	}
	return copies, nil
}

// sortCopies splits a folder's recorded copies into the sending ones to
// settle (by source UID, so matching is deterministic), the target UIDs
// done copies claim, and, for done copies without a target UID, a count
// of their hashes: without UIDPLUS the target UIDs of done copies are
// unknown, so candidates they account for must not be matched.
func sortCopies(copies map[uint32]db.Copy) (sending []db.Copy, claimed map[uint32]bool, doneHashes map[string]int) {
	claimed = map[uint32]bool{}
	doneHashes = map[string]int{}
	for _, c := range copies {
		switch {
		case c.State == db.CopySending:
			sending = append(sending, c)
		case c.TargetUID != 0:
			claimed[c.TargetUID] = true
		default:
			doneHashes[string(c.SHA256)]++
		}
	}
	slices.SortFunc(sending, func(a, b db.Copy) int { return int(a.SourceUID) - int(b.SourceUID) })
	return sending, claimed, doneHashes
}

// hashCandidates hashes the sending source messages whose size some
// candidate has, and then all candidates (filling their sum), and returns
// the source sums by source UID. When no size matches, nothing is fetched
// and neither folder is selected: every sending copy is then lost.
func hashCandidates(sc, dc *conn, f *db.Folder, sending []db.Copy, cands []candidate) (map[imap.UID][]byte, error) {
	sizes := map[int64]bool{}
	for _, c := range cands {
		sizes[c.size] = true
	}
	var check []imap.UID
	for _, s := range sending {
		if sizes[s.Size] {
			check = append(check, imap.UID(s.SourceUID))
		}
	}
	if len(check) == 0 {
		return map[imap.UID][]byte{}, nil
	}
	if _, err := sc.c.Select(f.Source, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, fmt.Errorf("examine %q: %w", f.Source, err)
	}
	srcSums, err := hashBodies(sc, check)
	if err != nil {
		return nil, fmt.Errorf("hash source messages of %q: %w", f.Source, err)
	}
	var candUIDs []imap.UID
	for _, c := range cands {
		candUIDs = append(candUIDs, c.uid)
	}
	if _, err := dc.c.Select(f.Target, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, fmt.Errorf("examine target %q: %w", f.Target, err)
	}
	dstSums, err := hashBodies(dc, candUIDs)
	if err != nil {
		return nil, fmt.Errorf("hash target messages of %q: %w", f.Target, err)
	}
	for i := range cands {
		cands[i].sum = dstSums[cands[i].uid]
	}
	return srcSums, nil
}

// matchSending pairs each sending copy with an unused candidate of equal
// size and hash: found are the pairs, recorded as done with their target
// UID; lost are the source UIDs no candidate matches, to send again. A
// candidate identical to a done copy without a target UID is that copy's
// (doneHashes counts them down), so one message is never claimed twice.
func matchSending(sending []db.Copy, cands []candidate, srcSums map[imap.UID][]byte, doneHashes map[string]int) (found []db.Copy, lost []uint32) {
	used := map[imap.UID]bool{}
	for _, s := range sending {
		sum := srcSums[imap.UID(s.SourceUID)]
		var match imap.UID
		for _, c := range cands {
			if used[c.uid] || sum == nil || c.size != s.Size || !bytes.Equal(c.sum, sum) {
				continue
			}
			if doneHashes[string(sum)] > 0 { // a copy already confirmed owns it
				doneHashes[string(sum)]--
				used[c.uid] = true
				continue
			}
			match = c.uid
			break
		}
		if match == 0 {
			lost = append(lost, s.SourceUID)
			continue
		}
		used[match] = true
		found = append(found, db.Copy{SourceUID: s.SourceUID, TargetUID: uint32(match), State: db.CopyDone, Size: s.Size, SHA256: sum})
	}
	return found, lost
}

// settleCopies stores the outcome: lost copies are forgotten (sent again),
// found ones confirmed with their target UID. The move's progress is then
// recounted from the records and saved, since these copies changed outside
// the copy pipeline that normally keeps it.
func (r *run) settleCopies(ctx context.Context, f *db.Folder, found []db.Copy, lost []uint32) error {
	if err := r.mv.DB.ForgetCopies(ctx, f.ID, lost); err != nil {
		return err
	}
	if err := r.mv.DB.ConfirmCopies(ctx, f.ID, found, r.m); err != nil {
		return err
	}
	if err := r.recount(ctx); err != nil {
		return err
	}
	if err := r.save(ctx); err != nil {
		return err
	}
	r.log.Info("reconciled interrupted copies", "folder", f.Source, "found", len(found), "resend", len(lost))
	return nil
}

type candidate struct {
	uid  imap.UID
	size int64
	sum  []byte
}

// targetCandidates lists target messages at or above the UID floor that
// no recorded copy claims. The target is selected afterwards.
func (r *run) targetCandidates(dc *conn, f *db.Folder, claimed map[uint32]bool) ([]candidate, error) {
	sel, err := dc.c.Select(f.Target, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("examine target %q: %w", f.Target, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(max(f.TargetUIDFloor, 1)), 0)
	msgs, err := dc.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("list target %q: %w", f.Target, err)
	}
	var out []candidate
	for _, m := range msgs {
		// "n:*" also returns the last message when its UID is below n.
		if uint32(m.UID) >= f.TargetUIDFloor && !claimed[uint32(m.UID)] {
			out = append(out, candidate{uid: m.UID, size: m.RFC822Size})
		}
	}
	return out, nil
}

// hashBodies streams the bodies of the selected folder's messages into
// SHA-256 sums without holding them.
func hashBodies(c *conn, uids []imap.UID) (map[imap.UID][]byte, error) {
	out := map[imap.UID][]byte{}
	if len(uids) == 0 {
		return out, nil
	}
	fetch := c.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		var uid imap.UID
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil {
					continue
				}
				h := sha256.New()
				n, err := copyBody(h, it.Literal)
				if err == nil && n != it.Literal.Size() {
					err = errShortLiteral
				}
				if err != nil {
					abortFetch(c, fetch)
					return nil, err
				}
				if uid != 0 {
					out[uid] = h.Sum(nil)
				}
			}
		}
	}
	if err := fetch.Close(); err != nil && !isNo(err) {
		return nil, err
	}
	return out, nil
}
