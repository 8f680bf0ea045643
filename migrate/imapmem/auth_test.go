package imapmem

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

func TestLogin(t *testing.T) {
	_, addr := mustServer(t, Options{})
	login := func(user, pw string) func(*imapclient.Client) error {
		return func(c *imapclient.Client) error { return c.Login(user, pw).Wait() }
	}
	plain := func(authz, authc, pw string) func(*imapclient.Client) error {
		return func(c *imapclient.Client) error { return c.Authenticate(sasl.NewPlainClient(authz, authc, pw)) }
	}
	tests := []struct {
		name   string
		auth   func(*imapclient.Client) error
		wantOK bool
	}{
		{"own password", login("alice", "alicepw"), true},
		{"master user", login("alice*admin", testAdminPass), true},
		{"sasl plain own", plain("", "alice", "alicepw"), true},
		{"sasl plain admin as user", plain("alice", testAdmin, testAdminPass), true},
		{"wrong password", login("alice", "nope"), false},
		{"other user's password", login("alice", "bobpw"), false},
		{"master user wrong password", login("alice*admin", "nope"), false},
		{"master user not admin", login("alice*bob", "bobpw"), false},
		{"unknown user", login("carol", "carolpw"), false},
		{"master user unknown user", login("carol*admin", testAdminPass), false},
		{"sasl plain admin wrong password", plain("alice", testAdmin, "nope"), false},
		{"sasl plain non-admin as user", plain("alice", "bob", "bobpw"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDial(t, addr)
			err := tt.auth(c)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("auth = %v, want nil", err)
				}
				// The session must be alice's: her INBOX is selectable.
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					t.Errorf("Select() = %v, want nil", err)
				}
				return
			}
			if code, _ := imapCode(err); code != imap.ResponseCodeAuthenticationFailed {
				t.Errorf("auth = %v, want NO [AUTHENTICATIONFAILED]", err)
			}
		})
	}
}

func TestAdminLoginActsAsUser(t *testing.T) {
	s, addr := mustServer(t, Options{})
	if err := s.CreateMailbox("bob", "OnlyBob", ""); err != nil {
		t.Fatalf("CreateMailbox() = %v", err)
	}
	c := mustDial(t, addr)
	if err := c.Authenticate(sasl.NewPlainClient("bob", testAdmin, testAdminPass)); err != nil {
		t.Fatalf("Authenticate() = %v", err)
	}
	if _, err := c.Select("OnlyBob", nil).Wait(); err != nil {
		t.Errorf("Select(OnlyBob) = %v, want nil (session must be bob's)", err)
	}
}

func TestFailLogin(t *testing.T) {
	s, addr := mustServer(t, Options{})
	s.Faults().FailLogin("alice", 2, imap.ResponseCodeUnavailable, "Try later")
	for i := range 2 {
		c := mustDial(t, addr)
		err := c.Login("alice*admin", testAdminPass).Wait()
		if code, _ := imapCode(err); code != imap.ResponseCodeUnavailable {
			t.Fatalf("Login() #%d = %v, want NO [UNAVAILABLE]", i+1, err)
		}
	}
	// Other users are not affected.
	mustLogin(t, addr, "bob")
	mustLogin(t, addr, "alice")
	if got, want := s.Faults().Counts().Logins, 4; got != want {
		t.Errorf("Counts().Logins = %d, want %d", got, want)
	}
}
