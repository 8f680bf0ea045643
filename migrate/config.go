package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/go-ldap/ldap/v3"
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

// Transport security of an IMAP server connection.
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
	Directory     DirectoryConfig
	Servers       []ServerConfig
}

// DirectoryConfig says where the LDAP directory is and how users are found.
type DirectoryConfig struct {
	URL           string // ldap:// or ldaps://
	BindDN        string
	BindPassword  string // resolved from bind_password, bind_password_file or bind_password_env
	BaseDN        string
	UserFilter    string
	HomeAttribute string // names the user's server by its Home value
	AdminGroup    string // DN of a groupOfNames whose members are admins; may be empty
	HelpdeskGroup string // DN of a groupOfNames whose members are helpdesk; may be empty
}

// ServerConfig is one registered IMAP server.
type ServerConfig struct {
	Name          string
	Address       string // host:port
	TLS           string // TLSNone, TLSStartTLS or TLSImplicit
	TLSSkipVerify bool
	Home          string // the home attribute value meaning "lives on this server"
	Group         string // administrative group; must match for moves in mixed mode
	Login         string // LoginSASLPlain or LoginMasterUser
	AdminUser     string
	AdminPassword string // resolved from admin_password, admin_password_file or admin_password_env
	MaxParallel   int    // cap of moves touching this server; 0 = no per-server cap
}

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
	Directory   fileDirectory `toml:"directory"`
	Servers     []fileServer  `toml:"servers"`
}

type fileDirectory struct {
	URL              string `toml:"url"`
	BindDN           string `toml:"bind_dn"`
	BindPassword     string `toml:"bind_password"`
	BindPasswordFile string `toml:"bind_password_file"`
	BindPasswordEnv  string `toml:"bind_password_env"`
	BaseDN           string `toml:"base_dn"`
	UserFilter       string `toml:"user_filter"`
	HomeAttribute    string `toml:"home_attribute"`
	AdminGroup       string `toml:"admin_group"`
	HelpdeskGroup    string `toml:"helpdesk_group"`
}

type fileServer struct {
	Name              string `toml:"name"`
	Address           string `toml:"address"`
	TLS               string `toml:"tls"`
	TLSSkipVerify     bool   `toml:"tls_skip_verify"`
	Home              string `toml:"home"`
	Group             string `toml:"group"`
	Login             string `toml:"login"`
	AdminUser         string `toml:"admin_user"`
	AdminPassword     string `toml:"admin_password"`
	AdminPasswordFile string `toml:"admin_password_file"`
	AdminPasswordEnv  string `toml:"admin_password_env"`
	MaxParallel       int    `toml:"max_parallel"`
}

