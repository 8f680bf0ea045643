package imapmem

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestListSpecialUseAndSubscribed(t *testing.T) {
	s, addr := mustServer(t, Options{})
	for _, mb := range []struct {
		name string
		use  imap.MailboxAttr
	}{
		{"Sent Items", imap.MailboxAttrSent},
		{"Trash", imap.MailboxAttrTrash},
		{"Projects", ""},
		{"Projects/Ärger", ""},
	} {
		if err := s.CreateMailbox("alice", mb.name, mb.use); err != nil {
			t.Fatalf("CreateMailbox(%q) = %v", mb.name, err)
		}
	}
	if err := s.SetSubscribed("alice", "Sent Items", true); err != nil {
		t.Fatalf("SetSubscribed() = %v", err)
	}
	mustAdd(t, s, "alice", "Projects/Ärger", testBody(1, 300))

	c := mustLogin(t, addr, "alice")
	if err := c.Subscribe("Projects/Ärger").Wait(); err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	l, err := c.List("", "*", &imap.ListOptions{
		ReturnStatus:     &imap.StatusOptions{NumMessages: true, UIDValidity: true},
		ReturnSubscribed: true,
		ReturnSpecialUse: true,
	}).Collect()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	type row struct {
		subscribed, sent, trash, children bool
		messages                          uint32
	}
	got := make(map[string]row)
	for _, d := range l {
		if d.Delim != '/' {
			t.Errorf("List() %q delimiter = %q, want '/'", d.Mailbox, d.Delim)
		}
		if d.Status == nil || d.Status.NumMessages == nil {
			t.Fatalf("List() %q has no STATUS", d.Mailbox)
		}
		got[d.Mailbox] = row{
			subscribed: slices.Contains(d.Attrs, imap.MailboxAttrSubscribed),
			sent:       slices.Contains(d.Attrs, imap.MailboxAttrSent),
			trash:      slices.Contains(d.Attrs, imap.MailboxAttrTrash),
			children:   slices.Contains(d.Attrs, imap.MailboxAttrHasChildren),
			messages:   *d.Status.NumMessages,
		}
	}
	want := map[string]row{
		"INBOX":          {},
		"Sent Items":     {subscribed: true, sent: true},
		"Trash":          {trash: true},
		"Projects":       {children: true},
		"Projects/Ärger": {subscribed: true, messages: 1},
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("List() %q = %+v (present %v), want %+v", name, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("List() returned %d mailboxes, want %d", len(got), len(want))
	}

	infos, err := s.Mailboxes("alice")
	if err != nil {
		t.Fatalf("Mailboxes() = %v", err)
	}
	i := slices.IndexFunc(infos, func(mi MailboxInfo) bool { return mi.Name == "Projects/Ärger" })
	if i < 0 || !infos[i].Subscribed || infos[i].Messages != 1 {
		t.Errorf("Mailboxes() = %+v, want Projects/Ärger subscribed with 1 message", infos)
	}
}

func TestListSubscribedSelection(t *testing.T) {
	s, addr := mustServer(t, Options{})
	for _, name := range []string{"A", "B"} {
		if err := s.CreateMailbox("alice", name, ""); err != nil {
			t.Fatalf("CreateMailbox() = %v", err)
		}
	}
	c := mustLogin(t, addr, "alice")
	if err := c.Subscribe("B").Wait(); err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	l, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("List(SUBSCRIBED) = %v", err)
	}
	if len(l) != 1 || l[0].Mailbox != "B" || !slices.Contains(l[0].Attrs, imap.MailboxAttrSubscribed) {
		t.Errorf("List(SUBSCRIBED) = %+v, want only B with \\Subscribed", l)
	}
}

func TestDotDelimiter(t *testing.T) {
	s, addr := mustServer(t, Options{Delimiter: '.'})
	if err := s.CreateMailbox("alice", "Work", ""); err != nil {
		t.Fatalf("CreateMailbox() = %v", err)
	}
	c := mustLogin(t, addr, "alice")
	if err := c.Create("Work.2024", nil).Wait(); err != nil {
		t.Fatalf("Create() = %v", err)
	}
	l, err := c.List("", "Work.%", nil).Collect()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	if len(l) != 1 || l[0].Mailbox != "Work.2024" || l[0].Delim != '.' {
		t.Errorf("List(Work.%%) = %+v, want Work.2024 with delimiter '.'", l)
	}
	ns, err := c.Namespace().Wait()
	if err != nil {
		t.Fatalf("Namespace() = %v", err)
	}
	if len(ns.Personal) != 1 || ns.Personal[0].Delim != '.' || ns.Personal[0].Prefix != "" {
		t.Errorf("Namespace() personal = %+v, want one with no prefix and '.'", ns.Personal)
	}
}
