package testserver

import (
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestStartSlapd(t *testing.T) {
	s := StartSlapd(t, SlapdOptions{
		Users: []SlapdUser{
			{UID: "user001", CN: "User One", Mail: "user001@example.org", Home: "src.example.org", Password: "pw-user001"},
			{UID: "user002", Mail: "user002@example.org", Home: "src.example.org", Password: "pw-user002"},
			{UID: "odd: name", Password: " spaced "},
		},
		Groups: []SlapdGroup{
			{CN: "wave1", Members: []string{"user001", "user002"}},
			{CN: "empty"},
		},
	})
	dn := s.UserDN("user001")

	t.Run("user bind", func(t *testing.T) {
		for _, tc := range []struct {
			name, dn, password string
			wantCode           uint16
		}{
			{"right password", dn, "pw-user001", ldap.LDAPResultSuccess},
			{"wrong password", dn, "wrong", ldap.LDAPResultInvalidCredentials},
			{"base64 password", s.UserDN("odd: name"), " spaced ", ldap.LDAPResultSuccess},
			{"admin", s.AdminDN, s.AdminPassword, ldap.LDAPResultSuccess},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := bind(t, s, tc.dn, tc.password)
				if tc.wantCode == ldap.LDAPResultSuccess {
					if err != nil {
						t.Fatalf("Bind(%q) = %v, want nil", tc.dn, err)
					}
					return
				}
				if !ldap.IsErrorWithCode(err, tc.wantCode) {
					t.Fatalf("Bind(%q) = %v, want result code %d", tc.dn, err, tc.wantCode)
				}
			})
		}
	})

	t.Run("attributes", func(t *testing.T) {
		for _, tc := range []struct {
			dn, attr string
			want     []string
		}{
			{dn, "mailHost", []string{"src.example.org"}},
			{dn, "cn", []string{"User One"}},
			{s.UserDN("user002"), "cn", []string{"user002"}},
			{s.UserDN("odd: name"), "mailHost", nil},
			{s.GroupDN("wave1"), "member", []string{dn, s.UserDN("user002")}},
			{s.GroupDN("empty"), "member", []string{s.AdminDN}},
		} {
			if got := s.Attr(t, tc.dn, tc.attr); !slices.Equal(got, tc.want) {
				t.Errorf("Attr(%q, %q) = %q, want %q", tc.dn, tc.attr, got, tc.want)
			}
		}
	})

	t.Run("modify counted", func(t *testing.T) {
		if got := s.ModifyCount(t, dn); got != 0 {
			t.Fatalf("ModifyCount() before modify = %d, want 0", got)
		}
		conn := dial(t, s)
		if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
			t.Fatalf("Bind(admin) = %v, want nil", err)
		}
		req := ldap.NewModifyRequest(dn, nil)
		req.Replace("mailHost", []string{"dst.example.org"})
		if err := conn.Modify(req); err != nil {
			t.Fatalf("Modify() = %v, want nil", err)
		}
		if got := s.Attr(t, dn, "mailHost"); !slices.Equal(got, []string{"dst.example.org"}) {
			t.Errorf("Attr(mailHost) = %q, want [dst.example.org]", got)
		}
		// Spelled differently, the DN is the same entry.
		if got := s.ModifyCount(t, "UID=user001, OU=People,dc=example,dc=org"); got != 1 {
			t.Errorf("ModifyCount() = %d, want 1\n%s", got, s.Log())
		}
		if got := s.ModifyCount(t, s.UserDN("user002")); got != 0 {
			t.Errorf("ModifyCount(user002) = %d, want 0", got)
		}
	})

	t.Run("users may not change mailHost", func(t *testing.T) {
		conn := dial(t, s)
		if err := conn.Bind(s.UserDN("user002"), "pw-user002"); err != nil {
			t.Fatalf("Bind(user002) = %v, want nil", err)
		}
		req := ldap.NewModifyRequest(s.UserDN("user002"), nil)
		req.Replace("mailHost", []string{"evil.example.org"})
		if err := conn.Modify(req); !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
			t.Fatalf("Modify() as user = %v, want insufficient access", err)
		}
		if got := s.ModifyCount(t, s.UserDN("user002")); got != 1 {
			t.Errorf("ModifyCount() after refused modify = %d, want 1", got)
		}
	})

	t.Run("stop", func(t *testing.T) {
		s.Stop()
		if err := syscall.Kill(s.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("Kill(%d, 0) after Stop = %v, want ESRCH", s.Pid, err)
		}
		if conn, err := ldap.DialURL(s.URL); err == nil {
			_ = conn.Close()
			t.Errorf("DialURL(%s) after Stop = nil, want an error", s.URL)
		}
		s.Stop() // a second Stop, as t.Cleanup does, must not block or panic
		if _, err := os.Stat(s.logPath); err != nil {
			t.Errorf("log after Stop: %v", err)
		}
	})
}

func dial(t *testing.T, s *Slapd) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("DialURL(%s) = %v", s.URL, err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return conn
}

func bind(t *testing.T, s *Slapd, dn, password string) error {
	t.Helper()
	return dial(t, s).Bind(dn, password)
}
