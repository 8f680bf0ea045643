package directory

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// lookupBatch is how many uids one search of LookupMany asks for: an OR filter of this
// many terms stays small, and the answer stays under slapd's default size limit (500).
const lookupBatch = 100

// LookupMany finds the users with these uids within the configured user filter, over one
// connection, lookupBatch uids per search. A requested key with an '@' may also be a mail
// address: it names the entry whose uid or mail it is (imports list people by either). The
// map holds every requested key (as given) that names exactly one entry; keys compare
// case-insensitively, as in LDAP, and an entry answers each of its uid and mail values. A
// key naming no entry is absent from the map; one naming several entries is an error, as it
// is for Lookup.
func (d *LDAP) LookupMany(ctx context.Context, uids []string) (map[string]User, error) {
	want := uniqueFold(uids)
	found := make(map[string]User, len(uids))
	if len(want) == 0 {
		return found, nil
	}
	err := d.session(ctx, func(conn *ldap.Conn) error {
		for start := 0; start < len(want); start += lookupBatch {
			if err := ctx.Err(); err != nil {
				return err
			}
			batch := want[start:min(start+lookupBatch, len(want))]
			matches, err := d.lookupBatch(conn, batch)
			if err != nil {
				return err
			}
			for _, key := range batch {
				switch m := matches[strings.ToLower(key)]; len(m) {
				case 0:
				case 1:
					found[strings.ToLower(key)] = m[0]
				default:
					return fmt.Errorf("user %q: %d entries match, want 1", key, len(m))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up %d users: %w", len(want), err)
	}
	return byRequested(uids, found), nil
}

// lookupBatch runs one search for the uids of batch and returns the entries by lower-case
// requested uid. The size limit allows one entry per uid plus one, so that an ambiguous
// uid is still seen as such; more than that is an error rather than a silently cut answer.
func (d *LDAP) lookupBatch(conn *ldap.Conn, batch []string) (map[string][]User, error) {
	var or strings.Builder
	for _, key := range batch {
		or.WriteString("(uid=" + ldap.EscapeFilter(key) + ")")
		if strings.Contains(key, "@") {
			or.WriteString("(mail=" + ldap.EscapeFilter(key) + ")")
		}
	}
	filter := "(&" + d.filter + "(|" + or.String() + "))"
	limit := len(batch) + 1
	res, err := conn.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree,
		ldap.NeverDerefAliases, limit, 0, false, filter,
		[]string{"uid", "cn", "mail", d.homeAttr}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, fmt.Errorf("search %d uids: more than %d entries match: %w", len(batch), limit, err)
	}
	if err != nil {
		return nil, fmt.Errorf("search %d uids: %w", len(batch), err)
	}
	requested := make(map[string]bool, len(batch))
	for _, uid := range batch {
		requested[strings.ToLower(uid)] = true
	}
	matches := map[string][]User{}
	for _, e := range res.Entries {
		u := User{
			DN:   e.DN,
			UID:  e.GetEqualFoldAttributeValue("uid"),
			Name: e.GetEqualFoldAttributeValue("cn"),
			Mail: e.GetEqualFoldAttributeValue("mail"),
			Home: e.GetEqualFoldAttributeValue(d.homeAttr),
		}
		// An entry may hold several uids and mails; it answers each requested one, once.
		seen := map[string]bool{}
		for _, v := range append(e.GetEqualFoldAttributeValues("uid"), e.GetEqualFoldAttributeValues("mail")...) {
			key := strings.ToLower(v)
			if requested[key] && !seen[key] {
				seen[key] = true
				matches[key] = append(matches[key], u)
			}
		}
	}
	return matches, nil
}

// LookupMany is LDAP.LookupMany for the in-memory directory.
func (m *Mem) LookupMany(ctx context.Context, uids []string) (map[string]User, error) {
	want := uniqueFold(uids)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("look up %d users: %w", len(want), err)
	}
	requested := make(map[string]bool, len(want))
	for _, uid := range want {
		requested[strings.ToLower(uid)] = true
	}
	m.mu.Lock()
	matches := map[string][]User{}
	for _, u := range m.users {
		if key := strings.ToLower(u.UID); requested[key] {
			matches[key] = append(matches[key], u)
		}
		if key := strings.ToLower(u.Mail); key != "" && key != strings.ToLower(u.UID) && requested[key] {
			matches[key] = append(matches[key], u)
		}
	}
	m.mu.Unlock()
	found := make(map[string]User, len(want))
	for _, uid := range want {
		key := strings.ToLower(uid)
		switch ms := matches[key]; len(ms) {
		case 0:
		case 1:
			found[key] = ms[0]
		default:
			return nil, fmt.Errorf("look up %d users: user %q: %d entries match, want 1", len(want), uid, len(ms))
		}
	}
	return byRequested(uids, found), nil
}

// uniqueFold returns uids without repeats, ignoring case, keeping the first spelling and
// the order. An empty uid names nobody and is left out.
func uniqueFold(uids []string) []string {
	seen := make(map[string]bool, len(uids))
	var out []string
	for _, uid := range uids {
		key := strings.ToLower(uid)
		if uid != "" && !seen[key] {
			seen[key] = true
			out = append(out, uid)
		}
	}
	return out
}

// byRequested keys the users found (by lower-case uid) by each requested spelling.
func byRequested(uids []string, found map[string]User) map[string]User {
	out := make(map[string]User, len(found))
	for _, uid := range uids {
		if u, ok := found[strings.ToLower(uid)]; ok {
			out[uid] = u
		}
	}
	return out
}
