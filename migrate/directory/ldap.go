package directory

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/movewizard/movewizard/migrate/config"
)

// Directory access. Invariants:
//   - SetHome never overwrites a home it did not expect: it sends one modify that deletes
//     the old value and adds the new one, so a concurrent change makes the modify fail
//     instead of being lost.
//   - SetHome sends no modify when the home already is the target, so a resumed move
//     updates the directory at most once.
//   - Home values (host names) compare case-insensitively, like mailHost's matching rule.

// ldapTimeout bounds each LDAP request and the dial, so that a directory that stops
// answering cannot hang a move even when the caller's context has no deadline.
const ldapTimeout = 30 * time.Second

// User is a person in the directory whose mailbox may move.
type User struct {
	DN   string
	UID  string
	Name string // cn
	Mail string
	Home string // the home attribute: names the server holding the mailbox
}

// Directory is what the mover needs from the directory.
type Directory interface {
	// Lookup returns the user with this uid; the error wraps ErrNotFound when there is
	// none.
	Lookup(ctx context.Context, uid string) (User, error)
	// SetHome changes the home of the entry dn from `from` to `to` atomically. When the
	// home already is `to` it changes nothing and returns nil; when it is neither, the
	// error wraps ErrConflict and names the current value.
	SetHome(ctx context.Context, dn, from, to string) error
}

// UserQuery selects users for the wizard. Empty fields match everybody.
type UserQuery struct {
	Text  string // substring of uid, cn or mail, case-insensitive
	Group string // cn of a groupOfNames the user's DN is a member of
	Home  string // exact home attribute value, case-insensitive
	Limit int    // at most this many users; 0 means no limit
}

var (
	_ Directory = (*LDAP)(nil)
	_ Directory = (*Mem)(nil)
)

// LDAP is a Directory backed by an LDAP server. Each operation uses its own connection:
// dial, bind as the configured DN, run, close.
type LDAP struct {
	cfg      config.Directory
	filter   string // the user filter, always parenthesised
	homeAttr string
	host     string         // the URL's host: the name StartTLS verifies
	rootCAs  *x509.CertPool // StartTLS trust; nil means the system roots (tests set it)
}

// NewLDAP returns an LDAP directory for cfg. It does not connect; see Check.
func NewLDAP(cfg config.Directory) *LDAP {
	d := &LDAP{cfg: cfg, filter: cfg.UserFilter, homeAttr: cfg.HomeAttr()}
	if u, err := url.Parse(cfg.URL); err == nil {
		d.host = u.Hostname()
	}
	if d.filter == "" {
		d.filter = config.DefaultUserFilter
	}
	if !strings.HasPrefix(d.filter, "(") {
		d.filter = "(" + d.filter + ")"
	}
	return d
}

