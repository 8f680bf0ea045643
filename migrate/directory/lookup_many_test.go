package directory_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// manyLooker is what both implementations offer for batched look-ups.
type manyLooker interface {
	LookupMany(ctx context.Context, uids []string) (map[string]directory.User, error)
}

func TestDirectoryLookupMany(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := b.dir.(manyLooker)
			// Repeats, other spellings, unknown uids and filter syntax that an unescaped
			// filter would turn into a match for everybody.
			got, err := d.LookupMany(context.Background(), []string{
				"user001", "USER002", "nobody", "a*)(uid=*", "x(1)", "user001", "User001", "*", "",
			})
			if err != nil {
				t.Fatalf("LookupMany() = %v", err)
			}
			want := map[string]string{"user001": "user001", "USER002": "user002", "x(1)": "x(1)", "User001": "user001"}
			if len(got) != len(want) {
				t.Errorf("LookupMany() found %d uids %v, want %d %v", len(got), keys(got), len(want), want)
			}
			for req, uid := range want {
				u, ok := got[req]
				if !ok || u.UID != uid || !strings.EqualFold(u.DN, b.userDN(uid)) {
					t.Errorf("LookupMany()[%q] = %+v, %v, want uid %q", req, u, ok, uid)
				}
			}
			if u := got["USER002"]; u.Name != "Bob Two" || u.Mail != "bob@example.org" || u.Home != src {
				t.Errorf("LookupMany()[USER002] = %+v, want Bob Two's entry", u)
			}
			if got, err := d.LookupMany(context.Background(), nil); err != nil || len(got) != 0 {
				t.Errorf("LookupMany(nil) = %v, %v, want empty", got, err)
			}
		})
	}
}

func TestDirectoryLookupManyCancelled(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := b.dir.(manyLooker).LookupMany(ctx, []string{"user001"}); !errors.Is(err, context.Canceled) {
				t.Errorf("LookupMany() = %v, want context.Canceled", err)
			}
		})
	}
}

func TestMemLookupManyAmbiguous(t *testing.T) {
	m := directory.NewMem(
		directory.User{DN: "uid=dup,ou=people,dc=example,dc=org", UID: "dup"},
		directory.User{DN: "cn=Dup Two,ou=people,dc=example,dc=org", UID: "DUP"},
	)
	if _, err := m.LookupMany(context.Background(), []string{"dup"}); err == nil || !strings.Contains(err.Error(), "2 entries match") {
		t.Errorf("LookupMany(dup) = %v, want an error naming 2 entries", err)
	}
}

func TestLDAPLookupManyAmbiguousAndUserFilter(t *testing.T) {
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: testUsers})
	conn, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	// A second entry for user002, and one entry holding two uids.
	for dn, uids := range map[string][]string{
		"cn=Bob Again," + s.PeopleDN: {"user002"},
		"cn=Two Names," + s.PeopleDN: {"first-name", "second-name"},
	} {
		add := ldap.NewAddRequest(dn, nil)
		add.Attribute("objectClass", []string{"inetOrgPerson", "inetLocalMailRecipient"})
		add.Attribute("cn", []string{strings.TrimPrefix(strings.Split(dn, ",")[0], "cn=")})
		add.Attribute("sn", []string{"x"})
		add.Attribute("uid", uids)
		add.Attribute("mailHost", []string{src})
		if err := conn.Add(add); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}

	d := directory.NewLDAP(ldapConfig(s))
	_, err = d.LookupMany(context.Background(), []string{"user001", "user002"})
	if err == nil || !strings.Contains(err.Error(), `user "user002": 2 entries match`) {
		t.Errorf("LookupMany(user002 twice in the directory) = %v, want an error naming it", err)
	}
	got, err := d.LookupMany(context.Background(), []string{"first-name", "SECOND-NAME"})
	if err != nil {
		t.Fatalf("LookupMany(two uids of one entry) = %v", err)
	}
	if got["first-name"].DN != got["SECOND-NAME"].DN || got["first-name"].DN == "" {
		t.Errorf("LookupMany(two uids of one entry) = %+v, want the entry for both", got)
	}

	cfg := ldapConfig(s)
	cfg.UserFilter = "(|(uid=user001)(uid=user002))"
	got, err = directory.NewLDAP(cfg).LookupMany(context.Background(), []string{"user001", "user003"})
	if err != nil || len(got) != 1 || got["user001"].UID != "user001" {
		t.Errorf("LookupMany() with a user filter = %v, %v, want user001 only", keys(got), err)
	}
}

