package imapmem

import (
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestMailboxCounts(t *testing.T) {
	s, addr := mustServer(t, Options{})
	if err := s.CreateMailbox("alice", "Archive", ""); err != nil {
		t.Fatal(err)
	}
	c := mustLogin(t, addr, "alice")
	if _, err := c.Select("inbox", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Archive", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Gone", nil).Wait(); err == nil {
		t.Fatal("SELECT of a missing mailbox succeeded")
	}
	got := s.Faults().MailboxCounts("alice")
	want := map[string]MailboxCounts{
		"INBOX":   {Selects: 1},
		"Archive": {Examines: 1, Statuses: 1},
		"Gone":    {Selects: 1}, // attempts count
	}
	if len(got) != len(want) {
		t.Errorf("MailboxCounts() = %+v, want %+v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("MailboxCounts()[%q] = %+v, want %+v", name, got[name], w)
		}
	}
	if n := len(s.Faults().MailboxCounts("bob")); n != 0 {
		t.Errorf("MailboxCounts(bob) has %d mailboxes, want none", n)
	}
}

func TestNoStatusSize(t *testing.T) {
	_, addr := mustServer(t, Options{NoStatusSize: true})
	c := mustLogin(t, addr, "alice")
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Has(imap.CapStatusSize) || !caps.Has(imap.CapUIDPlus) {
		t.Errorf("capabilities %v: want UIDPLUS without STATUS=SIZE", caps)
	}
}
