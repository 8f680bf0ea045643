package imapmem

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// List implements imapserver.Session for LIST (with the LIST-EXTENDED,
// LIST-STATUS and SPECIAL-USE options) and LSUB, which imapserver maps to
// SelectSubscribed.
//
// Like Dovecot, special-use attributes are returned in every LIST, not only
// with RETURN (SPECIAL-USE) (RFC 6154 section 2 allows both), and children
// attributes are always returned. \Subscribed is returned when asked for
// (RETURN (SUBSCRIBED) or SELECT SUBSCRIBED, RFC 5258 section 3); LSUB
// arrives as SELECT SUBSCRIBED and so carries it too, which is harmless.
func (sess *session) List(w *imapserver.ListWriter, ref string, patterns []string, opts *imap.ListOptions) error {
	if err := sess.hang(); err != nil {
		return err
	}
	delim := sess.srv.delim
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter (RFC 3501 section 6.3.8).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	u := sess.user
	u.mu.Lock()
	all := u.sortedMailboxesLocked()
	names := make(map[string]bool, len(all))
	for name := range u.mailboxes {
		names[name] = true
	}
	var out []imap.ListData
	for _, mb := range all {
		if !matchAny(mb.name, delim, ref, patterns) {
			continue
		}
		mb.mu.Lock()
		data, ok := listData(mb, opts, delim, hasChildren(mb.name, delim, names))
		mb.mu.Unlock()
		if ok {
			out = append(out, data)
		}
	}
	u.mu.Unlock()

	// Writing happens without locks: the client may be slow.
	for i := range out {
		if err := w.WriteList(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

func matchAny(name string, delim rune, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, delim, ref, p) {
			return true
		}
	}
	return false
}

func hasChildren(name string, delim rune, names map[string]bool) bool {
	prefix := name + string(delim)
	for n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// listData builds one LIST reply; ok is false if the selection options
// exclude mb. mb.mu must be held.
func listData(mb *mailbox, opts *imap.ListOptions, delim rune, children bool) (imap.ListData, bool) {
	if opts.SelectSubscribed && !mb.subscribed {
		return imap.ListData{}, false
	}
	if opts.SelectSpecialUse && mb.specialUse == "" {
		return imap.ListData{}, false
	}
	data := imap.ListData{Mailbox: mb.name, Delim: delim}
	if children {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
	} else {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
	}
	if mb.subscribed && (opts.ReturnSubscribed || opts.SelectSubscribed) {
		data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
	}
	if mb.specialUse != "" {
		data.Attrs = append(data.Attrs, mb.specialUse)
	}
	if opts.ReturnStatus != nil {
		data.Status = mb.statusLocked(opts.ReturnStatus)
	}
	return data, true
}
