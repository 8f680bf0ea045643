package directory

import "slices"

// AddUser adds u to the directory, replacing an entry with the same DN, so
// that the demo and tests can add people after start-up.
func (m *Mem) AddUser(u User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := normDN(u.DN)
	if i := slices.IndexFunc(m.users, func(v User) bool { return normDN(v.DN) == key }); i >= 0 {
		m.users[i] = u
		return
	}
	m.users = append(m.users, u)
}
