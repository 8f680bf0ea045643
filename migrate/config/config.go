package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Modes, as in Exchange 2003: in mixed mode a mailbox may only move between
// servers of the same administrative group.
const (
	ModeNative string = "native"
	ModeMixed  string = "mixed"
)

// How the mover logs in to a server as the user, with the admin credential.
const (
	LoginSASLPlain  string = "sasl-plain"  // SASL PLAIN, authzid = user, authcid = admin (RFC 4616)
	LoginMasterUser string = "master-user" // Dovecot master user: LOGIN "user*admin" password
)

// Transport security of an IMAP server connection. The file must name one:
// cleartext (TLSNone) is an explicit choice, and for a server that is not on
// a loopback address it also needs allow_plaintext = true. A Config built in
// code may leave TLS empty, which dials like TLSNone.
const (
	TLSNone     string = "none"
	TLSStartTLS string = "starttls"
	TLSImplicit string = "tls"
)

// Defaults for keys the file may leave out.
const (
	DefaultDatabase      = "movewizard.db"
	DefaultMaxParallel   = 30
	DefaultListen        = "127.0.0.1:8080"
	DefaultUserFilter    = "(objectClass=inetOrgPerson)"
	DefaultHomeAttribute = "mailHost"
	maxMaxParallel       = 1000
)

// redacted replaces a secret in every printed or logged form of the config.
const redacted = "REDACTED"

// Config is the whole configuration, parsed and validated once at start-up
// and passed down explicitly. Secrets are already resolved from their
// file or environment variable.
type Config struct {
	Database    string // SQLite file, absolute or relative to the working directory
	Mode        string // ModeNative or ModeMixed
	MaxParallel int    // global cap on moves running at once
	Listen      string // HTTP listen address
	TLSCert     string // HTTPS certificate file; empty for plain HTTP
	TLSKey      string
	// RetryPatience is how long a move keeps retrying lost connections and
	// throttling without progress before it fails (retry_patience).
	RetryPatience time.Duration
	// ResyncInterval is how often a staged move, synced and waiting to
	// complete, syncs again (resync_interval).
	ResyncInterval time.Duration
	Directory      Directory
	Servers        []Server
	Notify         Notify // [notify]; the zero value notifies nobody
}

// Directory says where the LDAP directory is and how users are found.
type Directory struct {
	URL string // ldap:// or ldaps://
	// StartTLS upgrades ldap:// connections with the StartTLS extended
	// operation (RFC 4511 section 4.14) before any bind, verified against the
	// system roots.
	StartTLS bool
	// AllowPlaintext permits an ldap:// URL without StartTLS to a host that is
	// not a loopback address: binds then cross the network in cleartext.
	AllowPlaintext bool
	BindDN         string
	BindPassword   string // resolved from bind_password, bind_password_file or bind_password_env
	BaseDN         string
	UserFilter     string
	HomeAttribute  string // names the user's server by its Home value
	AdminGroup     string // DN of a groupOfNames whose members are admins; may be empty
	HelpdeskGroup  string // DN of a groupOfNames whose members are helpdesk; may be empty
	// PropagationDelay is how long a changed home takes to reach every
	// reader of the directory (proxies and MTAs cache look-ups): after the
	// cut-over the final delta pass waits this long, so that it sees what
	// was still delivered to the source (propagation_delay).
	PropagationDelay time.Duration
}

// Server is one registered IMAP server.
type Server struct {
	Name          string
	Address       string // host:port
	TLS           string // TLSNone, TLSStartTLS or TLSImplicit
	TLSSkipVerify bool
	// AllowPlaintext permits TLS = TLSNone for an address that is not a
	// loopback address: the admin password then crosses the network in
	// cleartext.
	AllowPlaintext bool
	Home           string // the home attribute value meaning "lives on this server"
	Group          string // administrative group; must match for moves in mixed mode
	Login          string // LoginSASLPlain or LoginMasterUser
	AdminUser      string
	AdminPassword  string // resolved from admin_password, admin_password_file or admin_password_env
	MaxParallel    int    // cap of moves touching this server; 0 = no per-server cap
	// Kick ends a user's open IMAP/POP sessions on this server right after
	// the directory names the target, so that clients reconnect there (see
	// migrate.KickSessions). The zero value kicks nobody.
	Kick Kick
}

// Kick is how a server's sessions of one user are ended: a command
// (kick_command, argv without a shell, KickUserArg replaced by the uid) or
// Dovecot's doveadm HTTP API (kick_url with kick_api_key). At most one is
// set.
type Kick struct {
	Command []string
	URL     string // the doveadm HTTP API endpoint, e.g. http://127.0.0.1:8080/doveadm/v1
	APIKey  string // resolved from kick_api_key, kick_api_key_file or kick_api_key_env
}

