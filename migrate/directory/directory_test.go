package directory_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/testserver"
)

const (
	src = "src.example.org"
	dst = "dst.example.org"
)

// testUsers is the directory content of every test. "a" exists so that an unescaped
// `a*)(uid=*` would find somebody.
var testUsers = []testserver.SlapdUser{
	{UID: "user001", CN: "User One", Mail: "user001@example.org", Home: src, Password: "pw-user001"},
	{UID: "user002", CN: "Bob Two", Mail: "bob@example.org", Home: src, Password: "pw-user002"},
	{UID: "user003", CN: "Carol Three", Mail: "carol@other.org", Home: dst, Password: "pw-user003"},
	{UID: "a", CN: "A", Mail: "a@example.org", Home: src, Password: "pw-a"},
	{UID: "x(1)", CN: "X One", Home: src, Password: "pw-x"},
}

var testGroups = []testserver.SlapdGroup{
	{CN: "wave1", Members: []string{"user001", "user002"}},
	{CN: "empty"},
}

// searcher is what both implementations offer.
type searcher interface {
	directory.Directory
	Search(ctx context.Context, q directory.UserQuery) ([]directory.User, error)
}

// backend is one Directory implementation under test, with a way to observe it.
type backend struct {
	dir     searcher
	userDN  func(uid string) string
	updates func(t *testing.T, dn string) int // modifications the directory received
	home    func(t *testing.T, dn string) string
}

// backends returns a fresh real OpenLDAP and a fresh Mem with the same content.
func backends(t *testing.T) map[string]backend {
	t.Helper()
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: testUsers, Groups: testGroups})
	ldapBackend := backend{
		dir:     directory.NewLDAP(ldapConfig(s)),
		userDN:  s.UserDN,
		updates: func(t *testing.T, dn string) int { return s.ModifyCount(t, dn) },
		home: func(t *testing.T, dn string) string {
			return strings.Join(s.Attr(t, dn, "mailHost"), ",")
		},
	}

	var users []directory.User
	for _, u := range testUsers {
		users = append(users, directory.User{DN: s.UserDN(u.UID), UID: u.UID, Name: u.CN, Mail: u.Mail, Home: u.Home})
	}
	mem := directory.NewMem(users...)
	for _, g := range testGroups {
		mem.SetGroup(g.CN, g.Members...)
	}
	memBackend := backend{
		dir:     mem,
		userDN:  s.UserDN,
		updates: func(t *testing.T, dn string) int { return mem.Updates(dn) },
		home: func(t *testing.T, dn string) string {
			for _, u := range users {
				if strings.EqualFold(u.DN, dn) {
					got, err := mem.Lookup(context.Background(), u.UID)
					if err != nil {
						t.Fatalf("Mem.Lookup(%q) = %v", u.UID, err)
					}
					return got.Home
				}
			}
			t.Fatalf("no user with DN %q", dn)
			return ""
		},
	}
	return map[string]backend{"ldap": ldapBackend, "mem": memBackend}
}

func ldapConfig(s *testserver.Slapd) config.Directory {
	return config.Directory{
		URL:           s.URL,
		BindDN:        s.AdminDN,
		BindPassword:  s.AdminPassword,
		BaseDN:        s.BaseDN,
		UserFilter:    config.DefaultUserFilter,
		HomeAttribute: config.DefaultHomeAttribute,
	}
}

func TestDirectoryLookup(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name, uid string
				want      directory.User
				wantErr   error
			}{
				{"found", "user001", directory.User{DN: b.userDN("user001"), UID: "user001", Name: "User One", Mail: "user001@example.org", Home: src}, nil},
				{"uid case-insensitive", "USER002", directory.User{DN: b.userDN("user002"), UID: "user002", Name: "Bob Two", Mail: "bob@example.org", Home: src}, nil},
				{"parentheses escaped", "x(1)", directory.User{DN: b.userDN("x(1)"), UID: "x(1)", Name: "X One", Home: src}, nil},
				{"missing", "nobody", directory.User{}, directory.ErrNotFound},
				{"filter injection", "a*)(uid=*", directory.User{}, directory.ErrNotFound},
				{"wildcard", "*", directory.User{}, directory.ErrNotFound},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got, err := b.dir.Lookup(context.Background(), tc.uid)
					if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
						t.Fatalf("Lookup(%q) error = %v, want %v", tc.uid, err, tc.wantErr)
					}
					if got != tc.want {
						t.Errorf("Lookup(%q) = %+v, want %+v", tc.uid, got, tc.want)
					}
				})
			}
		})
	}
}

