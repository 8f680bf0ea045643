package imapmem

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// session is one IMAP connection's state. imapserver calls its methods from
// the connection goroutine only (and Idle from a helper goroutine while that
// one waits), so its fields need no lock.
type session struct {
	srv  *Server
	conn *faultConn
	user *user     // nil until logged in
	sel  *selected // nil unless a mailbox is selected
}

var (
	_ imapserver.Session          = (*session)(nil)
	_ imapserver.SessionNamespace = (*session)(nil)
	_ imapserver.SessionMove      = (*session)(nil)
	_ imapserver.SessionSASL      = (*session)(nil)
)

func (s *Server) newSession(c *imapserver.Conn) *session {
	sess := &session{srv: s}
	if fc, ok := c.NetConn().(*faultConn); ok {
		fc.sess = sess
		sess.conn = fc
	}
	return sess
}

// hang blocks while the session's user is hung (Faults.Hang).
func (sess *session) hang() error {
	if sess.user == nil {
		return nil
	}
	return sess.srv.faults.waitHang(sess.user.name, sess.srv.done)
}

// Close implements imapserver.Session.
func (sess *session) Close() error {
	if sess.sel != nil {
		sess.sel.view.Close()
		sess.sel = nil
	}
	if sess.conn != nil {
		sess.conn.sessionClosed()
	}
	return nil
}

// Namespace implements imapserver.SessionNamespace: one personal namespace
// without prefix, like Dovecot's default.
func (sess *session) Namespace() (*imap.NamespaceData, error) {
	if err := sess.hang(); err != nil {
		return nil, err
	}
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: sess.srv.delim}}}, nil
}

// Create implements imapserver.Session, with CREATE-SPECIAL-USE (RFC 6154).
func (sess *session) Create(name string, opts *imap.CreateOptions) error {
	if err := sess.hang(); err != nil {
		return err
	}
	if err := sess.srv.faults.createAttempt(name, sess.srv.delim); err != nil {
		return err
	}
	var use imap.MailboxAttr
	if opts != nil && len(opts.SpecialUse) > 0 {
		use = opts.SpecialUse[0]
	}
	u := sess.user
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.createLocked(strings.TrimRight(name, string(sess.srv.delim)), use); !ok {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	}
	return nil
}

// Delete implements imapserver.Session.
func (sess *session) Delete(name string) error {
	if err := sess.hang(); err != nil {
		return err
	}
	u := sess.user
	u.mu.Lock()
	defer u.mu.Unlock()
	if canonicalName(name) == "INBOX" {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	}
	if _, err := u.mailboxLocked(name); err != nil {
		return err
	}
	delete(u.mailboxes, canonicalName(name))
	return nil
}

// Rename implements imapserver.Session (children are not renamed).
func (sess *session) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	if err := sess.hang(); err != nil {
		return err
	}
	u := sess.user
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.mailboxLocked(oldName)
	if err != nil {
		return err
	}
	newName = canonicalName(strings.TrimRight(newName, string(sess.srv.delim)))
	if u.mailboxes[newName] != nil {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	}
	delete(u.mailboxes, mb.name)
	mb.mu.Lock()
	mb.name = newName
	mb.mu.Unlock()
	u.mailboxes[newName] = mb
	return nil
}

// Subscribe implements imapserver.Session.
func (sess *session) Subscribe(name string) error { return sess.setSubscribed(name, true) }

// Unsubscribe implements imapserver.Session.
func (sess *session) Unsubscribe(name string) error { return sess.setSubscribed(name, false) }

func (sess *session) setSubscribed(name string, on bool) error {
	if err := sess.hang(); err != nil {
		return err
	}
	mb, err := sess.user.mailbox(name)
	if err != nil {
		return err
	}
	mb.mu.Lock()
	mb.subscribed = on
	mb.mu.Unlock()
	return nil
}

// Status implements imapserver.Session.
func (sess *session) Status(name string, opts *imap.StatusOptions) (*imap.StatusData, error) {
	if err := sess.hang(); err != nil {
		return nil, err
	}
	sess.srv.faults.countMailbox(sess.user.name, name, func(c *MailboxCounts) { c.Statuses++ })
	mb, err := sess.user.mailbox(name)
	if err != nil {
		return nil, err
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.statusLocked(opts), nil
}

// Append implements imapserver.Session. Order of checks: injected refusal,
// mailbox existence (TRYCREATE), quota (OVERQUOTA).
func (sess *session) Append(name string, r imap.LiteralReader, opts *imap.AppendOptions) (*imap.AppendData, error) {
	if err := sess.hang(); err != nil {
		return nil, err
	}
	if err := sess.srv.faults.appendAttempt(name, r.Size(), opts.Flags); err != nil {
		return nil, err
	}
	u := sess.user
	mb, err := u.mailbox(name)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	if err := checkQuota(u, r.Size()); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read append literal: %w", err)
	}
	// A client that vanished inside the literal reads as a short body with
	// no error: never store a truncated message.
	if int64(buf.Len()) != r.Size() {
		return nil, fmt.Errorf("append literal: %d of %d bytes: %w", buf.Len(), r.Size(), io.ErrUnexpectedEOF)
	}
	// Quota is checked again with the store locked: a concurrent APPEND may
	// have used the room meanwhile.
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.overQuotaLocked(int64(buf.Len())); err != nil {
		return nil, err
	}
	return mb.append(sess.srv.faults.alterAppend(buf.Bytes()), opts.Flags, opts.Time), nil
}

// Poll implements imapserver.Session.
func (sess *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if err := sess.hang(); err != nil {
		return err
	}
	if sess.sel == nil {
		return nil
	}
	return sess.sel.view.Poll(w, allowExpunge)
}

// Idle implements imapserver.Session.
func (sess *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if sess.sel == nil {
		<-stop
		return nil
	}
	return sess.sel.view.Idle(w, stop)
}
