package directory_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// roleSlapd is a directory with an admin (alice, also in helpdesk), a
// helpdesk member (hank) and olga in neither group.
func roleSlapd(t *testing.T) (*testserver.Slapd, *directory.LDAP) {
	t.Helper()
	s := testserver.StartSlapd(t, testserver.SlapdOptions{
		Users: []testserver.SlapdUser{
			{UID: "alice", CN: "Alice", Password: "alicepw"},
			{UID: "hank", CN: "Hank", Password: "hankpw"},
			{UID: "olga", CN: "Olga", Password: "olgapw"},
		},
		Groups: []testserver.SlapdGroup{
			{CN: "mail-admins", Members: []string{"alice"}},
			{CN: "helpdesk", Members: []string{"alice", "hank"}},
		},
	})
	cfg := ldapConfig(s)
	cfg.AdminGroup, cfg.HelpdeskGroup = s.GroupDN("mail-admins"), s.GroupDN("helpdesk")
	return s, directory.NewLDAP(cfg)
}

// roleModify changes the directory as its administrator.
func roleModify(t *testing.T, s *testserver.Slapd, fn func(*ldap.Conn) error) {
	t.Helper()
	conn, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	if err := fn(conn); err != nil {
		t.Fatal(err)
	}
}

// Role gives the role Authenticate gives, follows group changes, and says
// ErrNoRole when the person left both groups or was deleted.
func TestLDAPRole(t *testing.T) {
	ctx := context.Background()
	s, d := roleSlapd(t)
	for _, tc := range []struct {
		uid, password string
		want          model.Role
	}{{"alice", "alicepw", model.RoleAdmin}, {"hank", "hankpw", model.RoleHelpdesk}} {
		id, err := d.Authenticate(ctx, tc.uid, tc.password)
		if err != nil || id.Role != tc.want {
			t.Fatalf("Authenticate(%s) = %+v, %v; want role %s", tc.uid, id, err, tc.want)
		}
		if got, err := d.Role(ctx, id.DN); err != nil || got != tc.want {
			t.Errorf("Role(%s) = %q, %v; want %s", id.DN, got, err, tc.want)
		}
	}
	if _, err := d.Authenticate(ctx, "olga", "olgapw"); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Authenticate(olga) = %v, want ErrNoRole", err)
	}
	if _, err := d.Role(ctx, s.UserDN("olga")); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Role(olga) = %v, want ErrNoRole", err)
	}

	// alice leaves the admins: still helpdesk. hank leaves helpdesk: nothing.
	roleModify(t, s, func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest(s.GroupDN("mail-admins"), nil)
		m.Delete("member", []string{s.UserDN("alice")})
		m.Add("member", []string{s.AdminDN}) // a groupOfNames needs a member
		if err := c.Modify(m); err != nil {
			return err
		}
		m = ldap.NewModifyRequest(s.GroupDN("helpdesk"), nil)
		m.Delete("member", []string{s.UserDN("hank")})
		return c.Modify(m)
	})
	if got, err := d.Role(ctx, s.UserDN("alice")); err != nil || got != model.RoleHelpdesk {
		t.Errorf("Role(alice) after leaving the admins = %q, %v; want helpdesk", got, err)
	}
	if _, err := d.Role(ctx, s.UserDN("hank")); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Role(hank) after leaving helpdesk = %v, want ErrNoRole", err)
	}

	// alice's entry is deleted (her DN stays in the group: no referential
	// integrity overlay here): gone.
	roleModify(t, s, func(c *ldap.Conn) error { return c.Del(ldap.NewDelRequest(s.UserDN("alice"), nil)) })
	if _, err := d.Role(ctx, s.UserDN("alice")); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Role(deleted alice) = %v, want ErrNoRole", err)
	}
	if _, err := d.Role(ctx, ""); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Role(\"\") = %v, want ErrNoRole", err)
	}
}

// A directory that cannot be reached is an error, never ErrNoRole: the
// caller must not sign people out for it.
func TestLDAPRoleUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := directory.NewLDAP(config.Directory{URL: "ldap://" + addr, BaseDN: "dc=example,dc=org",
		AdminGroup: "cn=a,dc=example,dc=org", HelpdeskGroup: "cn=h,dc=example,dc=org"})
	_, err = d.Role(context.Background(), "uid=hank,ou=people,dc=example,dc=org")
	if err == nil || errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Role() with the directory down = %v, want a connection error", err)
	}
}

func TestMemAuthRole(t *testing.T) {
	ctx := context.Background()
	m := directory.NewMemAuth()
	m.Add("alice", "Alice", "pw", model.RoleAdmin)
	id, err := m.Authenticate(ctx, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Role(ctx, id.DN); err != nil || got != model.RoleAdmin {
		t.Errorf("Role() = %q, %v; want admin", got, err)
	}
	m.SetRole("alice", model.RoleHelpdesk)
	if got, err := m.Role(ctx, id.DN); err != nil || got != model.RoleHelpdesk {
		t.Errorf("Role() after SetRole(helpdesk) = %q, %v; want helpdesk", got, err)
	}
	m.SetRole("alice", "")
	if _, err := m.Role(ctx, id.DN); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Role() without a role = %v, want ErrNoRole", err)
	}
	m.Add("alice", "Alice", "pw", model.RoleAdmin)
	m.Remove("alice")
	if _, err := m.Role(ctx, id.DN); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("Role() of a removed person = %v, want ErrNoRole", err)
	}
}