// Check connects, binds with the configured DN and reads the base DN, and says which of
// these failed.
func (d *LDAP) Check(ctx context.Context) error {
	err := d.session(ctx, func(conn *ldap.Conn) error {
		_, err := conn.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeBaseObject,
			ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return fmt.Errorf("base DN %q does not exist: %w", d.cfg.BaseDN, err)
		}
		if err != nil {
			return fmt.Errorf("read base DN %q: %w", d.cfg.BaseDN, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check directory %s: %w", d.cfg.URL, err)
	}
	return nil
}

// Lookup finds the user by uid within the configured user filter.
func (d *LDAP) Lookup(ctx context.Context, uid string) (User, error) {
	var users []User
	err := d.session(ctx, func(conn *ldap.Conn) error {
		var err error
		users, err = d.searchUsers(conn, fmt.Sprintf("(&%s(uid=%s))", d.filter, ldap.EscapeFilter(uid)), 0)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("look up user %q: %w", uid, err)
	}
	switch len(users) {
	case 0:
		return User{}, fmt.Errorf("look up user %q: %w", uid, ErrNotFound)
	case 1:
		return users[0], nil
	default:
		return User{}, fmt.Errorf("look up user %q: %d entries match, want 1", uid, len(users))
	}
}

// SetHome implements Directory.
func (d *LDAP) SetHome(ctx context.Context, dn, from, to string) error {
	err := d.session(ctx, func(conn *ldap.Conn) error {
		current, err := d.homeOf(conn, dn)
		if err != nil {
			return err
		}
		old, done, err := planHomeChange(d.homeAttr, current, from, to)
		if done || err != nil {
			return err
		}
		req := ldap.NewModifyRequest(dn, nil)
		req.Delete(d.homeAttr, []string{old})
		req.Add(d.homeAttr, []string{to})
		err = conn.Modify(req)
		switch {
		case err == nil:
			return nil
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
			return fmt.Errorf("entry %q: %w", dn, ErrNotFound)
		case ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchAttribute, ldap.LDAPResultAttributeOrValueExists):
			// Changed since we read it: report what it is now. Should the re-read
			// fail, the conflict below still holds.
			if current, rerr := d.homeOf(conn, dn); rerr == nil {
				if _, done, perr := planHomeChange(d.homeAttr, current, from, to); done || perr != nil {
					return perr
				}
			}
			return fmt.Errorf("%s changed concurrently: %w: %w", d.homeAttr, ErrConflict, err)
		default:
			return fmt.Errorf("modify: %w", err)
		}
	})
	if err != nil {
		return fmt.Errorf("set %s of %q from %q to %q: %w", d.homeAttr, dn, from, to, err)
	}
	return nil
}

// Search returns the users matching q, sorted by uid. With a Limit and no Group the server
// stops after Limit entries, so which users a truncated answer holds is the server's
// choice.
func (d *LDAP) Search(ctx context.Context, q UserQuery) ([]User, error) {
	filter := d.filter
	if q.Text != "" {
		t := ldap.EscapeFilter(q.Text)
		filter += fmt.Sprintf("(|(uid=*%s*)(cn=*%s*)(mail=*%s*))", t, t, t)
	}
	if q.Home != "" {
		filter += fmt.Sprintf("(%s=%s)", d.homeAttr, ldap.EscapeFilter(q.Home))
	}
	filter = "(&" + filter + ")"

	var users []User
	err := d.session(ctx, func(conn *ldap.Conn) error {
		if q.Group == "" {
			var err error
			users, err = d.searchUsers(conn, filter, q.Limit)
			return err
		}
		members, err := d.groupMembers(conn, q.Group)
		if err != nil {
			return err
		}
		// Membership is filtered here rather than with memberOf, which needs an overlay
		// that many servers lack; the size limit therefore applies afterwards.
		all, err := d.searchUsers(conn, filter, 0)
		if err != nil {
			return err
		}
		for _, u := range all {
			if members[normDN(u.DN)] {
				users = append(users, u)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search users %+v: %w", q, err)
	}
	slices.SortFunc(users, func(a, b User) int { return cmp.Compare(a.UID, b.UID) })
	if q.Limit > 0 && len(users) > q.Limit {
		users = users[:q.Limit]
	}
	return users, nil
}

// session dials, upgrades the connection with StartTLS when configured, binds as the
// configured DN and runs fn. It is the only place connections are made, so sign-in
// binds (Authenticate) are encrypted as well. The connection closes when fn
// returns or when ctx is done, whichever is first: go-ldap requests take no context, and
// closing the connection is what aborts one.
func (d *LDAP) session(ctx context.Context, fn func(*ldap.Conn) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	dialer := &net.Dialer{Timeout: ldapTimeout}
	if deadline, ok := ctx.Deadline(); ok {
		dialer.Deadline = deadline
	}
	conn, err := ldap.DialURL(d.cfg.URL, ldap.DialWithDialer(dialer))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", d.cfg.URL, err)
	}
	conn.SetTimeout(ldapTimeout)
	stop := context.AfterFunc(ctx, func() {
		// The pending request fails with a network error, which is reported below
		// together with the context's error; closing has nothing to add.
		_ = conn.Close()
	})
	defer func() {
		if ctx.Err() != nil && err != nil {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		}
		if stop() {
			if cerr := conn.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close connection to %s: %w", d.cfg.URL, cerr)
			}
		}
	}()

	if d.cfg.StartTLS {
		// Before any bind, so that no password (the service's or that of a
		// person signing in) crosses the network in cleartext.
		if err := conn.StartTLS(&tls.Config{ServerName: d.host, RootCAs: d.rootCAs}); err != nil {
			return fmt.Errorf("starttls to %s: %w", d.cfg.URL, err)
		}
	}
	if d.cfg.BindDN != "" {
		err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return fmt.Errorf("bind as %q: invalid credentials: %w", d.cfg.BindDN, err)
		}
		if err != nil {
			return fmt.Errorf("bind as %q: %w", d.cfg.BindDN, err)
		}
	}
	return fn(conn)
}

// searchUsers runs filter under the base DN. With limit > 0 it asks the server for at
// most limit entries and accepts the truncated answer.
func (d *LDAP) searchUsers(conn *ldap.Conn, filter string, limit int) ([]User, error) {
	res, err := conn.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree,
		ldap.NeverDerefAliases, max(limit, 0), 0, false, filter,
		[]string{"uid", "cn", "mail", d.homeAttr}, nil))
	if err != nil && !(limit > 0 && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded)) {
		return nil, fmt.Errorf("search %s: %w", filter, err)
	}
	users := make([]User, 0, len(res.Entries))
	for _, e := range res.Entries {
		users = append(users, User{
			DN:   e.DN,
			UID:  e.GetEqualFoldAttributeValue("uid"),
			Name: e.GetEqualFoldAttributeValue("cn"),
			Mail: e.GetEqualFoldAttributeValue("mail"),
			Home: e.GetEqualFoldAttributeValue(d.homeAttr),
		})
	}
	return users, nil
}

// homeOf returns the home attribute values of the entry dn.
func (d *LDAP) homeOf(conn *ldap.Conn, dn string) ([]string, error) {
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{d.homeAttr}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, fmt.Errorf("entry %q: %w", dn, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.homeAttr, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("read %s: %d entries, want 1", d.homeAttr, len(res.Entries))
	}
	return res.Entries[0].GetEqualFoldAttributeValues(d.homeAttr), nil
}

