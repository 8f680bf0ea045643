package web

import "strconv"

// ServersView is the servers page: every registered server, whether it
// answered the last probe round, and which connections are unencrypted.
type ServersView struct {
	Mode      string // "native" or "mixed"
	CheckedAt string // when the shown probe round started, formatted
	ProbeTTL  string // how long a round's results are reused, formatted ("30s")
	// Directory is the directory's URL ("" for the demo's in-memory one);
	// DirectoryCleartext says that its connections are unencrypted and why
	// that is allowed, or is "".
	Directory          string
	DirectoryCleartext string
	Servers            []ServerStatusRow
}

// ServerStatusRow is one registered server. It deliberately has no password
// field, so that no template can show one.
type ServerStatusRow struct {
	Name, Address, TLS string
	// Cleartext says that connections to the server are unencrypted and why
	// that is allowed ("IMAP without TLS (allowed by allow_plaintext)"), or
	// is "".
	Cleartext        string
	Home, Group      string
	MaxParallel      int
	Login, AdminUser string
	Reachable        bool
	Reach            string // "reachable (greeting: …)", "refused: …", "timeout …"
}

// Cap reads the per-server cap.
func (s ServerStatusRow) Cap() string {
	if s.MaxParallel <= 0 {
		return "no cap"
	}
	return strconv.Itoa(s.MaxParallel)
}

// TLSShown is the TLS column: the configured mode, "none" for a server
// built in code without one.
func (s ServerStatusRow) TLSShown() string {
	if s.TLS == "" {
		return "none"
	}
	return s.TLS
}
