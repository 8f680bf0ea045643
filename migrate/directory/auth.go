package directory

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
	"github.com/movewizard/movewizard/migrate/model"
)

// ErrBadCredentials: unknown login or wrong password (never said which).
var ErrBadCredentials = errors.New("wrong user name or password")

// ErrNoRole: the credentials are right but the person is in neither the
// admin nor the helpdesk group.
var ErrNoRole = errors.New("not a member of the admin or helpdesk group")

// Identity is a signed-in person.
type Identity struct {
	DN, UID, Name string
	Role          model.Role
}

// Authenticate binds as the person (found by uid under the base DN) with
// their own password and derives the role from groupOfNames membership of
// the configured admin and helpdesk groups.
func (d *LDAP) Authenticate(ctx context.Context, login, password string) (Identity, error) {
	// An empty password would be an unauthenticated bind (RFC 4513 §5.1.2),
	// which many servers accept as anonymous: never a sign-in.
	if login == "" || password == "" {
		return Identity{}, ErrBadCredentials
	}
	var id Identity
	err := d.session(ctx, func(conn *ldap.Conn) error {
		res, err := conn.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree,
			ldap.NeverDerefAliases, 2, 0, false, "(uid="+ldap.EscapeFilter(login)+")",
			[]string{"uid", "cn"}, nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return fmt.Errorf("find %q: %w", login, err)
		}
		if res == nil || len(res.Entries) != 1 {
			return ErrBadCredentials
		}
		e := res.Entries[0]
		id = Identity{DN: e.DN, UID: e.GetAttributeValue("uid"), Name: e.GetAttributeValue("cn")}
		if err := conn.Bind(e.DN, password); err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				return ErrBadCredentials
			}
			return fmt.Errorf("bind as %q: %w", e.DN, err)
		}
		// Group checks as the service account: the person may not read groups.
		if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
			return fmt.Errorf("bind as %q: %w", d.cfg.BindDN, err)
		}
		role, err := d.roleOf(conn, e.DN)
		id.Role = role
		return err
	})
	if err != nil {
		return Identity{}, err
	}
	return id, nil
}

// Role re-reads the role of the person at dn with the same group checks as
// Authenticate, as the service account. The error wraps ErrNoRole when the
// person is in neither group or no longer exists; any other error means the
// directory could not answer (the caller keeps what it knew and asks again).
func (d *LDAP) Role(ctx context.Context, dn string) (model.Role, error) {
	if dn == "" {
		return "", fmt.Errorf("no DN: %w", ErrNoRole)
	}
	var role model.Role
	err := d.session(ctx, func(conn *ldap.Conn) error {
		res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || (err == nil && len(res.Entries) == 0) {
			return fmt.Errorf("%q no longer exists: %w", dn, ErrNoRole)
		}
		if err != nil {
			return fmt.Errorf("read %q: %w", dn, err)
		}
		role, err = d.roleOf(conn, dn)
		return err
	})
	if err != nil {
		return "", err
	}
	return role, nil
}

// roleOf is the one place a role is derived from group membership: admin if
// a member of the admin group, else helpdesk if a member of the helpdesk
// group, else ErrNoRole. conn is bound as the service account.
func (d *LDAP) roleOf(conn *ldap.Conn, dn string) (model.Role, error) {
	for _, g := range []struct {
		dn   string
		role model.Role
	}{{d.cfg.AdminGroup, model.RoleAdmin}, {d.cfg.HelpdeskGroup, model.RoleHelpdesk}} {
		if g.dn == "" {
			continue
		}
		ok, err := isMember(conn, g.dn, dn)
		if err != nil {
			return "", err
		}
		if ok {
			return g.role, nil
		}
	}
	return "", ErrNoRole
}

// isMember reports whether memberDN is a member of the groupOfNames at groupDN.
func isMember(conn *ldap.Conn, groupDN, memberDN string) (bool, error) {
	res, err := conn.Search(ldap.NewSearchRequest(groupDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(member="+ldap.EscapeFilter(memberDN)+")", []string{"cn"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false, fmt.Errorf("group %q does not exist", groupDN)
	}
	if err != nil {
		return false, fmt.Errorf("read group %q: %w", groupDN, err)
	}
	return len(res.Entries) > 0, nil
}

// MemAuth is an in-memory Authenticator for the demo: people with a
// password and a role.
type MemAuth struct {
	mu     sync.Mutex
	people map[string]memPerson
}

type memPerson struct {
	id       Identity
	password string
}

// NewMemAuth returns an empty MemAuth.
func NewMemAuth() *MemAuth { return &MemAuth{people: map[string]memPerson{}} }

// Add registers a person; role "" means neither admin nor helpdesk.
func (m *MemAuth) Add(uid, name, password string, role model.Role) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.people[strings.ToLower(uid)] = memPerson{
		id:       Identity{DN: "uid=" + uid + ",ou=people,dc=demo,dc=example", UID: uid, Name: name, Role: role},
		password: password,
	}
}

// SetRole changes a person's role ("": neither group, as if removed from
// it); unknown uids are ignored.
func (m *MemAuth) SetRole(uid string, role model.Role) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.people[strings.ToLower(uid)]; ok {
		p.id.Role = role
		m.people[strings.ToLower(uid)] = p
	}
}

// Remove deletes a person, as if their entry were deleted.
func (m *MemAuth) Remove(uid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.people, strings.ToLower(uid))
}

// Role returns the current role of the person at dn, like LDAP.Role.
func (m *MemAuth) Role(ctx context.Context, dn string) (model.Role, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.people {
		if strings.EqualFold(p.id.DN, dn) {
			if p.id.Role == "" {
				return "", ErrNoRole
			}
			return p.id.Role, nil
		}
	}
	return "", fmt.Errorf("%q no longer exists: %w", dn, ErrNoRole)
}

// Authenticate checks the password in constant time.
func (m *MemAuth) Authenticate(ctx context.Context, login, password string) (Identity, error) {
	if err := ctx.Err(); err != nil {
		return Identity{}, err
	}
	m.mu.Lock()
	p, ok := m.people[strings.ToLower(login)]
	m.mu.Unlock()
	if !ok || password == "" || subtle.ConstantTimeCompare([]byte(p.password), []byte(password)) != 1 {
		return Identity{}, ErrBadCredentials
	}
	if p.id.Role == "" {
		return Identity{}, ErrNoRole
	}
	return p.id, nil
}
