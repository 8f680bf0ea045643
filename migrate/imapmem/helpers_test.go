package imapmem

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

const (
	testAdmin     = "admin"
	testAdminPass = "adminpw"
)

// mustServer starts a server on 127.0.0.1 with users alice (pw "alicepw") and
// bob (pw "bobpw"), closed by t.Cleanup.
func mustServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	if opts.AdminUser == "" {
		opts.AdminUser, opts.AdminPassword = testAdmin, testAdminPass
	}
	s := New(opts)
	s.AddUser("alice", "alicepw")
	s.AddUser("bob", "bobpw")
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return s, addr
}

// mustDial connects a client, closed by t.Cleanup.
func mustDial(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatalf("DialInsecure() = %v", err)
	}
	t.Cleanup(func() { _ = c.Close() }) // may already be closed by the test
	return c
}

// mustLogin connects and logs in as user with its own password.
func mustLogin(t *testing.T, addr, user string) *imapclient.Client {
	t.Helper()
	c := mustDial(t, addr)
	if err := c.Login(user, user+"pw").Wait(); err != nil {
		t.Fatalf("Login(%q) = %v", user, err)
	}
	return c
}

// mustSelect selects a mailbox.
func mustSelect(t *testing.T, c *imapclient.Client, name string) {
	t.Helper()
	if _, err := c.Select(name, nil).Wait(); err != nil {
		t.Fatalf("Select(%q) = %v", name, err)
	}
}

// testBody returns an RFC 5322 message of about size bytes.
func testBody(n, size int) []byte {
	head := fmt.Sprintf("From: a@example.org\r\nTo: b@example.org\r\nSubject: test %d\r\nMessage-ID: <%d@example.org>\r\n\r\n", n, n)
	return []byte(head + strings.Repeat("x", max(size-len(head)-2, 0)) + "\r\n")
}

// mustAdd seeds a message.
func mustAdd(t *testing.T, s *Server, user, mailbox string, body []byte) imap.UID {
	t.Helper()
	uid, err := s.AddMessage(user, mailbox, []imap.Flag{imap.FlagSeen}, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), body)
	if err != nil {
		t.Fatalf("AddMessage() = %v", err)
	}
	return uid
}

// imapCode returns the response code of an *imap.Error, or "" for another
// error; ok is false for a nil error or a non-IMAP error.
func imapCode(err error) (imap.ResponseCode, bool) {
	var e *imap.Error
	if !errors.As(err, &e) {
		return "", false
	}
	return e.Code, true
}

// fetchBodies runs UID FETCH uids BODY.PEEK[] and returns the bodies by UID
// and the command's final error.
func fetchBodies(t *testing.T, c *imapclient.Client, uids ...imap.UID) (map[imap.UID]string, error) {
	t.Helper()
	cmd := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	got := make(map[imap.UID]string)
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		buf, err := msg.Collect()
		if err != nil {
			_ = cmd.Close() // the error of interest is err
			return got, err
		}
		got[buf.UID] = string(buf.FindBodySection(&imap.FetchItemBodySection{Peek: true}))
	}
	return got, cmd.Close()
}
