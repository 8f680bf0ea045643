package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// exampleConfig uses every key. Values differ between the two servers so
// that a test can edit one server's line by plain text replacement.
const exampleConfig = `
database = "movewizard.db"
mode = "native"
max_parallel = 30
listen = "127.0.0.1:8080"

[directory]
url = "ldap://127.0.0.1:3389"
bind_dn = "cn=admin,dc=example,dc=org"
bind_password = "bind-s3cret"
base_dn = "ou=people,dc=example,dc=org"
user_filter = "(objectClass=inetOrgPerson)"
home_attribute = "mailHost"
admin_group = "cn=admins,ou=groups,dc=example,dc=org"
helpdesk_group = "cn=helpdesk,ou=groups,dc=example,dc=org"

[[servers]]
name = "src"
address = "127.0.0.1:10143"
tls = "none"
home = "src.example.org"
group = "first"
login = "sasl-plain"
admin_user = "admin"
admin_password = "src-s3cret"
max_parallel = 8

[[servers]]
name = "dst"
address = "127.0.0.1:10993"
tls = "tls"
tls_skip_verify = true
home = "dst.example.org"
group = "second"
login = "master-user"
admin_user = "master"
admin_password = "dst-s3cret"
`

// edit returns exampleConfig with old replaced by new once; old must occur,
// so that a typo in a test cannot turn it into a test of the valid example.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(exampleConfig, old) {
		t.Fatalf("exampleConfig does not contain %q", old)
	}
	return strings.Replace(exampleConfig, old, new, 1)
}

func noEnv(string) string { return "" }