// KickUserArg is replaced by the uid in every argument of kick_command.
const KickUserArg = "{user}"

// Configured reports whether the server has a kick action.
func (k Kick) Configured() bool { return len(k.Command) > 0 || k.URL != "" }

// The file's shape. It differs from Config only in the secret sources, which
// are resolved into one field, so that nothing downstream sees a file name
// where it expects a password.
type fileConfig struct {
	Database    string        `toml:"database"`
	Mode        string        `toml:"mode"`
	MaxParallel int           `toml:"max_parallel"`
	Listen      string        `toml:"listen"`
	TLSCert     string        `toml:"tls_cert"`
	TLSKey      string        `toml:"tls_key"`
	Patience    string        `toml:"retry_patience"`
	Resync      string        `toml:"resync_interval"`
	Directory   fileDirectory `toml:"directory"`
	Servers     []fileServer  `toml:"servers"`
	Notify      fileNotify    `toml:"notify"`
}

type fileDirectory struct {
	URL              string `toml:"url"`
	StartTLS         bool   `toml:"starttls"`
	AllowPlaintext   bool   `toml:"allow_plaintext"`
	BindDN           string `toml:"bind_dn"`
	BindPassword     string `toml:"bind_password"`
	BindPasswordFile string `toml:"bind_password_file"`
	BindPasswordEnv  string `toml:"bind_password_env"`
	BaseDN           string `toml:"base_dn"`
	UserFilter       string `toml:"user_filter"`
	HomeAttribute    string `toml:"home_attribute"`
	AdminGroup       string `toml:"admin_group"`
	HelpdeskGroup    string `toml:"helpdesk_group"`
	Propagation      string `toml:"propagation_delay"`
}

type fileServer struct {
	Name              string   `toml:"name"`
	Address           string   `toml:"address"`
	TLS               string   `toml:"tls"`
	TLSSkipVerify     bool     `toml:"tls_skip_verify"`
	AllowPlaintext    bool     `toml:"allow_plaintext"`
	Home              string   `toml:"home"`
	Group             string   `toml:"group"`
	Login             string   `toml:"login"`
	AdminUser         string   `toml:"admin_user"`
	AdminPassword     string   `toml:"admin_password"`
	AdminPasswordFile string   `toml:"admin_password_file"`
	AdminPasswordEnv  string   `toml:"admin_password_env"`
	MaxParallel       int      `toml:"max_parallel"`
	KickCommand       []string `toml:"kick_command"`
	KickURL           string   `toml:"kick_url"`
	KickAPIKey        string   `toml:"kick_api_key"`
	KickAPIKeyFile    string   `toml:"kick_api_key_file"`
	KickAPIKeyEnv     string   `toml:"kick_api_key_env"`
}

