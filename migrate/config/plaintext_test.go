package config

import (
	"slices"
	"strings"
	"testing"
)

// plainConfig has one server whose address, tls and extra lines the tests
// fill in, and a directory URL and extra lines likewise.
func plainConfig(url, dirExtra, address, serverExtra string) string {
	return `
[directory]
url = "` + url + `"
` + dirExtra + `
bind_dn = "cn=admin,dc=example,dc=org"
bind_password = "x"
base_dn = "dc=example,dc=org"

[[servers]]
name = "only"
address = "` + address + `"
` + serverExtra + `
home = "imap.example.org"
admin_user = "admin"
admin_password = "y"
`
}

func TestParseConfigTLSRequired(t *testing.T) {
	_, err := Parse([]byte(plainConfig("ldaps://ldap.example.org", "", "127.0.0.1:143", "")), "", noEnv)
	const want = `servers[0].tls is required: "tls", "starttls" or "none"`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(no tls) error = %v, want exactly %q", err, want)
	}
	// The index is the server's: the second one is servers[1]; its
	// tls_skip_verify is not reported besides.
	_, err = Parse([]byte(edit(t, `tls = "tls"`, ``)), "", noEnv)
	const want1 = `servers[1].tls is required: "tls", "starttls" or "none"`
	if err == nil || err.Error() != want1 {
		t.Errorf("Parse(second server without tls) error = %v, want exactly %q", err, want1)
	}
}

func TestParseConfigServerPlaintext(t *testing.T) {
	const refused = `servers[0].tls: "none" to %q would send the admin password in cleartext; use "tls" or "starttls", or set allow_plaintext = true to accept that`
	tests := []struct {
		address, extra string
		ok             bool
	}{
		{"127.0.0.1:143", `tls = "none"`, true},
		{"127.3.4.5:143", `tls = "none"`, true},
		{"[::1]:143", `tls = "none"`, true},
		{"localhost:143", `tls = "none"`, true},
		{"LocalHost:143", `tls = "none"`, true},
		{"[::ffff:127.0.0.1]:143", `tls = "none"`, true},
		{"imap.example.org:143", `tls = "none"`, false},
		{"10.0.0.7:143", `tls = "none"`, false},
		{"[2001:db8::1]:143", `tls = "none"`, false},
		{"localhost.example.org:143", `tls = "none"`, false},
		{"127.0.0.1.nip.io:143", `tls = "none"`, false},
		{"128.0.0.1:143", `tls = "none"`, false},
		{"imap.example.org:143", "tls = \"none\"\nallow_plaintext = true", true},
		{"imap.example.org:143", `tls = "starttls"`, true},
		{"imap.example.org:993", `tls = "tls"`, true},
		{"imap.example.org:993", "tls = \"tls\"\nallow_plaintext = true", true},
	}
	for _, tc := range tests {
		t.Run(tc.address+" "+tc.extra, func(t *testing.T) {
			c, err := Parse([]byte(plainConfig("ldaps://ldap.example.org", "", tc.address, tc.extra)), "", noEnv)
			if tc.ok {
				if err != nil {
					t.Fatalf("Parse() error = %v, want nil", err)
				}
				if want := strings.Contains(tc.extra, "allow_plaintext"); c.Servers[0].AllowPlaintext != want {
					t.Errorf("Parse().Servers[0].AllowPlaintext = %t, want %t", c.Servers[0].AllowPlaintext, want)
				}
				return
			}
			want := strings.Replace(refused, "%q", `"`+tc.address+`"`, 1)
			if err == nil || err.Error() != want {
				t.Errorf("Parse() error = %v, want exactly %q", err, want)
			}
		})
	}
}

func TestParseConfigDirectoryPlaintext(t *testing.T) {
	tests := []struct {
		url, extra string
		want       string // the single problem; "" means valid
	}{
		{"ldap://127.0.0.1:3389", "", ""},
		{"ldap://localhost", "", ""},
		{"ldap://[::1]:389", "", ""},
		{"ldaps://ldap.example.org", "", ""},
		{"ldap://ldap.example.org", "starttls = true", ""},
		{"ldap://ldap.example.org", "allow_plaintext = true", ""},
		{"ldap://127.0.0.1:3389", "starttls = true", ""},
		{"ldap://ldap.example.org", "", `directory.url: "ldap://ldap.example.org" is not encrypted: the bind password and every sign-in password would cross the network in cleartext; use ldaps://, set starttls = true, or set allow_plaintext = true to accept that`},
		{"ldap://10.1.2.3:389", "", `directory.url: "ldap://10.1.2.3:389" is not encrypted`},
		{"ldaps://ldap.example.org", "starttls = true", `directory.starttls: not with an ldaps:// URL, which is TLS from the start`},
	}
	for _, tc := range tests {
		t.Run(tc.url+" "+tc.extra, func(t *testing.T) {
			c, err := Parse([]byte(plainConfig(tc.url, tc.extra, "127.0.0.1:143", `tls = "none"`)), "", noEnv)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Parse() error = %v, want nil", err)
				}
				if c.Directory.StartTLS != strings.Contains(tc.extra, "starttls") ||
					c.Directory.AllowPlaintext != strings.Contains(tc.extra, "allow_plaintext") {
					t.Errorf("Parse().Directory = %v, want the keys of %q", c.Directory, tc.extra)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || problemCount(err) != 1 {
				t.Errorf("Parse() error = %v, want one problem starting %q", err, tc.want)
			}
		})
	}
}

func TestCleartext(t *testing.T) {
	c := &Config{
		Directory: Directory{URL: "ldap://127.0.0.1:3389"},
		Servers: []Server{
			{Name: "src", Address: "imap.example.org:143", TLS: TLSNone, AllowPlaintext: true},
			{Name: "dst", Address: "127.0.0.1:143", TLS: TLSNone},
			{Name: "code", Address: "127.0.0.1:144"}, // built in code: TLS "" dials like none
			{Name: "secure", Address: "imap.example.org:993", TLS: TLSImplicit},
			{Name: "upgraded", Address: "imap.example.org:143", TLS: TLSStartTLS},
		},
	}
	want := []string{
		"directory: LDAP without TLS (loopback address)",
		"src: IMAP without TLS (allowed by allow_plaintext)",
		"dst: IMAP without TLS (loopback address)",
		"code: IMAP without TLS (loopback address)",
	}
	if got := c.Cleartext(); !slices.Equal(got, want) {
		t.Errorf("Cleartext() = %q, want %q", got, want)
	}
	for _, d := range []Directory{
		{URL: "ldaps://ldap.example.org"},
		{URL: "ldap://ldap.example.org", StartTLS: true},
	} {
		if got := d.Cleartext(); got != "" {
			t.Errorf("%v.Cleartext() = %q, want empty", d, got)
		}
	}
	d := Directory{URL: "ldap://ldap.example.org", AllowPlaintext: true}
	if got, want := d.Cleartext(), "LDAP without TLS (allowed by allow_plaintext)"; got != want {
		t.Errorf("Cleartext() = %q, want %q", got, want)
	}
	// Only a config built in code can reach this: no reason to give.
	if got, want := (Server{Address: "imap.example.org:143", TLS: TLSNone}).Cleartext(), "IMAP without TLS"; got != want {
		t.Errorf("Cleartext() = %q, want %q", got, want)
	}
}