// problemCount is the number of problems in an error from Parse or Validate.
func problemCount(err error) int {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return len(joined.Unwrap())
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestParseConfigExample(t *testing.T) {
	got, err := Parse([]byte(exampleConfig), "/etc/movewizard", noEnv)
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	want := &Config{
		RetryPatience:  15 * time.Minute,
		ResyncInterval: time.Hour,
		Database:       "/etc/movewizard/movewizard.db",
		Mode:           ModeNative,
		MaxParallel:    30,
		Listen:         "127.0.0.1:8080",
		Directory: Directory{
			URL:           "ldap://127.0.0.1:3389",
			BindDN:        "cn=admin,dc=example,dc=org",
			BindPassword:  "bind-s3cret",
			BaseDN:        "ou=people,dc=example,dc=org",
			UserFilter:    "(objectClass=inetOrgPerson)",
			HomeAttribute: "mailHost",
			AdminGroup:    "cn=admins,ou=groups,dc=example,dc=org",
			HelpdeskGroup: "cn=helpdesk,ou=groups,dc=example,dc=org",
		},
		Servers: []Server{
			{Name: "src", Address: "127.0.0.1:10143", TLS: TLSNone, Home: "src.example.org", Group: "first",
				Login: LoginSASLPlain, AdminUser: "admin", AdminPassword: "src-s3cret", MaxParallel: 8},
			{Name: "dst", Address: "127.0.0.1:10993", TLS: TLSImplicit, TLSSkipVerify: true, Home: "dst.example.org",
				Group: "second", Login: LoginMasterUser, AdminUser: "master", AdminPassword: "dst-s3cret"},
		},
	}
	// Printing redacts passwords, so a mismatch reports whether they matched.
	if !reflect.DeepEqual(got.Servers, want.Servers) {
		for i := range want.Servers {
			if i < len(got.Servers) && !reflect.DeepEqual(got.Servers[i], want.Servers[i]) {
				t.Errorf("Parse().Servers[%d] = %+v (password match %t), want %+v",
					i, got.Servers[i], got.Servers[i].AdminPassword == want.Servers[i].AdminPassword, want.Servers[i])
			}
		}
		if len(got.Servers) != len(want.Servers) {
			t.Errorf("len(Parse().Servers) = %d, want %d", len(got.Servers), len(want.Servers))
		}
	}
	if got.Directory != want.Directory {
		t.Errorf("Parse().Directory = %v (password match %t), want %v",
			got.Directory, got.Directory.BindPassword == want.Directory.BindPassword, want.Directory)
	}
	got.Servers, want.Servers = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse() = %v, want %v", got, want)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	const minimal = `
[directory]
url = "ldaps://ldap.example.org"
bind_dn = "cn=admin,dc=example,dc=org"
bind_password = "x"
base_dn = "dc=example,dc=org"

[[servers]]
name = "only"
address = "imap.example.org:143"
tls = "starttls"
home = "imap.example.org"
admin_user = "admin"
admin_password = "y"
`
	c, err := Parse([]byte(minimal), "", noEnv)
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Database", c.Database, DefaultDatabase},
		{"Mode", c.Mode, ModeNative},
		{"MaxParallel", c.MaxParallel, DefaultMaxParallel},
		{"Listen", c.Listen, DefaultListen},
		{"TLSCert", c.TLSCert, ""},
		{"Directory.UserFilter", c.Directory.UserFilter, DefaultUserFilter},
		{"Directory.HomeAttribute", c.Directory.HomeAttribute, DefaultHomeAttribute},
		{"Directory.AdminGroup", c.Directory.AdminGroup, ""},
		{"Directory.StartTLS", c.Directory.StartTLS, false},
		{"Directory.AllowPlaintext", c.Directory.AllowPlaintext, false},
		{"Servers[0].TLSSkipVerify", c.Servers[0].TLSSkipVerify, false},
		{"Servers[0].AllowPlaintext", c.Servers[0].AllowPlaintext, false},
		{"Servers[0].Login", c.Servers[0].Login, LoginSASLPlain},
		{"Servers[0].Group", c.Servers[0].Group, ""},
		{"Servers[0].MaxParallel", c.Servers[0].MaxParallel, 0},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("Parse().%s = %v, want %v", tc.name, tc.got, tc.want)
			}
		})
	}
}

func TestParseConfigInvalid(t *testing.T) {
	tests := []struct {
		name     string
		old, new string   // one edit of exampleConfig
		want     []string // substrings of the single problem reported (group: TestParseConfigMixedGroup)
	}{
		{"database empty", `database = "movewizard.db"`, `database = ""`, []string{"database: required"}},
		{"mode", `mode = "native"`, `mode = "bogus"`, []string{`mode: "bogus"`}},
		{"max_parallel zero", `max_parallel = 30`, `max_parallel = 0`, []string{"max_parallel: 0 "}},
		{"max_parallel too big", `max_parallel = 30`, `max_parallel = 1001`, []string{"max_parallel: 1001 "}},
		{"retry_patience not a duration", `max_parallel = 30`, "max_parallel = 30\nretry_patience = \"soon\"", []string{`retry_patience: "soon"`}},
		{"retry_patience too short", `max_parallel = 30`, "max_parallel = 30\nretry_patience = \"10ms\"", []string{`retry_patience: "10ms"`}},
		{"resync_interval too short", `max_parallel = 30`, "max_parallel = 30\nresync_interval = \"5s\"", []string{`resync_interval: "5s" is not a duration between 1m and 168h`}},
		{"propagation_delay negative", `home_attribute = "mailHost"`, "home_attribute = \"mailHost\"\npropagation_delay = \"-1s\"", []string{`directory.propagation_delay: "-1s"`}},
		{"listen not host:port", `listen = "127.0.0.1:8080"`, `listen = "localhost"`, []string{`listen: "localhost"`}},
		{"listen port", `listen = "127.0.0.1:8080"`, `listen = ":http"`, []string{`listen: ":http"`, `"http"`}},
		{"tls_cert without key", `listen = "127.0.0.1:8080"`, "listen = \"127.0.0.1:8080\"\ntls_cert = \"c.pem\"", []string{"tls_key: required"}},
		{"tls_key without cert", `listen = "127.0.0.1:8080"`, "listen = \"127.0.0.1:8080\"\ntls_key = \"k.pem\"", []string{"tls_cert: required"}},

		{"url empty", `url = "ldap://127.0.0.1:3389"`, `url = ""`, []string{"directory.url: required"}},
		{"url scheme", `url = "ldap://127.0.0.1:3389"`, `url = "http://127.0.0.1:3389"`, []string{`directory.url: "http://127.0.0.1:3389"`}},
		{"url no host", `url = "ldap://127.0.0.1:3389"`, `url = "ldap:///dc=x"`, []string{`directory.url: "ldap:///dc=x" has no host`}},
		{"url unparsable", `url = "ldap://127.0.0.1:3389"`, `url = "ldap://[::1"`, []string{`directory.url: `, `"ldap://[::1"`}},
		{"url user info", `url = "ldap://127.0.0.1:3389"`, `url = "ldap://u:pw@127.0.0.1"`, []string{"directory.url: must not contain user info"}},
		{"url user info unparsable", `url = "ldap://127.0.0.1:3389"`, `url = "ldap://u:url-s3cret@[::1"`, []string{"directory.url: must not contain user info"}},
		{"bind_dn empty", `bind_dn = "cn=admin,dc=example,dc=org"`, `bind_dn = ""`, []string{"directory.bind_dn: required"}},
		{"bind_dn bad", `bind_dn = "cn=admin,dc=example,dc=org"`, `bind_dn = "admin"`, []string{`directory.bind_dn: "admin"`}},
		{"bind_password missing", `bind_password = "bind-s3cret"`, ``, []string{"directory.bind_password: required"}},
		{"base_dn bad", `base_dn = "ou=people,dc=example,dc=org"`, `base_dn = "ou=people,dc"`, []string{`directory.base_dn: "ou=people,dc"`}},
		{"user_filter", `user_filter = "(objectClass=inetOrgPerson)"`, `user_filter = "(objectClass=inetOrgPerson"`, []string{`directory.user_filter: "(objectClass=inetOrgPerson"`}},
		{"home_attribute", `home_attribute = "mailHost"`, `home_attribute = "mail host"`, []string{`directory.home_attribute: "mail host"`}},
		{"home_attribute digit", `home_attribute = "mailHost"`, `home_attribute = "1mail"`, []string{`directory.home_attribute: "1mail"`}},
		{"admin_group", `admin_group = "cn=admins,ou=groups,dc=example,dc=org"`, `admin_group = "admins"`, []string{`directory.admin_group: "admins"`}},
		{"helpdesk_group", `helpdesk_group = "cn=helpdesk,ou=groups,dc=example,dc=org"`, `helpdesk_group = "cn=x,,"`, []string{`directory.helpdesk_group: "cn=x,,"`}},

		{"name empty", `name = "dst"`, `name = ""`, []string{`servers[1].name: ""`}},
		{"name characters", `name = "dst"`, `name = "d st"`, []string{`servers[1].name: "d st"`}},
		{"name duplicate", `name = "dst"`, `name = "src"`, []string{`servers[1].name: "src" is already used by servers[0]`}},
		{"address no port", `address = "127.0.0.1:10993"`, `address = "127.0.0.1"`, []string{`servers[1].address: "127.0.0.1"`}},
		{"address no host", `address = "127.0.0.1:10993"`, `address = ":10993"`, []string{`servers[1].address: ":10993": no host`}},
		{"address port name", `address = "127.0.0.1:10993"`, `address = "127.0.0.1:imaps"`, []string{`servers[1].address: "127.0.0.1:imaps"`}},
		{"address port zero", `address = "127.0.0.1:10993"`, `address = "127.0.0.1:0"`, []string{`servers[1].address: "127.0.0.1:0"`}},
		{"address port too big", `address = "127.0.0.1:10993"`, `address = "127.0.0.1:65536"`, []string{`servers[1].address: "127.0.0.1:65536"`}},
		{"tls", `tls = "tls"`, `tls = "ssl"`, []string{`servers[1].tls: "ssl"`}},
		{"tls_skip_verify without tls", `tls = "tls"`, `tls = "none"`, []string{`servers[1].tls_skip_verify: only allowed`}},
		{"home empty", `home = "dst.example.org"`, `home = ""`, []string{`servers[1].home: required`}},
		{"home duplicate", `home = "dst.example.org"`, `home = "SRC.example.org"`, []string{`servers[1].home: "SRC.example.org" is already used by servers[0]`}},
		{"login", `login = "master-user"`, `login = "oauth"`, []string{`servers[1].login: "oauth"`}},
		{"admin_user empty", `admin_user = "master"`, `admin_user = ""`, []string{`servers[1].admin_user: required`}},
		{"admin_user star", `admin_user = "master"`, `admin_user = "ma*ster"`, []string{`servers[1].admin_user: "ma*ster"`}},
		{"admin_password missing", `admin_password = "dst-s3cret"`, ``, []string{`servers[1].admin_password: required`}},
		{"server max_parallel", `max_parallel = 8`, `max_parallel = -1`, []string{`servers[0].max_parallel: -1 `}},

		{"unknown top-level key", `mode = "native"`, "mode = \"native\"\nmax_paralel = 3", []string{"max_paralel: unknown key"}},
		{"unknown directory key", `base_dn =`, "bindpw = \"x\"\nbase_dn =", []string{"directory.bindpw: unknown key"}},
		{"unknown server key", `name = "dst"`, "name = \"dst\"\nadress = \"x\"", []string{"servers[1].adress: unknown key"}},
		{"unknown table", `[directory]`, "[limits]\nx = 1\n[limits.more]\ny = 2\n[directory]", []string{"limits: unknown key"}}, // limits.more is inside it
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(edit(t, tc.old, tc.new)), "/etc/movewizard", noEnv)
			if err == nil {
				t.Fatalf("Parse() error = nil, want one mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse() error = %q, want it to contain %q", err, w)
				}
			}
			if n := problemCount(err); n != 1 {
				t.Errorf("Parse() reported %d problems, want 1: %q", n, err)
			}
			for _, secret := range []string{"bind-s3cret", "src-s3cret", "dst-s3cret", "url-s3cret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Parse() error = %q, want no password in it", err)
				}
			}
		})
	}
}

func TestParseConfigUnknownKeyInlineServers(t *testing.T) {
	const inline = `servers = [{name = "a", adress = "x"}]`
	_, err := Parse([]byte(inline), "", noEnv)
	if err == nil || !strings.Contains(err.Error(), "servers.adress: unknown key") {
		t.Errorf("Parse() error = %v, want servers.adress: unknown key", err)
	}
}

func TestParseConfigMixedGroup(t *testing.T) {
	mixed := edit(t, `mode = "native"`, `mode = "mixed"`)
	if _, err := Parse([]byte(mixed), "", noEnv); err != nil {
		t.Fatalf("Parse(mixed, all groups set) error = %v, want nil", err)
	}
	noGroup := strings.Replace(mixed, `group = "second"`, ``, 1)
	_, err := Parse([]byte(noGroup), "", noEnv)
	if err == nil || !strings.Contains(err.Error(), `servers[1].group: required when mode = "mixed"`) {
		t.Errorf("Parse(mixed, no group) error = %v, want servers[1].group required", err)
	}
	native := strings.Replace(exampleConfig, `group = "second"`, ``, 1)
	if _, err := Parse([]byte(native), "", noEnv); err != nil {
		t.Errorf("Parse(native, no group) error = %v, want nil", err)
	}
}

func TestParseConfigAllProblemsAtOnce(t *testing.T) {
	bad := edit(t, `mode = "native"`, `mode = "bogus"`)
	bad = strings.Replace(bad, `address = "127.0.0.1:10143"`, `address = "nowhere"`, 1)
	bad = strings.Replace(bad, `tls = "tls"`, `tls = "ssl"`, 1)
	_, err := Parse([]byte(bad), "", noEnv)
	for _, want := range []string{"mode:", "servers[0].address:", "servers[1].tls:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse() error = %v, want it to contain %q", err, want)
		}
	}
	if n := problemCount(err); n != 3 {
		t.Errorf("Parse() reported %d problems, want 3: %v", n, err)
	}
}

func TestParseConfigNoServers(t *testing.T) {
	noServers := exampleConfig[:strings.Index(exampleConfig, "[[servers]]")]
	_, err := Parse([]byte(noServers), "", noEnv)
	if err == nil || !strings.Contains(err.Error(), "servers: at least one") {
		t.Errorf("Parse() error = %v, want servers: at least one", err)
	}
}

func TestParseConfigSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		old  string
		new  string
		want []string
	}{
		{"missing value", `mode = "native"`, `mode = `, []string{"line 3", "column", `"mode"`}},
		{"wrong type", `max_parallel = 30`, `max_parallel = "30"`, []string{"line 4", "max_parallel"}},
		{"wrong type in server", `max_parallel = 8`, `max_parallel = "8"`, []string{"line 26", "servers.max_parallel"}},
		{"duplicate key", `mode = "native"`, "mode = \"native\"\nmode = \"mixed\"", []string{"line 4", "mode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(edit(t, tc.old, tc.new)), "", noEnv)
			if err == nil {
				t.Fatalf("Parse() error = nil, want a parse error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bind.pw"), "from-file\n")
	writeFile(t, filepath.Join(dir, "crlf.pw"), "crlf-file\r\n")
	writeFile(t, filepath.Join(dir, "empty.pw"), "\n")
	abs := filepath.Join(t.TempDir(), "abs.pw")
	writeFile(t, abs, "abs-file")
	env := map[string]string{"MW_BIND": "from-env", "MW_ADMIN": "admin-env"}
	getenv := func(k string) string { return env[k] }

	const bindLine = `bind_password = "bind-s3cret"`
	const adminLine = `admin_password = "src-s3cret"`
	tests := []struct {
		name      string
		old, new  string
		wantBind  string // resolved on success
		wantAdmin string
		wantErr   string // substring of the single problem, if any
	}{
		{"inline", bindLine, bindLine, "bind-s3cret", "src-s3cret", ""},
		{"relative file", bindLine, `bind_password_file = "bind.pw"`, "from-file", "src-s3cret", ""},
		{"absolute file", bindLine, fmt.Sprintf("bind_password_file = %q", abs), "abs-file", "src-s3cret", ""},
		{"crlf trimmed", bindLine, `bind_password_file = "crlf.pw"`, "crlf-file", "src-s3cret", ""},
		{"env", bindLine, `bind_password_env = "MW_BIND"`, "from-env", "src-s3cret", ""},
		{"server env", adminLine, `admin_password_env = "MW_ADMIN"`, "bind-s3cret", "admin-env", ""},
		{"server file", adminLine, `admin_password_file = "bind.pw"`, "bind-s3cret", "from-file", ""},
		{"value and file", bindLine, bindLine + "\nbind_password_file = \"bind.pw\"", "", "", "directory.bind_password: set only one"},
		{"value and env", bindLine, bindLine + "\nbind_password_env = \"MW_BIND\"", "", "", "directory.bind_password: set only one"},
		{"file and env", bindLine, "bind_password_file = \"bind.pw\"\nbind_password_env = \"MW_BIND\"", "", "", "directory.bind_password: set only one"},
		{"server conflict", adminLine, adminLine + "\nadmin_password_env = \"MW_ADMIN\"", "", "", "servers[0].admin_password: set only one"},
		{"missing file", bindLine, `bind_password_file = "nope.pw"`, "", "", "directory.bind_password_file: open " + filepath.Join(dir, "nope.pw")},
		{"empty file", bindLine, `bind_password_file = "empty.pw"`, "", "", "directory.bind_password_file: " + fmt.Sprintf("%q is empty", filepath.Join(dir, "empty.pw"))},
		{"unset env", bindLine, `bind_password_env = "MW_NOPE"`, "", "", `directory.bind_password_env: environment variable "MW_NOPE" is unset or empty`},
		{"server unset env", adminLine, `admin_password_env = "MW_NOPE"`, "", "", `servers[0].admin_password_env: environment variable "MW_NOPE"`},
		{"empty inline", bindLine, `bind_password = ""`, "", "", "directory.bind_password: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(edit(t, tc.old, tc.new)), dir, getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse() error = %v, want it to contain %q", err, tc.wantErr)
				}
				if n := problemCount(err); n != 1 {
					t.Errorf("Parse() reported %d problems, want 1: %q", n, err)
				}
				for _, secret := range []string{"bind-s3cret", "src-s3cret", "from-env", "from-file"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("Parse() error = %q, want no secret in it", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if got := c.Directory.BindPassword; got != tc.wantBind {
				t.Errorf("Parse().Directory.BindPassword = %q, want %q", got, tc.wantBind)
			}
			if got := c.Servers[0].AdminPassword; got != tc.wantAdmin {
				t.Errorf("Parse().Servers[0].AdminPassword = %q, want %q", got, tc.wantAdmin)
			}
		})
	}
}

func TestParseConfigRelativePaths(t *testing.T) {
	tests := []struct {
		name          string
		dir, database string
		want          string
	}{
		{"relative", "/etc/mw", "jobs.db", "/etc/mw/jobs.db"},
		{"subdirectory", "/etc/mw", "../var/jobs.db", "/etc/var/jobs.db"},
		{"absolute", "/etc/mw", "/var/lib/mw/jobs.db", "/var/lib/mw/jobs.db"},
		{"memory", "/etc/mw", ":memory:", ":memory:"},
		{"no dir", "", "jobs.db", "jobs.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := edit(t, `database = "movewizard.db"`, fmt.Sprintf("database = %q\ntls_cert = \"c.pem\"\ntls_key = \"/k.pem\"", tc.database))
			c, err := Parse([]byte(data), tc.dir, noEnv)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if c.Database != tc.want {
				t.Errorf("Parse().Database = %q, want %q", c.Database, tc.want)
			}
			if want := filepath.Join(tc.dir, "c.pem"); c.TLSCert != want {
				t.Errorf("Parse().TLSCert = %q, want %q", c.TLSCert, want)
			}
			if c.TLSKey != "/k.pem" {
				t.Errorf("Parse().TLSKey = %q, want %q", c.TLSKey, "/k.pem")
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secrets", "admin.pw"), "file-s3cret\n")
	data := edit(t, `admin_password = "src-s3cret"`, `admin_password_file = "secrets/admin.pw"`)
	path := filepath.Join(dir, "movewizard.toml")
	writeFile(t, path, data)

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if want := filepath.Join(dir, "movewizard.db"); c.Database != want {
		t.Errorf("Load().Database = %q, want %q", c.Database, want)
	}
	if got := c.Servers[0].AdminPassword; got != "file-s3cret" {
		t.Errorf("Load().Servers[0].AdminPassword = %q, want %q", got, "file-s3cret")
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "nope.toml"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load() error = %v, want os.ErrNotExist", err)
		}
	})
	t.Run("invalid names the file", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.toml")
		writeFile(t, bad, edit(t, `mode = "native"`, `mode = "x"`))
		_, err := Load(bad)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `mode: "x"`) {
			t.Errorf("Load() error = %v, want it to name %s and mode", err, bad)
		}
	})
}

func TestValidate(t *testing.T) {
	c := mustParse(t, exampleConfig)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() of the parsed example = %v, want nil", err)
	}
	// A config built in code gets no defaults: Validate reports every empty field.
	err := (&Config{}).Validate()
	for _, want := range []string{"database: required", `mode: ""`, "max_parallel: 0", `listen: ""`,
		"directory.url: required", "directory.bind_dn: required", "directory.bind_password: required",
		"directory.base_dn: required", "directory.home_attribute", "servers: at least one"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Config{}.Validate() = %v, want it to contain %q", err, want)
		}
	}
}

func TestServerLookup(t *testing.T) {
	c := mustParse(t, exampleConfig)
	tests := []struct {
		name     string
		lookup   func(string) (Server, bool)
		arg      string
		wantName string
		wantOK   bool
	}{
		{"Server", c.Server, "dst", "dst", true},
		{"Server case-sensitive", c.Server, "DST", "", false},
		{"Server missing", c.Server, "nope", "", false},
		{"ServerByHome", c.ServerByHome, "src.example.org", "src", true},
		{"ServerByHome ignores case", c.ServerByHome, "DST.Example.ORG", "dst", true},
		{"ServerByHome missing", c.ServerByHome, "other.example.org", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := tc.lookup(tc.arg)
			if s.Name != tc.wantName || ok != tc.wantOK {
				t.Errorf("%s(%q) = %q, %t, want %q, %t", tc.name, tc.arg, s.Name, ok, tc.wantName, tc.wantOK)
			}
		})
	}
}

// TestCanMove is the move rule, one row per verdict and mode.
func TestCanMove(t *testing.T) {
	threeServers := exampleConfig + `
[[servers]]
name = "dst2"
address = "127.0.0.1:10144"
tls = "none"
home = "dst2.example.org"
group = "first"
admin_user = "admin"
admin_password = "x"
`
	native := mustParse(t, threeServers)
	mixed := mustParse(t, strings.Replace(threeServers, `mode = "native"`, `mode = "mixed"`, 1))
	custom := mustParse(t, strings.Replace(threeServers, `home_attribute = "mailHost"`, `home_attribute = "mailRoutingHost"`, 1))
	tests := []struct {
		name         string
		c            *Config
		home, target string
		want         Verdict
		source       string // want Source.Name
		reason       string // in Reason(); "" means Reason() is ""
	}{
		{"native other group", native, "src.example.org", "dst", Movable, "src", ""},
		{"native same group", native, "src.example.org", "dst2", Movable, "src", ""},
		{"home ignores case", native, "SRC.Example.ORG", "dst", Movable, "src", ""},
		{"mixed same group", mixed, "src.example.org", "dst2", Movable, "src", ""},
		{"mixed other group", mixed, "src.example.org", "dst", OtherGroup, "src", `mixed mode: target group "second" differs from source group "first"`},
		{"already there", native, "dst.example.org", "dst", AlreadyThere, "dst", "already is on dst"},
		{"already there, mixed", mixed, "DST.example.org", "dst", AlreadyThere, "dst", "already is on dst"},
		{"unregistered target", native, "src.example.org", "elsewhere", UnknownTarget, "", `target server "elsewhere" is not registered`},
		{"unregistered target before home", native, "gone.example.org", "elsewhere", UnknownTarget, "", `target server "elsewhere" is not registered`},
		{"no home", native, "", "dst", NoHome, "", "no mailHost value, so no registered server holds the mailbox"},
		{"blank home", native, "  ", "dst", NoHome, "", "no mailHost value"},
		{"unregistered home", native, "gone.example.org", "dst", UnknownHome, "", `mailHost "gone.example.org" is not a registered server`},
		{"configured attribute named", custom, "gone.example.org", "dst", UnknownHome, "", `mailRoutingHost "gone.example.org" is not a registered server`},
		{"no target: selectable", mixed, "dst.example.org", "", Movable, "dst", ""},
		{"no target: no home", native, "", "", NoHome, "", "no mailHost value"},
		{"no target: unregistered home", native, "gone.example.org", "", UnknownHome, "", "is not a registered server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.c.CanMove(tc.home, tc.target)
			reason := e.Reason()
			if e.Verdict != tc.want || e.Source.Name != tc.source ||
				(tc.reason == "") != (reason == "") || !strings.Contains(reason, tc.reason) {
				t.Errorf("CanMove(%q, %q) = verdict %d source %q reason %q, want %d %q %q",
					tc.home, tc.target, e.Verdict, e.Source.Name, reason, tc.want, tc.source, tc.reason)
			}
			if e.OK() != (tc.want == Movable) || e.Refused() != (tc.want != Movable && tc.want != AlreadyThere) {
				t.Errorf("CanMove(%q, %q): OK %t Refused %t for verdict %d", tc.home, tc.target, e.OK(), e.Refused(), e.Verdict)
			}
			if tc.target != "" && tc.want != UnknownTarget && e.Target.Name != tc.target {
				t.Errorf("CanMove(%q, %q).Target = %q", tc.home, tc.target, e.Target.Name)
			}
		})
	}
}

func TestHomeAttr(t *testing.T) {
	if got := (Directory{}).HomeAttr(); got != DefaultHomeAttribute {
		t.Errorf("Directory{}.HomeAttr() = %q, want %q", got, DefaultHomeAttribute)
	}
	if got := (Directory{HomeAttribute: "mailRoutingHost"}).HomeAttr(); got != "mailRoutingHost" {
		t.Errorf("HomeAttr() = %q, want mailRoutingHost", got)
	}
}

func TestConfigRedaction(t *testing.T) {
	c := mustParse(t, exampleConfig)
	secrets := []string{"bind-s3cret", "src-s3cret", "dst-s3cret"}

	logged := func(h func(*bytes.Buffer) slog.Handler, args ...any) string {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("config", args...)
		return buf.String()
	}
	text := func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }
	jsonH := func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }
	mustJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal() error = %v", err)
		}
		return string(b)
	}

	outputs := []struct {
		name string
		out  string
		want string // shows the output is not empty or truncated before the secret
	}{
		{"Sprint config", fmt.Sprint(c), "127.0.0.1:10993"},
		{"Sprintf %+v config", fmt.Sprintf("%+v", c), "src.example.org"},
		{"Sprintf %#v config", fmt.Sprintf("%#v", c), "src.example.org"},
		{"Sprintf %v *config", fmt.Sprintf("%v", *c), "src.example.org"},
		{"Sprintf %d servers", fmt.Sprintf("%d", c.Servers), "dst.example.org"},
		{"Sprintf %x directory", fmt.Sprintf("%x", c.Directory), "mailHost"},
		{"Sprint directory", fmt.Sprint(c.Directory), "cn=admin,dc=example,dc=org"},
		{"String server", c.Servers[1].String(), "master"},
		{"Println server", fmt.Sprintln(c.Servers[0]), "src"},
		{"slog text config", logged(text, "config", c), redacted},
		{"slog json config", logged(jsonH, "config", c), redacted},
		{"slog text server", logged(text, "server", c.Servers[0]), redacted},
		{"slog json server", logged(jsonH, "server", c.Servers[0]), redacted},
		{"slog text directory", logged(text, "directory", c.Directory), redacted},
		{"slog json servers slice", logged(jsonH, "servers", c.Servers), redacted},
		{"slog text servers slice", logged(text, "servers", c.Servers), "dst.example.org"},
		{"slog json config value", logged(jsonH, "config", *c), redacted},
		{"json config", mustJSON(c), redacted},
	}
	for _, tc := range outputs {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.out, tc.want) {
				t.Errorf("output = %q, want it to contain %q", tc.out, tc.want)
			}
			for _, s := range secrets {
				if strings.Contains(tc.out, s) {
					t.Errorf("output = %q, want no %q", tc.out, s)
				}
			}
		})
	}
	// Redacting must not change the config itself.
	if c.Servers[0].AdminPassword != "src-s3cret" || c.Directory.BindPassword != "bind-s3cret" {
		t.Errorf("passwords after printing = %q, %q, want them unchanged",
			c.Servers[0].AdminPassword, c.Directory.BindPassword)
	}
}

func mustParse(t *testing.T, data string) *Config {
	t.Helper()
	c, err := Parse([]byte(data), t.TempDir(), noEnv)
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	return c
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
