package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The kick keys go after a server's max_parallel line (src) or its
// admin_password line (dst).
const (
	srcKickAfter = "max_parallel = 8"
	dstKickAfter = `admin_password = "dst-s3cret"`
)

func TestParseKick(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "kick.key"), "key-from-file\n")
	env := func(name string) string {
		if name == "MW_KICK" {
			return "key-from-env"
		}
		return ""
	}
	tests := []struct {
		name        string
		after, keys string
		server      int
		want        Kick
	}{
		{"none", srcKickAfter, "", 0, Kick{}},
		{"command", srcKickAfter, `kick_command = ["doveadm", "kick", "{user}"]`, 0,
			Kick{Command: []string{"doveadm", "kick", "{user}"}}},
		{"command with the uid inside an argument", srcKickAfter, `kick_command = ["/usr/local/bin/kick", "--user={user}", "-q"]`, 0,
			Kick{Command: []string{"/usr/local/bin/kick", "--user={user}", "-q"}}},
		{"http api, inline key", srcKickAfter, "kick_url = \"http://127.0.0.1:8080/doveadm/v1\"\nkick_api_key = \"k-s3cret\"", 0,
			Kick{URL: "http://127.0.0.1:8080/doveadm/v1", APIKey: "k-s3cret"}},
		{"http api, key from a file", dstKickAfter, "kick_url = \"https://imap.example.org:8443/doveadm/v1\"\nkick_api_key_file = \"kick.key\"", 1,
			Kick{URL: "https://imap.example.org:8443/doveadm/v1", APIKey: "key-from-file"}},
		{"http api, key from the environment", dstKickAfter, "kick_url = \"https://imap.example.org/doveadm/v1\"\nkick_api_key_env = \"MW_KICK\"", 1,
			Kick{URL: "https://imap.example.org/doveadm/v1", APIKey: "key-from-env"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := exampleConfig
			if tc.keys != "" {
				data = edit(t, tc.after, tc.after+"\n"+tc.keys)
			}
			c, err := Parse([]byte(data), dir, env)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			got := c.Servers[tc.server].Kick
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse().Servers[%d].Kick = %#v (key match %t), want %#v", tc.server, got, got.APIKey == tc.want.APIKey, tc.want)
			}
			if got.Configured() != (tc.keys != "") {
				t.Errorf("Kick.Configured() = %t, want %t", got.Configured(), tc.keys != "")
			}
			if other := c.Servers[1-tc.server].Kick; other.Configured() {
				t.Errorf("Parse().Servers[%d].Kick = %v, want none: the keys were on the other server", 1-tc.server, other)
			}
		})
	}
}

func TestParseKickInvalid(t *testing.T) {
	tests := []struct {
		name  string
		after string
		keys  string
		want  []string // substrings of the single problem
	}{
		{"command and url", srcKickAfter, "kick_command = [\"doveadm\", \"kick\", \"{user}\"]\nkick_url = \"http://127.0.0.1:8080/doveadm/v1\"\nkick_api_key = \"k-s3cret\"",
			[]string{"servers[0].kick_url: set only one of kick_command and kick_url"}},
		{"empty command", srcKickAfter, `kick_command = []`, []string{"servers[0].kick_command: is empty", `["doveadm", "kick", "{user}"]`}},
		{"command without the uid", dstKickAfter, `kick_command = ["doveadm", "kick", "-A"]`,
			[]string{"servers[1].kick_command: no argument contains {user}"}},
		{"empty program", srcKickAfter, `kick_command = ["", "{user}"]`, []string{"servers[0].kick_command[0]: the program is empty"}},
		{"program from the uid", srcKickAfter, `kick_command = ["/bin/{user}", "{user}"]`,
			[]string{"servers[0].kick_command[0]:", "must not depend on the uid"}},
		{"line break in an argument", srcKickAfter, `kick_command = ["doveadm", "kick", "{user}\n-A"]`,
			[]string{"servers[0].kick_command[2]:", "line break"}},
		{"command not a list", srcKickAfter, `kick_command = "doveadm kick {user}"`, []string{"kick_command"}},
		{"url without key", srcKickAfter, `kick_url = "http://127.0.0.1:8080/doveadm/v1"`,
			[]string{"servers[0].kick_api_key: required with kick_url (or kick_api_key_file or kick_api_key_env)"}},
		{"key without url", dstKickAfter, `kick_api_key = "k-s3cret"`, []string{"servers[1].kick_api_key: only with kick_url"}},
		{"url not http", srcKickAfter, "kick_url = \"ftp://127.0.0.1/doveadm/v1\"\nkick_api_key = \"k-s3cret\"",
			[]string{"servers[0].kick_url:", "not an http:// or https:// URL"}},
		{"url with user info", srcKickAfter, "kick_url = \"http://doveadm:u-s3cret@127.0.0.1/doveadm/v1\"\nkick_api_key = \"k-s3cret\"",
			[]string{"servers[0].kick_url: must not contain user info"}},
		{"cleartext url to another host", srcKickAfter, "kick_url = \"http://imap.example.org:8080/doveadm/v1\"\nkick_api_key = \"k-s3cret\"",
			[]string{"servers[0].kick_url:", "would send the API key in cleartext", "allow_plaintext = true"}},
		{"key from two sources", srcKickAfter, "kick_url = \"http://127.0.0.1:8080/doveadm/v1\"\nkick_api_key = \"k-s3cret\"\nkick_api_key_env = \"MW_KICK\"",
			[]string{"servers[0].kick_api_key: set only one of kick_api_key, kick_api_key_file and kick_api_key_env"}},
		{"key file missing", srcKickAfter, "kick_url = \"http://127.0.0.1:8080/doveadm/v1\"\nkick_api_key_file = \"nope.key\"",
			[]string{"servers[0].kick_api_key_file:", "nope.key"}},
		{"key env unset", srcKickAfter, "kick_url = \"http://127.0.0.1:8080/doveadm/v1\"\nkick_api_key_env = \"MW_KICK\"",
			[]string{"servers[0].kick_api_key_env:", `"MW_KICK" is unset or empty`}},
		{"misspelt key", srcKickAfter, `kick_comand = ["doveadm", "kick", "{user}"]`, []string{"servers[0].kick_comand: unknown key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(edit(t, tc.after, tc.after+"\n"+tc.keys)), t.TempDir(), noEnv)
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
			for _, secret := range []string{"k-s3cret", "u-s3cret", "src-s3cret", "dst-s3cret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Parse() error = %q, want no secret in it", err)
				}
			}
		})
	}
}

