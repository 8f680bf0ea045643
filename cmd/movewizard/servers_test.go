package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/testserver"
)

const (
	srcHome = "src.example.org"
	dstHome = "dst.example.org"
	// dstPasswordEnv holds the target's admin password in the children's
	// environment: the config names it with admin_password_env.
	dstPasswordEnv = "MW_TEST_DST_ADMIN_PASSWORD"
	// onDstUser already lives on the target.
	onDstUser = "user099"
	// binTimeout only keeps a hung child from hanging the test run; it is
	// not a speed assertion.
	binTimeout = 3 * time.Minute
)

// servers is a real source Dovecot ("." separator, "INBOX." prefix), a real
// target Dovecot ("/" separator, no prefix), both with special-use folders
// auto-created, and slapd with the users: user001..userNNN homed on the
// source, and onDstUser homed on the target.
type servers struct {
	src, dst *testserver.Dovecot
	ldap     *testserver.Slapd
	users    []string // homed on the source
	dir      string   // config files, secrets and databases
}

func startServers(t *testing.T, n int) *servers {
	t.Helper()
	s := &servers{dir: t.TempDir()}
	dovecotUsers := testserver.DovecotUsers(n)
	dovecotUsers[onDstUser] = "pw-" + onDstUser
	var ldapUsers []testserver.SlapdUser
	for i := 1; i <= n; i++ {
		uid := fmt.Sprintf("user%03d", i)
		s.users = append(s.users, uid)
		ldapUsers = append(ldapUsers, testserver.SlapdUser{UID: uid, Mail: uid + "@example.org", Home: srcHome, Password: "pw-" + uid})
	}
	ldapUsers = append(ldapUsers, testserver.SlapdUser{UID: onDstUser, Mail: onDstUser + "@example.org", Home: dstHome, Password: "pw-" + onDstUser})

	s.src = testserver.StartDovecot(t, testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", Users: dovecotUsers, AutoSpecial: true})
	s.dst = testserver.StartDovecot(t, testserver.DovecotOptions{Sep: "/", Users: dovecotUsers, AutoSpecial: true})
	s.ldap = testserver.StartSlapd(t, testserver.SlapdOptions{Users: ldapUsers})
	writeFile(t, s.dir, "bind-password", s.ldap.AdminPassword+"\n")
	return s
}

// config writes a config file using the database name (in s.dir) and
// returns its path. The directory's bind password comes from a file and the
// target's admin password from the environment (see childEnv).
func (s *servers) config(t *testing.T, database string) string {
	t.Helper()
	body := fmt.Sprintf(`database = %q

[directory]
url = %q
bind_dn = %q
bind_password_file = "bind-password"
base_dn = %q
home_attribute = "mailHost"

[[servers]]
name = "src"
address = %q
tls = "none"
home = %q
login = "sasl-plain"
admin_user = %q
admin_password = %q

[[servers]]
name = "dst"
address = %q
tls = "none"
home = %q
login = "master-user"
admin_user = %q
admin_password_env = %q
`, database, s.ldap.URL, s.ldap.AdminDN, s.ldap.BaseDN,
		s.src.Addr, srcHome, s.src.MasterUser, s.src.MasterPassword,
		s.dst.Addr, dstHome, s.dst.MasterUser, dstPasswordEnv)
	return writeFile(t, s.dir, strings.TrimSuffix(database, ".db")+".toml", body)
}

// childEnv is the environment of a movewizard child: ours, the target's
// admin password, and extra (e.g. MOVEWIZARD_CRASH). The crash hook variable
// is removed first so a developer's shell cannot leak it in.
func (s *servers) childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOVEWIZARD_CRASH=") && !strings.HasPrefix(kv, dstPasswordEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, dstPasswordEnv+"="+s.dst.MasterPassword)
	return append(env, extra...)
}

// result is a finished child.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("err %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// runBinary runs the built movewizard to its end.
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), binTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("movewizard %q did not finish within %v (hung?)\nstdout:\n%s\nstderr:\n%s", args, binTimeout, out.String(), errOut.String())
	}
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// home returns the user's mailHost values.
func (s *servers) home(t *testing.T, uid string) []string {
	t.Helper()
	return s.ldap.Attr(t, s.ldap.UserDN(uid), "mailHost")
}
