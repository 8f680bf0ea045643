package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// offlineConfig is a valid configuration whose servers are never contacted:
// the usage errors below are found before any connection.
const offlineConfig = `database = "mw.db"

[directory]
url = "ldap://127.0.0.1:1"
bind_dn = "cn=admin,dc=example,dc=org"
bind_password = "secret"
base_dn = "dc=example,dc=org"

[[servers]]
name = "src"
address = "127.0.0.1:1"
tls = "none"
home = "src.example.org"
admin_user = "admin"
admin_password = "adminpw"

[[servers]]
name = "dst"
address = "127.0.0.1:2"
tls = "none"
home = "dst.example.org"
login = "master-user"
admin_user = "admin"
admin_password = "adminpw"
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatalf("WriteFile(%s) = %v", p, err)
	}
	return p
}

// runInProcess runs the CLI as main does and returns its exit code and
// what it printed; stderr includes exitCode's "movewizard: ..." line.
func runInProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.toml", offlineConfig)
	unknownKey := writeFile(t, dir, "unknown.toml", strings.Replace(offlineConfig,
		`address = "127.0.0.1:2"`, "address = \"127.0.0.1:2\"\nadress = \"typo\"", 1))
	badAddr := writeFile(t, dir, "badaddr.toml", strings.Replace(offlineConfig,
		`address = "127.0.0.1:1"`, `address = "no-port-here"`, 1))
	usersFile := writeFile(t, dir, "users.csv", "uid,name\nuser001,One\n# a comment\n\nbad user,Two\n")
	goodUsers := writeFile(t, dir, "good-users.txt", "user001\n")

	tests := []struct {
		name       string
		args       []string
		wantStderr []string
	}{
		{"no args", nil, []string{"Usage:", "movewizard move"}},
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate"`, "Usage:"}},
		{"move without config", []string{"move", "-target", "dst", "-users", "user001"}, []string{"-config is required"}},
		{"move without target", []string{"move", "-config", good, "-users", "user001"}, []string{"-target is required"}},
		{"move with unknown target", []string{"move", "-config", good, "-target", "nowhere", "-users", "user001"}, []string{`-target "nowhere"`}},
		{"move without users", []string{"move", "-config", good, "-target", "dst"}, []string{"give exactly one of -users and -users-file"}},
		{"move with users and users-file", []string{"move", "-config", good, "-target", "dst", "-users", "user001", "-users-file", goodUsers},
			[]string{"give exactly one of -users and -users-file"}},
		{"empty uid in users", []string{"move", "-config", good, "-target", "dst", "-users", "user001,,user002"}, []string{"-users item 2: empty uid"}},
		{"bogus policy", []string{"move", "-config", good, "-target", "dst", "-users", "user001", "-policy", "bogus"},
			[]string{`-policy must be abandon or skip, not "bogus"`}},
		{"parallel 0", []string{"move", "-config", good, "-target", "dst", "-users", "user001", "-parallel", "0"},
			[]string{"-parallel must be between 1 and 30, not 0"}},
		{"parallel 31", []string{"move", "-config", good, "-target", "dst", "-users", "user001", "-parallel", "31"},
			[]string{"-parallel must be between 1 and 30, not 31"}},
		{"max-bad without skip", []string{"move", "-config", good, "-target", "dst", "-users", "user001", "-max-bad", "3"},
			[]string{"-max-bad needs -policy skip"}},
		{"negative max-bad", []string{"move", "-config", good, "-target", "dst", "-users", "user001", "-policy", "skip", "-max-bad", "-1"},
			[]string{"-max-bad must be 0 or more"}},
		{"unknown flag", []string{"move", "-config", good, "-bogus"}, []string{"flag provided but not defined: -bogus"}},
		{"extra argument", []string{"move", "-config", good, "-target", "dst", "-users", "user001", "user002"},
			[]string{`unexpected argument "user002"`}},
		{"malformed users-file line", []string{"move", "-config", good, "-target", "dst", "-users-file", usersFile},
			[]string{"users.csv line 5", `"bad user"`}},
		{"missing users-file", []string{"move", "-config", good, "-target", "dst", "-users-file", filepath.Join(dir, "nope.txt")},
			[]string{"nope.txt"}},
		{"config with unknown key", []string{"move", "-config", unknownKey, "-target", "dst", "-users", "user001"},
			[]string{"servers[1].adress", "unknown key"}},
		{"config with bad address", []string{"move", "-config", badAddr, "-target", "dst", "-users", "user001"},
			[]string{"servers[0].address", "no-port-here"}},
		{"missing config file", []string{"move", "-config", filepath.Join(dir, "nope.toml"), "-target", "dst", "-users", "user001"},
			[]string{"nope.toml"}},
		{"resume without config", []string{"resume"}, []string{"-config is required"}},
		{"resume with unknown key", []string{"resume", "-config", unknownKey}, []string{"servers[1].adress", "unknown key"}},
		{"check without config", []string{"check"}, []string{"check: -config is required"}},
		{"check with bad address", []string{"check", "-config", badAddr}, []string{"servers[0].address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInProcess(t, tc.args...)
			if code != 2 {
				t.Errorf("run(%q) exit code = %d, want 2; stderr:\n%s", tc.args, code, stderr)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("run(%q) stderr = %q, want it to contain %q", tc.args, stderr, want)
				}
			}
		})
	}
}