// LoadConfig reads, parses and validates the config file at path. Relative
// paths in it are relative to the file's directory; secrets may come from
// the process environment.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	cfg, err := ParseConfig(data, dir, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses and validates config file contents. dir is the base of
// relative paths (database, tls_cert, tls_key, *_file secrets); getenv
// resolves *_env secrets and is os.Getenv when nil. All problems are
// reported at once, joined, each naming its key.
func ParseConfig(data []byte, dir string, getenv func(string) string) (*Config, error) {
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
		Directory: fileDirectory{
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

	c := &Config{
		Database:      relativeTo(dir, fc.Database),
		Mode:          fc.Mode,
		MaxParallel:   fc.MaxParallel,
		Listen:        fc.Listen,
		TLSCert:       relativeTo(dir, fc.TLSCert),
		TLSKey:        relativeTo(dir, fc.TLSKey),
		RetryPatience: patience,
		Directory: DirectoryConfig{
			URL:           fc.Directory.URL,
			BindDN:        fc.Directory.BindDN,
			BaseDN:        fc.Directory.BaseDN,
			UserFilter:    fc.Directory.UserFilter,
			HomeAttribute: fc.Directory.HomeAttribute,
			AdminGroup:    fc.Directory.AdminGroup,
			HelpdeskGroup: fc.Directory.HelpdeskGroup,
		},
	}
	fd := fc.Directory
	c.Directory.BindPassword = p.secret("directory.bind_password",
		secretSource{fd.BindPassword, fd.BindPasswordFile, fd.BindPasswordEnv}, dir, getenv)

	for i, fs := range fc.Servers {
		// Array-of-tables entries are built fresh by the decoder, so their
		// defaults are applied here: an empty value means "not given".
		s := ServerConfig{
			Name:          fs.Name,
			Address:       fs.Address,
			TLS:           orDefault(fs.TLS, TLSNone),
			TLSSkipVerify: fs.TLSSkipVerify,
			Home:          fs.Home,
			Group:         fs.Group,
			Login:         orDefault(fs.Login, LoginSASLPlain),
			AdminUser:     fs.AdminUser,
			MaxParallel:   fs.MaxParallel,
		}
		s.AdminPassword = p.secret(fmt.Sprintf("servers[%d].admin_password", i),
			secretSource{fs.AdminPassword, fs.AdminPasswordFile, fs.AdminPasswordEnv}, dir, getenv)
		c.Servers = append(c.Servers, s)
	}

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
func (c *Config) Server(name string) (ServerConfig, bool) {
	for _, s := range c.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return ServerConfig{}, false
}

// ServerByHome returns the server whose Home is home, ignoring case, because
// directory values are host names that admins do not always type alike.
func (c *Config) ServerByHome(home string) (ServerConfig, bool) {
	for _, s := range c.Servers {
		if strings.EqualFold(s.Home, home) {
			return s, true
		}
	}
	return ServerConfig{}, false
}

// Eligible says whether a move from src to dst is allowed and, if not, why,
// in a sentence fit for the wizard's greyed-out target list.
func (c *Config) Eligible(src, dst ServerConfig) (ok bool, reason string) {
	if _, ok := c.Server(src.Name); !ok {
		return false, fmt.Sprintf("source server %q is not registered", src.Name)
	}
	if _, ok := c.Server(dst.Name); !ok {
		return false, fmt.Sprintf("target server %q is not registered", dst.Name)
	}
	if src.Name == dst.Name {
		return false, "source and target are the same server"
	}
	if c.Mode == ModeMixed && src.Group != dst.Group {
		return false, fmt.Sprintf("mixed mode: target group %q differs from source group %q", dst.Group, src.Group)
	}
	return true, ""
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
	server := -1
	for _, k := range md.Keys() {
		if len(k) == 1 && k[0] == "servers" {
			// Keys lists "servers" once per [[servers]] table, in file order.
			if md.Type(k...) == "ArrayHash" {
				server++
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
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// secretSource is where a secret may come from; at most one is set.
type secretSource struct{ value, file, env string }

// secret resolves the secret named key (directory.bind_password) from its
// inline value, key_file (read now, trailing newline trimmed) or key_env. A
// failure is recorded and key is marked so that validation does not report
// it a second time as missing.
func (p *problems) secret(key string, src secretSource, dir string, getenv func(string) string) string {
	set := 0
	for _, v := range []string{src.value, src.file, src.env} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		p.addf(key, "set only one of %s, %s_file and %s_env", lastPart(key), lastPart(key), lastPart(key))
		p.skip[key] = true
		return ""
	}
	switch {
	case src.file != "":
		path := relativeTo(dir, src.file)
		data, err := os.ReadFile(path)
		if err != nil {
			p.addf(key+"_file", "%w", err)
			p.skip[key] = true
			return ""
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			p.addf(key+"_file", "%q is empty", path)
			p.skip[key] = true
		}
		return v
	case src.env != "":
		v := getenv(src.env)
		if v == "" {
			p.addf(key+"_env", "environment variable %q is unset or empty", src.env)
			p.skip[key] = true
		}
		return v
	}
	return src.value
}

func lastPart(key string) string {
	return key[strings.LastIndexByte(key, '.')+1:]
}

// problems collects validation errors so that an admin sees all of them in
// one run rather than one per restart.
type problems struct {
	errs []error
	skip map[string]bool // keys already reported, e.g. a secret whose file is unreadable
}

func (p *problems) addf(key, format string, args ...any) {
	if p.skip[key] {
		return
	}
	p.errs = append(p.errs, fmt.Errorf("%s: %w", key, fmt.Errorf(format, args...)))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

var (
	serverNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// RFC 4512 section 1.4: descr (keystring) or numericoid.
	attributeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`)
)

func (c *Config) validate(p *problems) {
	if c.Database == "" {
		p.addf("database", "required")
	}
	if c.Mode != ModeNative && c.Mode != ModeMixed {
		p.addf("mode", "%q is not %q or %q", c.Mode, ModeNative, ModeMixed)
	}
	if c.MaxParallel < 1 || c.MaxParallel > maxMaxParallel {
		p.addf("max_parallel", "%d is not in 1..%d", c.MaxParallel, maxMaxParallel)
	}
	// Port 0 is allowed: tests listen on a port the kernel picks.
	if err := checkHostPort(c.Listen, 0, false); err != nil {
		p.addf("listen", "%q: %w", c.Listen, err)
	}
	if c.TLSCert != "" && c.TLSKey == "" {
		p.addf("tls_key", "required when tls_cert is set")
	}
	if c.TLSKey != "" && c.TLSCert == "" {
		p.addf("tls_cert", "required when tls_key is set")
	}
	c.Directory.validate(p)

	if len(c.Servers) == 0 {
		p.addf("servers", "at least one [[servers]] entry is required")
	}
	names := map[string]int{}
	homes := map[string]int{}
	for i, s := range c.Servers {
		key := fmt.Sprintf("servers[%d]", i)
		s.validate(p, key, c.Mode)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			p.addf(key+".name", "%q is already used by servers[%d]", s.Name, j)
		} else {
			names[s.Name] = i
		}
		home := strings.ToLower(s.Home)
		if j, dup := homes[home]; dup && s.Home != "" {
			p.addf(key+".home", "%q is already used by servers[%d] (homes compare ignoring case)", s.Home, j)
		} else {
			homes[home] = i
		}
	}
}

func (d DirectoryConfig) validate(p *problems) {
	if d.URL == "" {
		p.addf("directory.url", "required")
	} else if strings.Contains(d.URL, "@") {
		// Not quoted back: the user info may hold a password.
		p.addf("directory.url", "must not contain user info; use bind_dn and bind_password")
	} else if u, err := url.Parse(d.URL); err != nil {
		p.addf("directory.url", "%w", err) // url.Error quotes the URL
	} else if u.Scheme != "ldap" && u.Scheme != "ldaps" {
		p.addf("directory.url", "%q is not an ldap:// or ldaps:// URL", d.URL)
	} else if u.Hostname() == "" {
		p.addf("directory.url", "%q has no host", d.URL)
	}
	checkDN(p, "directory.bind_dn", d.BindDN, true)
	if d.BindPassword == "" {
		p.addf("directory.bind_password", "required (or bind_password_file or bind_password_env)")
	}
	checkDN(p, "directory.base_dn", d.BaseDN, true)
	if _, err := ldap.CompileFilter(d.UserFilter); err != nil {
		p.addf("directory.user_filter", "%q: %w", d.UserFilter, err)
	}
	if !attributeRE.MatchString(d.HomeAttribute) {
		p.addf("directory.home_attribute", "%q is not an attribute name", d.HomeAttribute)
	}
	checkDN(p, "directory.admin_group", d.AdminGroup, false)
	checkDN(p, "directory.helpdesk_group", d.HelpdeskGroup, false)
}

func checkDN(p *problems, key, dn string, required bool) {
	if strings.TrimSpace(dn) == "" {
		if required {
			p.addf(key, "required")
		}
		return
	}
	if _, err := ldap.ParseDN(dn); err != nil {
		p.addf(key, "%q is not a DN: %w", dn, err)
	}
}

func (s ServerConfig) validate(p *problems, key, mode string) {
	if !serverNameRE.MatchString(s.Name) {
		p.addf(key+".name", "%q must be non-empty and only contain A-Z, a-z, 0-9, '.', '_' and '-'", s.Name)
	}
	if err := checkHostPort(s.Address, 1, true); err != nil {
		p.addf(key+".address", "%q: %w", s.Address, err)
	}
	switch s.TLS {
	case TLSNone:
		if s.TLSSkipVerify {
			p.addf(key+".tls_skip_verify", "only allowed with tls = %q or %q", TLSStartTLS, TLSImplicit)
		}
	case TLSStartTLS, TLSImplicit:
	default:
		p.addf(key+".tls", "%q is not one of %q, %q, %q", s.TLS, TLSNone, TLSStartTLS, TLSImplicit)
	}
	if strings.TrimSpace(s.Home) == "" {
		p.addf(key+".home", "required")
	}
	if mode == ModeMixed && s.Group == "" {
		p.addf(key+".group", "required when mode = %q", ModeMixed)
	}
	switch s.Login {
	case LoginSASLPlain, LoginMasterUser:
	default:
		p.addf(key+".login", "%q is not %q or %q", s.Login, LoginSASLPlain, LoginMasterUser)
	}
	if s.AdminUser == "" {
		p.addf(key+".admin_user", "required")
	} else if s.Login == LoginMasterUser && strings.Contains(s.AdminUser, "*") {
		// The master-user login is "user*admin"; a '*' in admin is ambiguous.
		p.addf(key+".admin_user", "%q must not contain '*' with login = %q", s.AdminUser, LoginMasterUser)
	}
	if s.AdminPassword == "" {
		p.addf(key+".admin_password", "required (or admin_password_file or admin_password_env)")
	}
	if s.MaxParallel < 0 {
		p.addf(key+".max_parallel", "%d is negative (0 means no per-server cap)", s.MaxParallel)
	}
}

// checkHostPort checks a host:port address with a numeric port of at least
// minPort; the host may be empty only if needHost is false.
func checkHostPort(addr string, minPort int, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not host:port: %w", err)
	}
	if needHost && host == "" {
		return errors.New("no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < minPort || n > 65535 {
		return fmt.Errorf("port %q is not a number in %d..65535", port, minPort)
	}
	return nil
}

// Secrets stay out of every printed form: fmt verbs (Format covers all of
// them, %#v included), slog (LogValue) and JSON (MarshalJSON, which also
// covers slog's JSON handler when a slice of servers is logged).

// String describes the server without its password.
func (s ServerConfig) String() string {
	return fmt.Sprintf("%s %s (tls=%s, home=%s, group=%s, login=%s, admin_user=%s, max_parallel=%d)",
		s.Name, s.Address, s.TLS, s.Home, s.Group, s.Login, s.AdminUser, s.MaxParallel)
}

// Format prints String for every verb, so no verb can reach the password.
func (s ServerConfig) Format(f fmt.State, _ rune) {
	// fmt.State records write errors itself; Format has no way to return one.
	fmt.Fprint(f, s.String())
}

// LogValue implements slog.LogValuer with the password redacted.
func (s ServerConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.Name),
		slog.String("address", s.Address),
		slog.String("tls", s.TLS),
		slog.Bool("tls_skip_verify", s.TLSSkipVerify),
		slog.String("home", s.Home),
		slog.String("group", s.Group),
		slog.String("login", s.Login),
		slog.String("admin_user", s.AdminUser),
		slog.String("admin_password", redact(s.AdminPassword)),
		slog.Int("max_parallel", s.MaxParallel),
	)
}

// MarshalJSON encodes the server with the password redacted.
func (s ServerConfig) MarshalJSON() ([]byte, error) {
	type plain ServerConfig // without methods, so Marshal does not recurse
	v := plain(s)
	v.AdminPassword = redact(v.AdminPassword)
	return json.Marshal(v)
}

// String describes the directory without its bind password.
func (d DirectoryConfig) String() string {
	return fmt.Sprintf("%s (bind_dn=%s, base_dn=%s, user_filter=%s, home_attribute=%s, admin_group=%s, helpdesk_group=%s)",
		d.URL, d.BindDN, d.BaseDN, d.UserFilter, d.HomeAttribute, d.AdminGroup, d.HelpdeskGroup)
}

// Format prints String for every verb, so no verb can reach the password.
func (d DirectoryConfig) Format(f fmt.State, _ rune) {
	// fmt.State records write errors itself; Format has no way to return one.
	fmt.Fprint(f, d.String())
}

// LogValue implements slog.LogValuer with the bind password redacted.
func (d DirectoryConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", d.URL),
		slog.String("bind_dn", d.BindDN),
		slog.String("bind_password", redact(d.BindPassword)),
		slog.String("base_dn", d.BaseDN),
		slog.String("user_filter", d.UserFilter),
		slog.String("home_attribute", d.HomeAttribute),
		slog.String("admin_group", d.AdminGroup),
		slog.String("helpdesk_group", d.HelpdeskGroup),
	)
}

// MarshalJSON encodes the directory with the bind password redacted.
func (d DirectoryConfig) MarshalJSON() ([]byte, error) {
	type plain DirectoryConfig // without methods, so Marshal does not recurse
	v := plain(d)
	v.BindPassword = redact(v.BindPassword)
	return json.Marshal(v)
}

// LogValue implements slog.LogValuer: the whole config, secrets redacted,
// servers keyed by name.
func (c *Config) LogValue() slog.Value {
	servers := make([]slog.Attr, 0, len(c.Servers))
	for _, s := range c.Servers {
		servers = append(servers, slog.Any(s.Name, s))
	}
	return slog.GroupValue(
		slog.String("database", c.Database),
		slog.String("mode", c.Mode),
		slog.Int("max_parallel", c.MaxParallel),
		slog.String("listen", c.Listen),
		slog.String("tls_cert", c.TLSCert),
		slog.String("tls_key", c.TLSKey),
		slog.Any("directory", c.Directory),
		slog.Attr{Key: "servers", Value: slog.GroupValue(servers...)},
	)
}

// redact keeps "is it set?" visible while hiding the value.
func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}