// groupMembers returns the normalised member DNs of the groupOfNames with this cn.
func (d *LDAP) groupMembers(conn *ldap.Conn, cn string) (map[string]bool, error) {
	filter := fmt.Sprintf("(&(objectClass=groupOfNames)(cn=%s))", ldap.EscapeFilter(cn))
	res, err := conn.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree,
		ldap.NeverDerefAliases, 0, 0, false, filter, []string{"member"}, nil))
	if err != nil {
		return nil, fmt.Errorf("search group %q: %w", cn, err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, fmt.Errorf("group %q: %w", cn, ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("group %q: %d entries match, want 1", cn, len(res.Entries))
	}
	members := map[string]bool{}
	for _, m := range res.Entries[0].GetEqualFoldAttributeValues("member") {
		members[normDN(m)] = true
	}
	return members, nil
}

// normDN returns a form of dn in which equal DNs are equal strings, ignoring case and
// the spacing and escaping variants that RFC 4514 allows.
func normDN(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(parsed.String())
}

// planHomeChange decides SetHome from the current home values: done when the home
// already is `to`, otherwise the stored value equal to `from` that the modify must
// delete, or a conflict naming what the home is now.
func planHomeChange(attr string, current []string, from, to string) (old string, done bool, err error) {
	for _, c := range current {
		if strings.EqualFold(c, to) {
			return "", true, nil
		}
	}
	for _, c := range current {
		if strings.EqualFold(c, from) {
			return c, false, nil
		}
	}
	now := "empty"
	if len(current) > 0 {
		now = fmt.Sprintf("%q", strings.Join(current, ", "))
	}
	return "", false, fmt.Errorf("%s is %s, expected %q: %w", attr, now, from, ErrConflict)
}

// Mem is an in-memory Directory for the demo and for fast tests, with the
// semantics of LDAP. It is safe for concurrent use.
type Mem struct {
	mu      sync.Mutex
	users   []User
	groups  map[string][]string // lower-case cn -> member uids
	updates map[string]int      // normalised DN -> successful SetHome changes
}

// NewMem returns a directory holding users.
func NewMem(users ...User) *Mem {
	return &Mem{
		users:   slices.Clone(users),
		groups:  map[string][]string{},
		updates: map[string]int{},
	}
}

// SetGroup defines the group cn with these member uids, replacing any earlier members.
func (m *Mem) SetGroup(cn string, uids ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.groups[strings.ToLower(cn)] = slices.Clone(uids)
}

// Lookup implements Directory. Uids compare case-insensitively, as in LDAP.
func (m *Mem) Lookup(ctx context.Context, uid string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, fmt.Errorf("look up user %q: %w", uid, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var found []User
	for _, u := range m.users {
		if strings.EqualFold(u.UID, uid) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return User{}, fmt.Errorf("look up user %q: %w", uid, ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return User{}, fmt.Errorf("look up user %q: %d entries match, want 1", uid, len(found))
	}
}

// SetHome implements Directory.
func (m *Mem) SetHome(ctx context.Context, dn, from, to string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set home of %q: %w", dn, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := normDN(dn)
	i := slices.IndexFunc(m.users, func(u User) bool { return normDN(u.DN) == key })
	if i < 0 {
		return fmt.Errorf("set home of %q: entry: %w", dn, ErrNotFound)
	}
	var current []string
	if h := m.users[i].Home; h != "" {
		current = []string{h}
	}
	_, done, err := planHomeChange("home", current, from, to)
	if done || err != nil {
		if err != nil {
			return fmt.Errorf("set home of %q from %q to %q: %w", dn, from, to, err)
		}
		return nil
	}
	m.users[i].Home = to
	m.updates[key]++
	return nil
}

// Search returns the users matching q, sorted by uid, like LDAP.Search.
func (m *Mem) Search(ctx context.Context, q UserQuery) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("search users %+v: %w", q, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var members []string
	if q.Group != "" {
		var ok bool
		if members, ok = m.groups[strings.ToLower(q.Group)]; !ok {
			return nil, fmt.Errorf("search users %+v: group %q: %w", q, q.Group, ErrNotFound)
		}
	}
	text := strings.ToLower(q.Text)
	var users []User
	for _, u := range m.users {
		switch {
		case text != "" && !strings.Contains(strings.ToLower(u.UID), text) &&
			!strings.Contains(strings.ToLower(u.Name), text) &&
			!strings.Contains(strings.ToLower(u.Mail), text):
		case q.Home != "" && !strings.EqualFold(u.Home, q.Home):
		case q.Group != "" && !slices.ContainsFunc(members, func(uid string) bool { return strings.EqualFold(uid, u.UID) }):
		default:
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b User) int { return cmp.Compare(a.UID, b.UID) })
	if q.Limit > 0 && len(users) > q.Limit {
		users = users[:q.Limit]
	}
	return users, nil
}

// Updates returns how many SetHome calls changed the home of dn.
func (m *Mem) Updates(dn string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.updates[normDN(dn)]
}