// TestUsageErrorsLeaveNoDatabase checks that a usage error found before the
// configuration is loaded creates nothing beside the config.
func TestUsageErrorsLeaveNoDatabase(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.toml", offlineConfig)
	code, _, stderr := runInProcess(t, "move", "-config", good, "-target", "dst", "-users", "user001", "-parallel", "0")
	if code != 2 {
		t.Fatalf("run() exit code = %d, want 2; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "mw.db")); !os.IsNotExist(err) {
		t.Errorf("Stat(mw.db) = %v, want not exist after a usage error", err)
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		command string
		flags   []string
	}{
		{"move", []string{"config", "target", "users", "users-file", "policy", "max-bad", "parallel", "keep-source", "v"}},
		{"resume", []string{"config", "v"}},
		{"check", []string{"config", "user"}},
		{"serve", []string{"config", "v"}},
		{"jobs", []string{"config", "job", "move"}},
		{"cancel", []string{"config", "job", "move"}},
		{"retry", []string{"config", "job", "move"}},
		{"demo", []string{"database", "pace", "v"}},
	}
	for _, tc := range tests {
		t.Run(tc.command, func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, tc.command, "-h")
			if code != 0 {
				t.Fatalf("run(%s -h) exit code = %d, want 0; stderr:\n%s", tc.command, code, stderr)
			}
			help := stdout + stderr
			if !strings.Contains(help, "Usage: movewizard "+tc.command) {
				t.Errorf("run(%s -h) = %q, want a usage line", tc.command, help)
			}
			for _, f := range tc.flags {
				if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(f) + `[ \t]*$|^  -` + regexp.QuoteMeta(f) + `[ \t]`).MatchString(help) {
					t.Errorf("run(%s -h) = %q, want flag -%s", tc.command, help, f)
				}
			}
		})
	}
	for _, arg := range []string{"-h", "help", "--help"} {
		t.Run(arg, func(t *testing.T) {
			code, stdout, _ := runInProcess(t, arg)
			if code != 0 {
				t.Errorf("run(%s) exit code = %d, want 0", arg, code)
			}
			for _, c := range []string{"movewizard move", "movewizard resume", "movewizard check", "movewizard serve",
				"movewizard jobs", "movewizard cancel", "movewizard retry", "movewizard demo"} {
				if !strings.Contains(stdout, c) {
					t.Errorf("run(%s) stdout = %q, want %q", arg, stdout, c)
				}
			}
		})
	}
}
