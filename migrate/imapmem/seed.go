package imapmem

import (
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
)

// MailboxInfo describes a mailbox, for inspection.
type MailboxInfo struct {
	Name        string
	SpecialUse  imap.MailboxAttr // "" if none
	Subscribed  bool
	UIDValidity uint32
	Messages    int
}

// Message is a stored message, for seeding checks and inspection.
type Message struct {
	UID   imap.UID
	Flags []imap.Flag // lower-case, sorted
	Date  time.Time   // INTERNALDATE
	Body  []byte
}

// AddUser adds a user with an empty INBOX, or changes the password of an
// existing one.
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[name]; u != nil {
		u.password = password
		return
	}
	s.users[name] = newUser(name, password)
}

// CreateMailbox creates a mailbox of userName with an optional special-use
// attribute (RFC 6154, for example imap.MailboxAttrSent; "" for none). For an
// existing mailbox, such as INBOX, it only sets a non-empty specialUse.
func (s *Server) CreateMailbox(userName, name string, specialUse imap.MailboxAttr) error {
	u, err := s.user(userName)
	if err != nil {
		return fmt.Errorf("create mailbox %q: %w", name, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, created := u.createLocked(name, specialUse)
	if !created && specialUse != "" {
		mb.mu.Lock()
		mb.specialUse = specialUse
		mb.mu.Unlock()
	}
	return nil
}

// SetSubscribed subscribes or unsubscribes a mailbox.
func (s *Server) SetSubscribed(userName, name string, subscribed bool) error {
	mb, err := s.mailbox(userName, name)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	mb.mu.Lock()
	mb.subscribed = subscribed
	mb.mu.Unlock()
	return nil
}

// AddMessage stores a message, bypassing quota and faults, and returns its UID.
// A zero date means now.
func (s *Server) AddMessage(userName, mailbox string, flags []imap.Flag, date time.Time, body []byte) (imap.UID, error) {
	mb, err := s.mailbox(userName, mailbox)
	if err != nil {
		return 0, fmt.Errorf("add message: %w", err)
	}
	return mb.append(slices.Clone(body), flags, date).UID, nil
}

// Mailboxes lists the mailboxes of userName in name order.
func (s *Server) Mailboxes(userName string) ([]MailboxInfo, error) {
	u, err := s.user(userName)
	if err != nil {
		return nil, fmt.Errorf("mailboxes: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var l []MailboxInfo
	for _, mb := range u.sortedMailboxesLocked() {
		mb.mu.Lock()
		l = append(l, MailboxInfo{
			Name:        mb.name,
			SpecialUse:  mb.specialUse,
			Subscribed:  mb.subscribed,
			UIDValidity: mb.uidValidity,
			Messages:    len(mb.msgs),
		})
		mb.mu.Unlock()
	}
	return l, nil
}

// Messages returns copies of the messages of a mailbox in UID order.
func (s *Server) Messages(userName, mailbox string) ([]Message, error) {
	mb, err := s.mailbox(userName, mailbox)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	l := make([]Message, 0, len(mb.msgs))
	for _, m := range mb.msgs {
		l = append(l, Message{UID: m.uid, Flags: m.flagList(), Date: m.date, Body: slices.Clone(m.body)})
	}
	return l, nil
}

// mailbox returns a mailbox of a user, with ErrNotFound if either is missing.
func (s *Server) mailbox(userName, name string) (*mailbox, error) {
	u, err := s.user(userName)
	if err != nil {
		return nil, err
	}
	mb, err := u.mailbox(name)
	if err != nil {
		return nil, fmt.Errorf("mailbox %q: %w", name, ErrNotFound)
	}
	return mb, nil
}