// Load reads, parses and validates the config file at path. Relative
// paths in it are relative to the file's directory; secrets may come from
// the process environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	cfg, err := Parse(data, dir, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse parses and validates config file contents. dir is the base of
// relative paths (database, tls_cert, tls_key, *_file secrets); getenv
// resolves *_env secrets and is os.Getenv when nil. All problems are
// reported at once, joined, each naming its key.
func Parse(data []byte, dir string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	// Top-level and [directory] defaults are filled before decoding, so an
	// explicit bad value (max_parallel = 0) is an error rather than a default.
	fc := fileConfig{
		Database:    DefaultDatabase,
		Mode:        ModeNative,
		MaxParallel: DefaultMaxParallel,
		Listen:      DefaultListen,
		Patience:    "15m",
		Resync:      "1h",
		Directory: fileDirectory{
			Propagation:   "0s",
			UserFilter:    DefaultUserFilter,
			HomeAttribute: DefaultHomeAttribute,
		},
	}
	md, err := toml.Decode(string(data), &fc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("parse config: %w (column %d)", err, pe.Position.Col)
		}
		return nil, fmt.Errorf("parse config: %w", err)
	}

	p := &problems{skip: map[string]bool{}}
	for _, key := range unknownKeys(md) {
		p.addf(key, "unknown key")
	}
	patience, err := time.ParseDuration(fc.Patience)
	if err != nil || patience < time.Second || patience > 7*24*time.Hour {
		p.addf("retry_patience", "%q is not a duration between 1s and 168h (like \"15m\")", fc.Patience)
	}
	resync, err := time.ParseDuration(fc.Resync)
	if err != nil || resync < time.Minute || resync > 7*24*time.Hour {
		p.addf("resync_interval", "%q is not a duration between 1m and 168h (like \"1h\")", fc.Resync)
	}
	propagation, err := time.ParseDuration(fc.Directory.Propagation)
	if err != nil || propagation < 0 || propagation > time.Hour {
		p.addf("directory.propagation_delay", "%q is not a duration between 0s and 1h (like \"30s\")", fc.Directory.Propagation)
	}

	c := &Config{
		Database:       relativeTo(dir, fc.Database),
		Mode:           fc.Mode,
		MaxParallel:    fc.MaxParallel,
		Listen:         fc.Listen,
		TLSCert:        relativeTo(dir, fc.TLSCert),
		TLSKey:         relativeTo(dir, fc.TLSKey),
		RetryPatience:  patience,
		ResyncInterval: resync,
		Directory: Directory{
			PropagationDelay: propagation,
			URL:              fc.Directory.URL,
			StartTLS:         fc.Directory.StartTLS,
			AllowPlaintext:   fc.Directory.AllowPlaintext,
			BindDN:           fc.Directory.BindDN,
			BaseDN:           fc.Directory.BaseDN,
			UserFilter:       fc.Directory.UserFilter,
			HomeAttribute:    fc.Directory.HomeAttribute,
			AdminGroup:       fc.Directory.AdminGroup,
			HelpdeskGroup:    fc.Directory.HelpdeskGroup,
		},
	}
	fd := fc.Directory
	c.Directory.BindPassword = p.secret("directory.bind_password",
		secretSource{fd.BindPassword, fd.BindPasswordFile, fd.BindPasswordEnv}, dir, getenv)

	for i, fs := range fc.Servers {
		// Array-of-tables entries are built fresh by the decoder, so their
		// defaults are applied here: an empty value means "not given".
		s := Server{
			Name:           fs.Name,
			Address:        fs.Address,
			TLS:            fs.TLS, // no default: cleartext must be written
			TLSSkipVerify:  fs.TLSSkipVerify,
			AllowPlaintext: fs.AllowPlaintext,
			Home:           fs.Home,
			Group:          fs.Group,
			Login:          orDefault(fs.Login, LoginSASLPlain),
			AdminUser:      fs.AdminUser,
			MaxParallel:    fs.MaxParallel,
			Kick:           Kick{Command: fs.KickCommand, URL: fs.KickURL},
		}
		s.AdminPassword = p.secret(fmt.Sprintf("servers[%d].admin_password", i),
			secretSource{fs.AdminPassword, fs.AdminPasswordFile, fs.AdminPasswordEnv}, dir, getenv)
		s.Kick.APIKey = p.secret(fmt.Sprintf("servers[%d].kick_api_key", i),
			secretSource{fs.KickAPIKey, fs.KickAPIKeyFile, fs.KickAPIKeyEnv}, dir, getenv)
		c.Servers = append(c.Servers, s)
	}

	c.Notify = p.parseNotify(fc.Notify, dir, getenv)

	c.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate reports every problem of c, joined, each starting with the key
// it is about, e.g. `servers[1].address: ...`.
func (c *Config) Validate() error {
	p := &problems{}
	c.validate(p)
	return p.err()
}

// Server returns the server registered under name.
func (c *Config) Server(name string) (Server, bool) {
	for _, s := range c.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return Server{}, false
}

// ServerByHome returns the server whose Home is home, ignoring case, because
// directory values are host names that admins do not always type alike.
func (c *Config) ServerByHome(home string) (Server, bool) {
	for _, s := range c.Servers {
		if strings.EqualFold(s.Home, home) {
			return s, true
		}
	}
	return Server{}, false
}

// relativeTo makes a relative path relative to dir. ":memory:" is SQLite's
// in-memory database, not a file name.
func relativeTo(dir, path string) string {
	if path == "" || path == ":memory:" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// unknownKeys names every key of the file that no field took, top-most only,
// with the [[servers]] index so a typo in the third server reads
// servers[2].adress.
func unknownKeys(md toml.MetaData) []string {
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	if len(undecoded) == 0 {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	server, hook := -1, -1
	for _, k := range md.Keys() {
		if len(k) == 1 && k[0] == "servers" {
			// Keys lists "servers" once per [[servers]] table, in file order.
			if md.Type(k...) == "ArrayHash" {
				server++
			}
			continue
		}
		if len(k) == 2 && k[0] == "notify" && k[1] == "webhooks" {
			if md.Type(k...) == "ArrayHash" {
				hook++
			}
			continue
		}
		if !undecoded[k.String()] || (len(k) > 1 && undecoded[k[:len(k)-1].String()]) {
			continue
		}
		name := k.String()
		if k[0] == "servers" && server >= 0 {
			name = fmt.Sprintf("servers[%d].%s", server, k[1:].String())
		}
		if len(k) > 2 && k[0] == "notify" && k[1] == "webhooks" && hook >= 0 {
			name = fmt.Sprintf("notify.webhooks[%d].%s", hook, k[2:].String())
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}
