package imapmem

import (
	"sync"

	"github.com/emersion/go-imap/v2"
)

// Faults injects failures into a Server. All methods are safe for concurrent
// use and take effect from the next command that consults them.
type Faults struct {
	mu      sync.Mutex
	fetch   map[msgKey]*fetchFault
	hung    map[string]bool
	release chan struct{} // closed by Unhang; replaced afterwards
	refuse  func(mailbox string, size int64, flags []imap.Flag) *imap.Error
	// refuseCreate: CREATE of a name with one of these characters fails
	// (RefuseCreate).
	refuseCreate string
	alter        func(body []byte) []byte
	logins       refusals // by user (FailLogin)
	selects      refusals // by user\x00mailbox (FailSelect)
	counts       Counts
	waiting      int // commands blocked by Hang right now
	// mailboxCounts: see MailboxCounts (mailboxcounts.go).
	mailboxCounts map[mailboxKey]MailboxCounts
}

// Counts tells how often the server did something, for tests that assert
// retries. Attempts count whether they succeeded or failed.
type Counts struct {
	// FetchBodies counts messages whose content (BODY[...], BINARY[...],
	// RFC822) a FETCH tried to return, including injected failures and cuts.
	FetchBodies int
	// Appends counts APPEND commands that reached the session.
	Appends int
	// Logins counts LOGIN and AUTHENTICATE attempts.
	Logins int
}

type msgKey struct {
	user, mailbox string
	uid           imap.UID
}

type fetchFault struct {
	fail     int // failures left; < 0: always
	cut      int // cuts left; < 0: always
	cutAfter int
}

// refusals are NO answers injected the next left times (FailLogin,
// FailSelect), by key.
type refusals map[string]*refusal

type refusal struct {
	left int
	err  *imap.Error
}

// set makes the next times attempts under key fail with a NO of code and
// text; times <= 0 removes the fault.
func (rs refusals) set(key string, times int, code imap.ResponseCode, text string) {
	if times <= 0 {
		delete(rs, key)
		return
	}
	rs[key] = &refusal{left: times, err: &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}}
}

// take returns the failure for one attempt under key, if any.
func (rs refusals) take(key string) error {
	r := rs[key]
	if r == nil {
		return nil
	}
	r.left--
	if r.left <= 0 {
		delete(rs, key)
	}
	e := *r.err
	return &e
}

// errServerClosed ends commands released from a hang by Server.Close.
var errServerClosed = &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}

func newFaults() *Faults {
	return &Faults{
		fetch:   make(map[msgKey]*fetchFault),
		hung:    make(map[string]bool),
		release: make(chan struct{}),
		logins:  refusals{},
		selects: refusals{},
	}
}

func (f *Faults) fetchFaultLocked(user, mailbox string, uid imap.UID) *fetchFault {
	k := msgKey{user, canonicalName(mailbox), uid}
	ff := f.fetch[k]
	if ff == nil {
		ff = &fetchFault{}
		f.fetch[k] = ff
	}
	return ff
}

// FailFetch makes reading the content of message uid fail times times
// (times < 0: always). A FETCH covering it still returns the other messages
// and completes with a tagged NO [SERVERBUG], as Dovecot does for a message it
// cannot read; the failed message gets no FETCH response at all.
func (f *Faults) FailFetch(user, mailbox string, uid imap.UID, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetchFaultLocked(user, mailbox, uid).fail = times
}

// CutFetch makes the server close the TCP connection afterBytes bytes into
// the content literal of message uid, times times (times < 0: always): the
// client receives a literal shorter than announced, then EOF. With afterBytes
// at or beyond the literal size the connection ends right after the literal.
func (f *Faults) CutFetch(user, mailbox string, uid imap.UID, afterBytes int, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ff := f.fetchFaultLocked(user, mailbox, uid)
	ff.cut, ff.cutAfter = times, afterBytes
}

// fetchOutcome says what to do with one message content read, consuming one
// failure or cut if any is pending. A failure wins over a cut.
func (f *Faults) fetchOutcome(user, mailbox string, uid imap.UID) (fail bool, cut bool, cutAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts.FetchBodies++
	ff := f.fetch[msgKey{user, canonicalName(mailbox), uid}]
	switch {
	case ff == nil:
		return false, false, 0
	case ff.fail != 0:
		if ff.fail > 0 {
			ff.fail--
		}
		return true, false, 0
	case ff.cut != 0:
		if ff.cut > 0 {
			ff.cut--
		}
		return false, true, ff.cutAfter
	}
	return false, false, 0
}

// Hang makes every command of user's sessions, and new logins as user, block
// without an answer until Unhang or Server.Close. A command already running
// finishes normally.
func (f *Faults) Hang(user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hung[user] = true
}

// Unhang releases all hung sessions and clears every Hang.
func (f *Faults) Unhang() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.hung)
	close(f.release)
	f.release = make(chan struct{})
}

// waitHang blocks while user is hung. It returns errServerClosed if done is
// closed first.
func (f *Faults) waitHang(user string, done <-chan struct{}) error {
	for {
		f.mu.Lock()
		hung, release := f.hung[user], f.release
		f.mu.Unlock()
		if !hung {
			return nil
		}
		f.setWaiting(+1)
		select {
		case <-release:
			f.setWaiting(-1)
		case <-done:
			f.setWaiting(-1)
			return errServerClosed
		}
	}
}

func (f *Faults) setWaiting(delta int) {
	f.mu.Lock()
	f.waiting += delta
	f.mu.Unlock()
}

// Waiting returns how many commands are blocked by Hang right now, so that a
// test can wait until its client is stuck before cancelling it.
func (f *Faults) Waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting
}

// RefuseAppend installs a target-side refusal: a non-nil result of fn fails
// the APPEND with that error. A nil fn removes the refusal.
func (f *Faults) RefuseAppend(fn func(mailbox string, size int64, flags []imap.Flag) *imap.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = fn
}

// appendAttempt counts an APPEND and returns the refusal, if any. fn is called
// without the lock so that it may itself use Faults.
func (f *Faults) appendAttempt(mailbox string, size int64, flags []imap.Flag) error {
	f.mu.Lock()
	f.counts.Appends++
	fn := f.refuse
	f.mu.Unlock()
	if fn == nil {
		return nil
	}
	if e := fn(mailbox, size, flags); e != nil {
		return e
	}
	return nil
}

// FailLogin makes the next times logins as user fail with code and text, for
// example imap.ResponseCodeUnavailable to simulate throttling. times <= 0
// removes the fault.
func (f *Faults) FailLogin(user string, times int, code imap.ResponseCode, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins.set(user, times, code, text)
}

// loginAttempt counts a login as user and returns the injected failure, if any.
func (f *Faults) loginAttempt(user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts.Logins++
	return f.logins.take(user)
}

// FailSelect makes the next times SELECTs or EXAMINEs of mailbox as user
// fail with code and text while the mailbox stays (a server's transient
// refusal). times <= 0 removes the fault.
func (f *Faults) FailSelect(user, mailbox string, times int, code imap.ResponseCode, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.selects.set(user+"\x00"+mailbox, times, code, text)
}

// selectAttempt returns the injected failure of a SELECT, if any.
func (f *Faults) selectAttempt(user, mailbox string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.selects.take(user + "\x00" + mailbox)
}

// Counts returns the counters so far.
func (f *Faults) Counts() Counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts
}
