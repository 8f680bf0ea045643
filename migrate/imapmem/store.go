package imapmem

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// The store is our own rather than imapmemserver's: imapmemserver keeps its
// messages and special-use attributes private, so neither seeding special-use
// folders nor inspecting stored bodies (Server.Messages) is possible through
// it. The layout mirrors imapmemserver and reuses imapserver's trackers.
//
// Lock order: user.mu before mailbox.mu. message fields other than flags are
// immutable; flags are guarded by the owning mailbox's mu.

// user is one account and its mailboxes.
type user struct {
	name     string
	password string // guarded by Server.mu (AddUser may change it)

	mu           sync.Mutex
	mailboxes    map[string]*mailbox
	lastValidity uint32
	quotaLimit   int64 // bytes; 0 means no quota
}

// mailbox is one folder. A mailbox deleted and created again gets a new
// UIDVALIDITY, as RFC 3501 section 2.3.1.1 requires.
type mailbox struct {
	tracker     *imapserver.MailboxTracker
	uidValidity uint32

	mu         sync.Mutex
	name       string
	subscribed bool
	specialUse imap.MailboxAttr
	msgs       []*message
	uidNext    imap.UID
}

type message struct {
	uid   imap.UID
	date  time.Time
	body  []byte
	flags map[imap.Flag]struct{}
}

func newUser(name, password string) *user {
	u := &user{name: name, password: password, mailboxes: make(map[string]*mailbox)}
	u.createLocked("INBOX", "")
	return u
}

// canonicalName makes INBOX case-insensitive (RFC 3501 section 5.1).
func canonicalName(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}

func canonicalFlag(f imap.Flag) imap.Flag {
	return imap.Flag(strings.ToLower(string(f)))
}

func errNoMailbox() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
}

func (u *user) mailboxLocked(name string) (*mailbox, error) {
	mb := u.mailboxes[canonicalName(name)]
	if mb == nil {
		return nil, errNoMailbox()
	}
	return mb, nil
}

func (u *user) mailbox(name string) (*mailbox, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.mailboxLocked(name)
}

// createLocked adds a mailbox; it reports false if the name is taken.
func (u *user) createLocked(name string, specialUse imap.MailboxAttr) (*mailbox, bool) {
	name = canonicalName(name)
	if mb := u.mailboxes[name]; mb != nil {
		return mb, false
	}
	u.lastValidity++
	mb := &mailbox{
		tracker:     imapserver.NewMailboxTracker(0),
		uidValidity: u.lastValidity,
		name:        name,
		specialUse:  specialUse,
		uidNext:     1,
	}
	u.mailboxes[name] = mb
	return mb, true
}

// sortedMailboxes returns the mailboxes in name order, for stable LIST output.
func (u *user) sortedMailboxesLocked() []*mailbox {
	names := make([]string, 0, len(u.mailboxes))
	for name := range u.mailboxes {
		names = append(names, name)
	}
	slices.Sort(names)
	l := make([]*mailbox, len(names))
	for i, name := range names {
		l[i] = u.mailboxes[name]
	}
	return l
}

// usageLocked returns the bytes stored in all mailboxes of u.
func (u *user) usageLocked() int64 {
	var n int64
	for _, mb := range u.mailboxes {
		mb.mu.Lock()
		for _, m := range mb.msgs {
			n += int64(len(m.body))
		}
		mb.mu.Unlock()
	}
	return n
}

// append stores a message; body must not be modified afterwards.
func (mb *mailbox) append(body []byte, flags []imap.Flag, date time.Time) *imap.AppendData {
	if date.IsZero() {
		date = time.Now()
	}
	m := &message{date: date, body: body, flags: make(map[imap.Flag]struct{})}
	for _, f := range flags {
		if canonicalFlag(f) == canonicalFlag(flagRecent) {
			continue // \Recent is session state, never stored (RFC 3501 section 2.3.2)
		}
		m.flags[canonicalFlag(f)] = struct{}{}
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	m.uid = mb.uidNext
	mb.uidNext++
	mb.msgs = append(mb.msgs, m)
	mb.tracker.QueueNumMessages(uint32(len(mb.msgs)))
	return &imap.AppendData{UIDValidity: mb.uidValidity, UID: m.uid}
}

func (m *message) flagList() []imap.Flag {
	l := make([]imap.Flag, 0, len(m.flags))
	for f := range m.flags {
		l = append(l, f)
	}
	slices.Sort(l)
	return l
}

func (mb *mailbox) statusLocked(opts *imap.StatusOptions) *imap.StatusData {
	data := &imap.StatusData{Mailbox: mb.name}
	num := uint32(len(mb.msgs))
	if opts.NumMessages {
		data.NumMessages = &num
	}
	if opts.UIDNext {
		data.UIDNext = mb.uidNext
	}
	if opts.UIDValidity {
		data.UIDValidity = mb.uidValidity
	}
	if opts.NumUnseen {
		unseen := num - mb.countFlagLocked(imap.FlagSeen)
		data.NumUnseen = &unseen
	}
	if opts.NumDeleted {
		deleted := mb.countFlagLocked(imap.FlagDeleted)
		data.NumDeleted = &deleted
	}
	if opts.Size {
		var size int64
		for _, m := range mb.msgs {
			size += int64(len(m.body))
		}
		data.Size = &size
	}
	if opts.NumRecent {
		var zero uint32
		data.NumRecent = &zero
	}
	return data
}

func (mb *mailbox) countFlagLocked(f imap.Flag) uint32 {
	var n uint32
	for _, m := range mb.msgs {
		if _, ok := m.flags[canonicalFlag(f)]; ok {
			n++
		}
	}
	return n
}

// expungeLocked removes the messages in del and queues EXPUNGE updates,
// highest sequence number first so that earlier numbers stay valid.
func (mb *mailbox) expungeLocked(del map[*message]bool) {
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		if del[mb.msgs[i]] {
			mb.tracker.QueueExpunge(uint32(i) + 1)
			mb.msgs = slices.Delete(mb.msgs, i, i+1)
		}
	}
}

// flagRecent is IMAP4rev1's \Recent, which go-imap v2 no longer names.
const flagRecent imap.Flag = `\Recent`
