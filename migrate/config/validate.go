package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

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

// addRaw records err, which names key itself in its own words.
func (p *problems) addRaw(key string, err error) {
	if p.skip[key] {
		return
	}
	p.errs = append(p.errs, err)
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
	c.Notify.validate(p)

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

func (d Directory) validate(p *problems) {
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
	} else if u.Scheme == "ldaps" && d.StartTLS {
		p.addf("directory.starttls", "not with an ldaps:// URL, which is TLS from the start")
	} else if u.Scheme == "ldap" && !d.StartTLS && !d.AllowPlaintext && !isLoopback(u.Hostname()) {
		p.addf("directory.url", "%q is not encrypted: the bind password and every sign-in password "+
			"would cross the network in cleartext; use ldaps://, set starttls = true, "+
			"or set allow_plaintext = true to accept that", d.URL)
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

func (s Server) validate(p *problems, key, mode string) {
	if !serverNameRE.MatchString(s.Name) {
		p.addf(key+".name", "%q must be non-empty and only contain A-Z, a-z, 0-9, '.', '_' and '-'", s.Name)
	}
	if err := checkHostPort(s.Address, 1, true); err != nil {
		p.addf(key+".address", "%q: %w", s.Address, err)
	}
	switch s.TLS {
	case "":
		p.addRaw(key+".tls", fmt.Errorf("%s.tls is required: %q, %q or %q", key, TLSImplicit, TLSStartTLS, TLSNone))
	case TLSNone:
		if s.TLSSkipVerify {
			p.addf(key+".tls_skip_verify", "only allowed with tls = %q or %q", TLSStartTLS, TLSImplicit)
		}
		if host, _, err := net.SplitHostPort(s.Address); err == nil && host != "" && !s.AllowPlaintext && !isLoopback(host) {
			p.addf(key+".tls", "%q to %q would send the admin password in cleartext; use %q or %q, "+
				"or set allow_plaintext = true to accept that", TLSNone, s.Address, TLSImplicit, TLSStartTLS)
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
	s.Kick.validate(p, key, s.AllowPlaintext)
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
