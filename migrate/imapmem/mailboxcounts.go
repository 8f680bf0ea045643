package imapmem

// MailboxCounts tells how often one user's sessions opened or asked about
// one mailbox, for tests that assert a client does not repeat work.
// Attempts count whether they succeeded or failed.
type MailboxCounts struct {
	// Selects counts SELECT, Examines EXAMINE (a read-only SELECT).
	Selects, Examines int
	// Statuses counts STATUS.
	Statuses int
}

type mailboxKey struct{ user, mailbox string }

// MailboxCounts returns the counters of user's mailboxes so far, by
// mailbox name (INBOX in capitals, others as the client sent them).
func (f *Faults) MailboxCounts(user string) map[string]MailboxCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]MailboxCounts{}
	for k, c := range f.mailboxCounts {
		if k.user == user {
			out[k.mailbox] = c
		}
	}
	return out
}

// countMailbox records one SELECT, EXAMINE or STATUS of mailbox by user.
func (f *Faults) countMailbox(user, mailbox string, count func(*MailboxCounts)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mailboxCounts == nil {
		f.mailboxCounts = map[mailboxKey]MailboxCounts{}
	}
	k := mailboxKey{user, canonicalName(mailbox)}
	c := f.mailboxCounts[k]
	count(&c)
	f.mailboxCounts[k] = c
}
