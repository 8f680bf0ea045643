package imapmem

import (
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// selected is the selected-state part of a session: the mailbox and this
// session's view of its sequence numbers.
type selected struct {
	mb        *mailbox
	view      *imapserver.SessionTracker
	readOnly  bool
	searchRes imap.UIDSet // SEARCHRES "$"
}

var errReadOnly = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "READ-ONLY", Text: "Mailbox is read-only"}

// Select implements imapserver.Session (SELECT and EXAMINE).
func (sess *session) Select(name string, opts *imap.SelectOptions) (*imap.SelectData, error) {
	if err := sess.hang(); err != nil {
		return nil, err
	}
	sess.srv.faults.countMailbox(sess.user.name, name, func(c *MailboxCounts) {
		if opts.ReadOnly {
			c.Examines++
		} else {
			c.Selects++
		}
	})
	if err := sess.srv.faults.selectAttempt(sess.user.name, name); err != nil {
		sess.sel = nil // a failed SELECT leaves no mailbox selected (RFC 3501)
		return nil, err
	}
	mb, err := sess.user.mailbox(name)
	if err != nil {
		return nil, err
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	sess.sel = &selected{mb: mb, view: mb.tracker.NewSession(), readOnly: opts.ReadOnly}

	seen := make(map[imap.Flag]bool)
	var flags []imap.Flag
	var firstUnseen uint32
	for i, m := range mb.msgs {
		for f := range m.flags {
			if !seen[f] {
				seen[f] = true
				flags = append(flags, f)
			}
		}
		if _, ok := m.flags[canonicalFlag(imap.FlagSeen)]; !ok && firstUnseen == 0 {
			firstUnseen = uint32(i) + 1
		}
	}
	slices.Sort(flags)
	permanent := append(slices.Clone(flags), imap.FlagWildcard)
	return &imap.SelectData{
		Flags:             flags,
		PermanentFlags:    permanent,
		NumMessages:       uint32(len(mb.msgs)),
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           mb.uidNext,
		UIDValidity:       mb.uidValidity,
	}, nil
}

// Unselect implements imapserver.Session (UNSELECT and CLOSE; imapserver
// expunges before calling it for CLOSE).
func (sess *session) Unselect() error {
	if err := sess.hang(); err != nil {
		return err
	}
	if sess.sel != nil {
		sess.sel.view.Close()
		sess.sel = nil
	}
	return nil
}

// forEachLocked calls f for the messages of numSet in mailbox order with
// their server-side sequence numbers. mb.mu must be held.
func (sel *selected) forEachLocked(numSet imap.NumSet, f func(seqNum uint32, m *message)) {
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	mb := sel.mb
	for i, m := range mb.msgs {
		seqNum := uint32(i) + 1
		var ok bool
		switch set := numSet.(type) {
		case imap.SeqSet:
			enc := sel.view.EncodeSeqNum(seqNum)
			ok = enc != 0 && containsSeq(set, enc, uint32(len(mb.msgs)))
		case imap.UIDSet:
			ok = containsUID(set, m.uid, mb.uidNext-1)
		}
		if ok {
			f(seqNum, m)
		}
	}
}

// containsSeq is SeqSet.Contains with "*" resolved to max (RFC 3501 section
// 9, seq-number).
func containsSeq(set imap.SeqSet, n, max uint32) bool {
	for _, r := range set {
		start, stop := star(r.Start, max), star(r.Stop, max)
		if start > stop {
			start, stop = stop, start
		}
		if n >= start && n <= stop {
			return true
		}
	}
	return false
}

func containsUID(set imap.UIDSet, uid, max imap.UID) bool {
	for _, r := range set {
		start, stop := star(uint32(r.Start), uint32(max)), star(uint32(r.Stop), uint32(max))
		if start > stop {
			start, stop = stop, start
		}
		if uint32(uid) >= start && uint32(uid) <= stop {
			return true
		}
	}
	return false
}

// star resolves 0, go-imap's encoding of "*", to max.
func star(n, max uint32) uint32 {
	if n == 0 {
		return max
	}
	return n
}

// Store implements imapserver.Session.
func (sess *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	if err := sess.hang(); err != nil {
		return err
	}
	sel := sess.sel
	if sel.readOnly {
		return errReadOnly
	}
	type result struct {
		seqNum uint32
		uid    imap.UID
		flags  []imap.Flag
	}
	var results []result
	sel.mb.mu.Lock()
	sel.forEachLocked(numSet, func(seqNum uint32, m *message) {
		if flags.Op == imap.StoreFlagsSet {
			clear(m.flags)
		}
		for _, f := range flags.Flags {
			if flags.Op == imap.StoreFlagsDel {
				delete(m.flags, canonicalFlag(f))
			} else if canonicalFlag(f) != canonicalFlag(flagRecent) {
				m.flags[canonicalFlag(f)] = struct{}{}
			}
		}
		l := m.flagList()
		sel.mb.tracker.QueueMessageFlags(seqNum, m.uid, l, sel.view)
		results = append(results, result{sel.view.EncodeSeqNum(seqNum), m.uid, l})
	})
	sel.mb.mu.Unlock()
	if flags.Silent {
		return nil
	}
	for _, r := range results {
		rw := w.CreateMessage(r.seqNum)
		rw.WriteUID(r.uid)
		rw.WriteFlags(r.flags)
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// Expunge implements imapserver.Session (EXPUNGE, UID EXPUNGE, CLOSE). The
// EXPUNGE responses reach this session through the tracker, like any other.
func (sess *session) Expunge(_ *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	if err := sess.hang(); err != nil {
		return err
	}
	sel := sess.sel
	if sel.readOnly {
		return nil // CLOSE after EXAMINE expunges nothing (RFC 3501 section 6.4.2)
	}
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	del := make(map[*message]bool)
	for _, m := range mb.msgs {
		if uids != nil && !containsUID(*uids, m.uid, mb.uidNext-1) {
			continue
		}
		if _, ok := m.flags[canonicalFlag(imap.FlagDeleted)]; ok {
			del[m] = true
		}
	}
	mb.expungeLocked(del)
	return nil
}

// Copy implements imapserver.Session.
func (sess *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	if err := sess.hang(); err != nil {
		return nil, err
	}
	return sess.copyMessages(numSet, dest, false)
}

// Move implements imapserver.SessionMove (RFC 6851): COPYUID first, then the
// source expunges, which imapserver writes when it polls after the command.
func (sess *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if err := sess.hang(); err != nil {
		return err
	}
	if sess.sel.readOnly {
		return errReadOnly
	}
	data, err := sess.copyMessages(numSet, dest, true)
	if err != nil {
		return err
	}
	return w.WriteCopyData(data)
}

// copyMessages appends copies of numSet to dest and, for a move, expunges the
// originals.
func (sess *session) copyMessages(numSet imap.NumSet, destName string, move bool) (*imap.CopyData, error) {
	dest, err := sess.user.mailbox(destName)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	src := sess.sel.mb
	var picked []*message
	var flags [][]imap.Flag
	src.mu.Lock()
	sess.sel.forEachLocked(numSet, func(_ uint32, m *message) {
		picked = append(picked, m)
		flags = append(flags, m.flagList())
	})
	src.mu.Unlock()

	// Appending happens without src.mu: dest may be src.
	data := &imap.CopyData{UIDValidity: dest.uidValidity}
	for i, m := range picked {
		ad := dest.append(m.body, flags[i], m.date)
		data.SourceUIDs.AddNum(m.uid)
		data.DestUIDs.AddNum(ad.UID)
	}
	if move {
		del := make(map[*message]bool, len(picked))
		for _, m := range picked {
			del[m] = true
		}
		src.mu.Lock()
		src.expungeLocked(del)
		src.mu.Unlock()
	}
	return data, nil
}
