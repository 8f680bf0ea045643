package web

import "strconv"

// ServersView is the servers page: every registered server and whether it
// answers now.
type ServersView struct {
	Mode    string // "native" or "mixed"
	Servers []ServerStatusRow
}

// ServerStatusRow is one registered server. It deliberately has no password
// field, so that no template can show one.
type ServerStatusRow struct {
	Name, Address, TLS string
	Home, Group        string
	MaxParallel        int
	Login, AdminUser   string
	Reachable          bool
	Reach              string // "reachable (greeting: …)", "refused: …", "timeout …"
}

// Cap reads the per-server cap.
func (s ServerStatusRow) Cap() string {
	if s.MaxParallel <= 0 {
		return "no cap"
	}
	return strconv.Itoa(s.MaxParallel)
}
