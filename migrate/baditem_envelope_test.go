package migrate

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// TestFetchEnvelope: fetchEnvelope returns an envelope or an error, never
// neither (a UID not in the folder is an error).
func TestFetchEnvelope(t *testing.T) {
	s, addr := testenv.Serve(t, imapmem.Options{Delimiter: '/'})
	s.AddUser("alice", "pw")
	uid, err := s.AddMessage("alice", "INBOX", nil, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		[]byte("From: a@example.org\r\nSubject: hello\r\nMessage-ID: <m1@example.org>\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), config.Server{Name: "src", Address: addr, TLS: config.TLSNone,
		Login: config.LoginSASLPlain, AdminUser: "admin", AdminPassword: "adminpw"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	env, err := fetchEnvelope(c, uid)
	if err != nil || env == nil || env.Subject != "hello" || env.MessageID != "m1@example.org" {
		t.Errorf("fetchEnvelope(uid %d) = %+v, %v; want subject hello, Message-ID m1@example.org", uid, env, err)
	}
	if env, err := fetchEnvelope(c, uid+100); err == nil || env != nil {
		t.Errorf("fetchEnvelope(a UID not in the folder) = %+v, %v; want nil and an error", env, err)
	}
	if env, err := fetchEnvelope(nil, imap.UID(1)); err == nil || env != nil {
		t.Errorf("fetchEnvelope(no connection) = %+v, %v; want nil and an error", env, err)
	}
}