func TestLDAPLookupUserFilter(t *testing.T) {
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: testUsers})
	cfg := ldapConfig(s)
	cfg.UserFilter = "mail=*@example.org" // without parentheses, as people write it
	d := directory.NewLDAP(cfg)
	if _, err := d.Lookup(context.Background(), "user001"); err != nil {
		t.Errorf("Lookup(user001) = %v, want nil", err)
	}
	if _, err := d.Lookup(context.Background(), "user003"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Lookup(user003) outside the filter = %v, want ErrNotFound", err)
	}
}

func TestDirectorySetHome(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name, uid, from, to string
				calls               int   // the same call repeated, as a resumed move does
				wantErr             error // of every call
				wantErrText         string
				wantUpdates         int
				wantHome            string
			}{
				{name: "changes", uid: "user001", from: src, to: dst, calls: 2, wantUpdates: 1, wantHome: dst},
				{name: "already target", uid: "user002", from: "old.example.org", to: "SRC.example.org", calls: 1, wantUpdates: 0, wantHome: src},
				{name: "case-insensitive from", uid: "a", from: "SRC.EXAMPLE.ORG", to: dst, calls: 1, wantUpdates: 1, wantHome: dst},
				{name: "conflict", uid: "user003", from: src, to: "new.example.org", calls: 1,
					wantErr: directory.ErrConflict, wantErrText: dst, wantUpdates: 0, wantHome: dst},
			} {
				t.Run(tc.name, func(t *testing.T) {
					dn := b.userDN(tc.uid)
					for i := 0; i < tc.calls; i++ {
						err := b.dir.SetHome(context.Background(), dn, tc.from, tc.to)
						if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
							t.Fatalf("SetHome() call %d = %v, want %v", i+1, err, tc.wantErr)
						}
						if err != nil && !strings.Contains(err.Error(), tc.wantErrText) {
							t.Errorf("SetHome() = %q, want it to name %q", err, tc.wantErrText)
						}
					}
					if got := b.updates(t, dn); got != tc.wantUpdates {
						t.Errorf("updates of %s = %d, want %d", tc.uid, got, tc.wantUpdates)
					}
					if got := b.home(t, dn); got != tc.wantHome {
						t.Errorf("home of %s = %q, want %q", tc.uid, got, tc.wantHome)
					}
				})
			}
			t.Run("missing entry", func(t *testing.T) {
				err := b.dir.SetHome(context.Background(), b.userDN("ghost"), src, dst)
				if !errors.Is(err, directory.ErrNotFound) {
					t.Errorf("SetHome(ghost) = %v, want ErrNotFound", err)
				}
			})
		})
	}
}

// TestDirectorySetHomeRace checks that concurrent moves of one user to different targets
// cannot both win: the delete of the old value fails for every modify but the first.
func TestDirectorySetHomeRace(t *testing.T) {
	const n = 8
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			dn := b.userDN("user002")
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = b.dir.SetHome(context.Background(), dn, src, "host"+strconv.Itoa(i)+".example.org")
				})
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("SetHome() to host%d and host%d both = nil, want one ErrConflict", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, directory.ErrConflict):
					t.Errorf("SetHome() to host%d = %v, want nil or ErrConflict", i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("SetHome() errors = %v, want one nil", errs)
			}
			if got, want := b.home(t, dn), "host"+strconv.Itoa(winner)+".example.org"; got != want {
				t.Errorf("home = %q, want %q", got, want)
			}
		})
	}
}