// An http:// kick_url to a host that is not loopback is accepted with the
// server's allow_plaintext, and listed by Cleartext like the IMAP
// connection.
func TestKickCleartext(t *testing.T) {
	data := edit(t, srcKickAfter, srcKickAfter+"\nallow_plaintext = true\nkick_url = \"http://imap.example.org:8080/doveadm/v1\"\nkick_api_key = \"k-s3cret\"")
	c := mustParse(t, data)
	want := "src: doveadm HTTP API (kick_url) without TLS (allowed by allow_plaintext)"
	if got := c.Cleartext(); !containsLine(got, want) {
		t.Errorf("Cleartext() = %q, want the line %q", got, want)
	}
	c = mustParse(t, edit(t, dstKickAfter, dstKickAfter+"\nkick_url = \"https://imap.example.org/doveadm/v1\"\nkick_api_key = \"k-s3cret\""))
	for _, l := range c.Cleartext() {
		if strings.Contains(l, "doveadm") {
			t.Errorf("Cleartext() = %q, want no doveadm line for an https:// kick_url", c.Cleartext())
		}
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestKickRedaction(t *testing.T) {
	c := mustParse(t, edit(t, srcKickAfter, srcKickAfter+"\nkick_url = \"http://127.0.0.1:8080/doveadm/v1?token=q-s3cret\"\nkick_api_key = \"k-s3cret\""))
	s := c.Servers[0]
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("server", "server", s, "kick", s.Kick)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("server", "servers", c.Servers)
	marshalled, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal() error = %v", err)
	}
	for _, tc := range []struct{ name, out, want string }{
		{"String server", s.String(), "kick=doveadm HTTP API http://127.0.0.1:8080/doveadm/v1"},
		{"Sprintf %#v kick", fmt.Sprintf("%#v", s.Kick), "127.0.0.1:8080"},
		{"Sprintf %+v server", fmt.Sprintf("%+v", s), "127.0.0.1:8080"},
		{"slog text", text.String(), redacted},
		{"slog json servers", js.String(), redacted},
		{"json server", string(marshalled), redacted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.out, tc.want) {
				t.Errorf("output = %q, want it to contain %q", tc.out, tc.want)
			}
			for _, secret := range []string{"k-s3cret", "q-s3cret", "src-s3cret"} {
				if strings.Contains(tc.out, secret) {
					t.Errorf("output = %q, want no %q", tc.out, secret)
				}
			}
		})
	}
	if s.Kick.APIKey != "k-s3cret" {
		t.Errorf("Kick.APIKey after printing = %q, want it unchanged", s.Kick.APIKey)
	}
	cmd := mustParse(t, edit(t, srcKickAfter, srcKickAfter+"\nkick_command = [\"doveadm\", \"kick\", \"{user}\"]")).Servers[0]
	if got, want := cmd.String(), `kick=command ["doveadm" "kick" "{user}"]`; !strings.Contains(got, want) {
		t.Errorf("Server.String() = %q, want it to contain %q", got, want)
	}
}