// slapdConnLine and slapdSearchLine match slapd's stats lines for a bind (every session
// binds first) and for a search, e.g. `conn=1001 op=0 BIND dn="cn=admin,..." method=128`
// and `conn=1001 op=1 SRCH base="dc=example,dc=org" scope=2 deref=0 filter="(...)"`.
// Binds rather than accepted connections are counted: slapd may log the accept of
// StartSlapd's probe connection, which never binds, after the test has begun.
var (
	slapdConnLine   = regexp.MustCompile(`\bconn=(\d+) op=\d+ BIND dn=".*" method=`)
	slapdSearchLine = regexp.MustCompile(`\bconn=(\d+) op=\d+ SRCH base=".*" scope=\d+ deref=\d+ filter="(.*)"`)
)

// slapdTraffic counts the connections that bound and the look-up searches (an OR of
// uids) it received, with the connections those came on.
func slapdTraffic(log string) (conns, lookups int, lookupConns map[string]bool) {
	lookupConns = map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		if slapdConnLine.MatchString(line) {
			conns++
		}
		if m := slapdSearchLine.FindStringSubmatch(line); m != nil && strings.Contains(m[2], "(|(uid=") {
			lookups++
			lookupConns[m[1]] = true
		}
	}
	return conns, lookups, lookupConns
}

// TestLDAPLookupManyOneConnection looks up 2,000 uids, a few unknown, against real
// OpenLDAP and counts in slapd's log what it received: one connection, 100 uids a search.
func TestLDAPLookupManyOneConnection(t *testing.T) {
	const n, unknown = 2000, 5
	var users []testserver.SlapdUser
	var uids []string
	for i := range n - unknown {
		uid := fmt.Sprintf("u%04d", i)
		users = append(users, testserver.SlapdUser{UID: uid, Home: src})
		uids = append(uids, uid)
	}
	for i := range unknown {
		uids = append(uids, fmt.Sprintf("ghost%d", i))
	}
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: users})
	d := directory.NewLDAP(ldapConfig(s))

	before, _, _ := slapdTraffic(s.Log())
	got, err := d.LookupMany(context.Background(), uids)
	if err != nil {
		t.Fatalf("LookupMany(%d uids) = %v", n, err)
	}
	after, searches, on := slapdTraffic(s.Log())
	if len(got) != n-unknown {
		t.Errorf("LookupMany(%d uids) found %d, want %d", n, len(got), n-unknown)
	}
	for i := range unknown {
		if u, ok := got[fmt.Sprintf("ghost%d", i)]; ok {
			t.Errorf("LookupMany() found ghost%d: %+v", i, u)
		}
	}
	if u := got["u1234"]; u.UID != "u1234" || u.Home != src || !strings.EqualFold(u.DN, s.UserDN("u1234")) {
		t.Errorf("LookupMany()[u1234] = %+v", u)
	}
	t.Logf("LookupMany(%d uids): %d connection(s), %d searches", n, after-before, searches)
	if after-before != 1 || len(on) != 1 {
		t.Errorf("LookupMany(%d uids) made %d connections (look-ups on %d), want 1", n, after-before, len(on))
	}
	if want := (n + 99) / 100; searches != want {
		t.Errorf("LookupMany(%d uids) sent %d searches, want %d (100 uids each)", n, searches, want)
	}
}

func keys(m map[string]directory.User) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDirectoryLookupManyByMail: an import lists people by mail address as
// often as by uid; a key with an '@' names the entry whose uid or mail it is.
func TestDirectoryLookupManyByMail(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := b.dir.(manyLooker)
			got, err := d.LookupMany(context.Background(), []string{
				"bob@example.org", "CAROL@other.org", "user001", "nobody@example.org", "*@example.org",
			})
			if err != nil {
				t.Fatalf("LookupMany() = %v", err)
			}
			want := map[string]string{"bob@example.org": "user002", "CAROL@other.org": "user003", "user001": "user001"}
			if len(got) != len(want) {
				t.Errorf("LookupMany() found %v, want %v", keys(got), want)
			}
			for req, uid := range want {
				if u := got[req]; u.UID != uid {
					t.Errorf("LookupMany()[%q] = %+v, want uid %q", req, u, uid)
				}
			}
		})
	}
}