func TestDirectorySearch(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				q       directory.UserQuery
				want    []string // uids, sorted
				wantErr error
			}{
				{name: "everybody", q: directory.UserQuery{}, want: []string{"a", "user001", "user002", "user003", "x(1)"}},
				{name: "text in cn", q: directory.UserQuery{Text: "one"}, want: []string{"user001", "x(1)"}},
				{name: "text in mail, other case", q: directory.UserQuery{Text: "OTHER.org"}, want: []string{"user003"}},
				{name: "text in uid", q: directory.UserQuery{Text: "er00"}, want: []string{"user001", "user002", "user003"}},
				{name: "text escaped", q: directory.UserQuery{Text: "*"}, want: nil},
				{name: "text with parenthesis", q: directory.UserQuery{Text: "x(1"}, want: []string{"x(1)"}},
				{name: "group", q: directory.UserQuery{Group: "wave1"}, want: []string{"user001", "user002"}},
				{name: "group and text", q: directory.UserQuery{Group: "wave1", Text: "bob"}, want: []string{"user002"}},
				{name: "group without users", q: directory.UserQuery{Group: "empty"}, want: nil},
				{name: "missing group", q: directory.UserQuery{Group: "nope"}, wantErr: directory.ErrNotFound},
				{name: "home", q: directory.UserQuery{Home: "DST.example.org"}, want: []string{"user003"}},
				{name: "home escaped", q: directory.UserQuery{Home: "*"}, want: nil},
				{name: "home and group", q: directory.UserQuery{Home: src, Group: "wave1", Text: "user001"}, want: []string{"user001"}},
				{name: "limit with group", q: directory.UserQuery{Group: "wave1", Limit: 1}, want: []string{"user001"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got, err := b.dir.Search(context.Background(), tc.q)
					if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
						t.Fatalf("Search(%+v) error = %v, want %v", tc.q, err, tc.wantErr)
					}
					if uids := uidsOf(got); !slices.Equal(uids, tc.want) {
						t.Errorf("Search(%+v) = %q, want %q", tc.q, uids, tc.want)
					}
				})
			}
			t.Run("limit", func(t *testing.T) {
				got, err := b.dir.Search(context.Background(), directory.UserQuery{Text: "user", Limit: 2})
				if err != nil {
					t.Fatalf("Search(limit 2) = %v", err)
				}
				if len(got) != 2 {
					t.Errorf("Search(limit 2) = %q, want 2 users", uidsOf(got))
				}
			})
			t.Run("user fields", func(t *testing.T) {
				got, err := b.dir.Search(context.Background(), directory.UserQuery{Text: "carol"})
				want := []directory.User{{DN: b.userDN("user003"), UID: "user003", Name: "Carol Three", Mail: "carol@other.org", Home: dst}}
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("Search(carol) = %+v, %v, want %+v, nil", got, err, want)
				}
			})
		})
	}
}

func uidsOf(users []directory.User) []string {
	var uids []string
	for _, u := range users {
		uids = append(uids, u.UID)
	}
	return uids
}

func TestDirectoryCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := b.dir.Lookup(ctx, "user001"); !errors.Is(err, context.Canceled) {
				t.Errorf("Lookup() = %v, want context.Canceled", err)
			}
			if err := b.dir.SetHome(ctx, b.userDN("user001"), src, dst); !errors.Is(err, context.Canceled) {
				t.Errorf("SetHome() = %v, want context.Canceled", err)
			}
			if got := b.updates(t, b.userDN("user001")); got != 0 {
				t.Errorf("updates = %d, want 0", got)
			}
		})
	}
}

// TestLDAPContextAbortsRequest uses a server that accepts connections and never answers:
// only the context can end the bind.
func TestLDAPContextAbortsRequest(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close listener: %v", err)
		}
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				// Read until the client closes; the bytes do not matter.
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				if err := c.Close(); err != nil {
					t.Errorf("close server side: %v", err)
				}
			})
		}
	})

	d := directory.NewLDAP(config.Directory{URL: "ldap://" + l.Addr().String(), BindDN: "cn=admin,dc=example,dc=org",
		BindPassword: "adminpw", BaseDN: "dc=example,dc=org"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := d.Lookup(ctx, "user001"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup() against a silent server = %v, want context.DeadlineExceeded", err)
	}
}

func TestLDAPCheck(t *testing.T) {
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: testUsers})
	unused := testserver.FreePort(t)
	for _, tc := range []struct {
		name     string
		change   func(*config.Directory)
		wantCode uint16 // 0: no error
		wantText string
	}{
		{"ok", func(*config.Directory) {}, 0, ""},
		{"user bind ok", func(c *config.Directory) {
			c.BindDN, c.BindPassword = s.UserDN("user001"), "pw-user001"
		}, 0, ""},
		{"wrong password", func(c *config.Directory) { c.BindPassword = "wrong" },
			ldap.LDAPResultInvalidCredentials, "invalid credentials"},
		{"unreachable", func(c *config.Directory) { c.URL = fmt.Sprintf("ldap://127.0.0.1:%d", unused) },
			ldap.ErrorNetwork, "connect to"},
		{"base DN missing", func(c *config.Directory) { c.BaseDN = "dc=nowhere,dc=org" },
			ldap.LDAPResultNoSuchObject, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ldapConfig(s)
			tc.change(&cfg)
			err := directory.NewLDAP(cfg).Check(context.Background())
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if !ldap.IsErrorWithCode(err, tc.wantCode) {
				t.Fatalf("Check() = %v, want LDAP code %d", err, tc.wantCode)
			}
			t.Logf("Check() = %v", err) // what an admin reads
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("Check() = %q, want it to say %q", err, tc.wantText)
			}
			if strings.Contains(err.Error(), cfg.BindPassword) {
				t.Errorf("Check() = %q reveals the bind password", err)
			}
		})
	}
}
