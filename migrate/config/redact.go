package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// String describes the server without its password.
func (s Server) String() string {
	plain := ""
	if s.AllowPlaintext {
		plain = ", allow_plaintext"
	}
	kick := ""
	if s.Kick.Configured() {
		kick = ", kick=" + s.Kick.String()
	}
	return fmt.Sprintf("%s %s (tls=%s%s, home=%s, group=%s, login=%s, admin_user=%s, max_parallel=%d%s)",
		s.Name, s.Address, s.TLS, plain, s.Home, s.Group, s.Login, s.AdminUser, s.MaxParallel, kick)
}

// Format prints String for every verb, so no verb can reach the password.
func (s Server) Format(f fmt.State, _ rune) {
	// fmt.State records write errors itself; Format has no way to return one.
	fmt.Fprint(f, s.String())
}

// LogValue implements slog.LogValuer with the password redacted.
func (s Server) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.Name),
		slog.String("address", s.Address),
		slog.String("tls", s.TLS),
		slog.Bool("tls_skip_verify", s.TLSSkipVerify),
		slog.Bool("allow_plaintext", s.AllowPlaintext),
		slog.String("home", s.Home),
		slog.String("group", s.Group),
		slog.String("login", s.Login),
		slog.String("admin_user", s.AdminUser),
		slog.String("admin_password", redact(s.AdminPassword)),
		slog.Int("max_parallel", s.MaxParallel),
		slog.Any("kick", s.Kick),
	)
}

// MarshalJSON encodes the server with the password redacted.
func (s Server) MarshalJSON() ([]byte, error) {
	type plain Server // without methods, so Marshal does not recurse
	v := plain(s)
	v.AdminPassword = redact(v.AdminPassword)
	return json.Marshal(v)
}

// String describes the directory without its bind password.
func (d Directory) String() string {
	return fmt.Sprintf("%s (starttls=%t, allow_plaintext=%t, bind_dn=%s, base_dn=%s, user_filter=%s, home_attribute=%s, admin_group=%s, helpdesk_group=%s)",
		d.URL, d.StartTLS, d.AllowPlaintext, d.BindDN, d.BaseDN, d.UserFilter, d.HomeAttribute, d.AdminGroup, d.HelpdeskGroup)
}

// Format prints String for every verb, so no verb can reach the password.
func (d Directory) Format(f fmt.State, _ rune) {
	// fmt.State records write errors itself; Format has no way to return one.
	fmt.Fprint(f, d.String())
}

// LogValue implements slog.LogValuer with the bind password redacted.
func (d Directory) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", d.URL),
		slog.Bool("starttls", d.StartTLS),
		slog.Bool("allow_plaintext", d.AllowPlaintext),
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
func (d Directory) MarshalJSON() ([]byte, error) {
	type plain Directory // without methods, so Marshal does not recurse
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
		slog.Any("notify", c.Notify),
	)
}

// redact keeps "is it set?" visible while hiding the value.
func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}
