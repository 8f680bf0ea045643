package testserver

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Each slapd lives in its own temporary directory: config, mdb database, pid file and log.
// It runs in the foreground (-d) as our child so that Stop can wait for it, and its "stats"
// debug output goes to a file: one line per operation, which ModifyCount counts.

const (
	slapdSchemaDir = "/etc/ldap/schema"
	slapdModuleDir = "/usr/lib/ldap"
	slapdBaseDN    = "dc=example,dc=org"
	slapdAdminDN   = "cn=admin," + slapdBaseDN
	slapdAdminPW   = "adminpw"
	// slapdStartTimeout only guards against a hung start; it is not a speed assertion.
	slapdStartTimeout = 30 * time.Second
	slapdStopTimeout  = 30 * time.Second
	slapdStartTries   = 3
)

// slapdSchemas are the schema files slapd.conf includes, in dependency order.
var slapdSchemas = []string{"core", "cosine", "nis", "inetorgperson", "misc"}

// slapdModifyLine matches the stats line slapd logs when it receives a modify request, e.g.
// `conn=1001 op=2 MOD dn="uid=user001,ou=people,dc=example,dc=org"`.
var slapdModifyLine = regexp.MustCompile(`\bconn=\d+ op=\d+ MOD dn="(.*)"\s*$`)

// SlapdUser is a person entry under ou=people: objectClass inetOrgPerson and
// inetLocalMailRecipient. Empty fields are left out of the entry, except CN, which
// defaults to the UID because inetOrgPerson requires it.
type SlapdUser struct {
	UID      string
	CN       string
	Mail     string
	Home     string // the mailHost attribute
	Password string // userPassword, stored in clear text so that simple binds work
}

// SlapdGroup is a groupOfNames under ou=groups whose members are users by uid.
type SlapdGroup struct {
	CN      string
	Members []string // uids
}

// SlapdOptions lists the initial directory content.
type SlapdOptions struct {
	Users  []SlapdUser
	Groups []SlapdGroup
}

// Slapd is a running OpenLDAP server on 127.0.0.1 with the suffix dc=example,dc=org.
// Its rootdn AdminDN may modify anything; users may bind with their password and read
// everything except passwords.
type Slapd struct {
	URL           string // ldap://127.0.0.1:port
	BaseDN        string // dc=example,dc=org
	PeopleDN      string // ou=people,dc=example,dc=org
	GroupsDN      string // ou=groups,dc=example,dc=org
	AdminDN       string // cn=admin,dc=example,dc=org
	AdminPassword string
	Dir           string // config, database and log
	Pid           int

	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd.Wait returned
	stopOnce sync.Once
}

// StartSlapd loads opts into a new database and starts slapd on a free port. t.Cleanup
// stops it. A missing slapd skips the test (fails it under CI).
func StartSlapd(t testing.TB, opts SlapdOptions) *Slapd {
	t.Helper()
	slapd := RequireBinary(t, "slapd")
	slapadd := RequireBinary(t, "slapadd")
	if _, err := os.Stat(filepath.Join(slapdSchemaDir, "inetorgperson.schema")); err != nil {
		requirementMissing(t, "OpenLDAP schema files: %v", err)
	}

	dir := t.TempDir()
	s := &Slapd{
		BaseDN:        slapdBaseDN,
		PeopleDN:      "ou=people," + slapdBaseDN,
		GroupsDN:      "ou=groups," + slapdBaseDN,
		AdminDN:       slapdAdminDN,
		AdminPassword: slapdAdminPW,
		Dir:           dir,
		logPath:       filepath.Join(dir, "slapd.log"),
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatalf("StartSlapd: %v", err)
	}
	if err := os.WriteFile(conf, []byte(s.config()), 0o600); err != nil {
		t.Fatalf("StartSlapd: write config: %v", err)
	}
	ldif := filepath.Join(dir, "init.ldif")
	if err := os.WriteFile(ldif, []byte(s.ldif(opts)), 0o600); err != nil {
		t.Fatalf("StartSlapd: write LDIF: %v", err)
	}
	if out, err := exec.Command(slapadd, "-q", "-f", conf, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("StartSlapd: slapadd: %v\n%s", err, out)
	}

	// FreePort's port may be taken before slapd binds it: slapd then exits, and we retry.
	var lastErr error
	for try := 0; try < slapdStartTries; try++ {
		if lastErr = s.start(slapd, conf, FreePort(t)); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("StartSlapd: %v\n%s", lastErr, s.Log())
	return nil
}

// start runs slapd on port and waits until it accepts connections.
func (s *Slapd) start(bin, conf string, port int) error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "-d", "stats", "-f", conf, "-h", "ldap://"+addr+"/")
	// If the test binary dies without its cleanup (a test timeout panics),
	// slapd must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// The child writes straight into the file, so every line is there by the time slapd
	// answers the request it describes.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	err = cmd.Start()
	if closeErr := logFile.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("close log: %w", closeErr)
	}
	if err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		// The exit status is not interesting: Stop signals slapd on purpose, and an
		// early exit is reported below with the log.
		_ = cmd.Wait()
		close(exited)
	}()

	deadline := time.Now().Add(slapdStartTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("slapd on port %d exited during start-up", port)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			if err := c.Close(); err != nil {
				return fmt.Errorf("close probe connection: %w", err)
			}
			break
		}
		if time.Now().After(deadline) {
			stopProcess(cmd, exited)
			return fmt.Errorf("slapd did not listen on %s within %v: %w", addr, slapdStartTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.URL = "ldap://" + addr
	s.Pid = cmd.Process.Pid
	s.cmd, s.exited = cmd, exited
	return nil
}

// Stop terminates slapd and waits for it to exit. It is safe to call more than once.
func (s *Slapd) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd != nil {
			stopProcess(s.cmd, s.exited)
		}
	})
}

// stopProcess asks the process to terminate, kills it if it does not exit in time, and
// waits until it is reaped.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		// Nothing else to do than kill it.
		_ = cmd.Process.Kill()
	}
	select {
	case <-exited:
		return
	case <-time.After(slapdStopTimeout):
	}
	// Kill may race with the exit; the wait below is what matters.
	_ = cmd.Process.Kill()
	<-exited
}

// UserDN returns the DN of the person entry with this uid.
func (s *Slapd) UserDN(uid string) string {
	return "uid=" + ldap.EscapeDN(uid) + "," + s.PeopleDN
}

// GroupDN returns the DN of the group with this cn.
func (s *Slapd) GroupDN(cn string) string {
	return "cn=" + ldap.EscapeDN(cn) + "," + s.GroupsDN
}

// Attr returns the current values of attr in the entry dn, read as the admin. A missing
// attribute gives no values; a missing entry fails the test.
func (s *Slapd) Attr(t testing.TB, dn, attr string) []string {
	t.Helper()
	conn, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("Slapd.Attr: dial: %v", err)
	}
	defer func() {
		if err := conn.Close(); err != nil {
			t.Errorf("Slapd.Attr: close: %v", err)
		}
	}()
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatalf("Slapd.Attr: bind as admin: %v", err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{attr}, nil))
	if err != nil {
		t.Fatalf("Slapd.Attr(%q, %q): %v", dn, attr, err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("Slapd.Attr(%q, %q): %d entries, want 1", dn, attr, len(res.Entries))
	}
	return res.Entries[0].GetAttributeValues(attr)
}

// ModifyCount returns how many modify requests for dn slapd has received, successful or
// not, according to its stats log. DNs compare as DNs: case and spacing do not matter.
func (s *Slapd) ModifyCount(t testing.TB, dn string) int {
	t.Helper()
	want, err := ldap.ParseDN(dn)
	if err != nil {
		t.Fatalf("Slapd.ModifyCount: parse DN %q: %v", dn, err)
	}
	f, err := os.Open(s.logPath)
	if err != nil {
		t.Fatalf("Slapd.ModifyCount: %v", err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Errorf("Slapd.ModifyCount: close log: %v", err)
		}
	}()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		m := slapdModifyLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		got, err := ldap.ParseDN(m[1])
		if err != nil {
			t.Fatalf("Slapd.ModifyCount: parse logged DN %q: %v", m[1], err)
		}
		if got.EqualFold(want) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("Slapd.ModifyCount: read log: %v", err)
	}
	return n
}

// Log returns slapd's output so far, for failure messages.
func (s *Slapd) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no slapd log: %v)", err)
	}
	return string(b)
}

// config returns slapd.conf, as in ../shared/bench/servers.sh. The rootdn bypasses the
// access rules, so the admin may modify anything.
func (s *Slapd) config() string {
	var b strings.Builder
	for _, name := range slapdSchemas {
		fmt.Fprintf(&b, "include %s\n", filepath.Join(slapdSchemaDir, name+".schema"))
	}
	fmt.Fprintf(&b, "pidfile %s\n", filepath.Join(s.Dir, "slapd.pid"))
	fmt.Fprintf(&b, "argsfile %s\n", filepath.Join(s.Dir, "slapd.args"))
	fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\n", slapdModuleDir)
	fmt.Fprintf(&b, "database mdb\nmaxsize 268435456\n")
	fmt.Fprintf(&b, "suffix %q\nrootdn %q\nrootpw %s\n", s.BaseDN, s.AdminDN, s.AdminPassword)
	fmt.Fprintf(&b, "directory %s\n", filepath.Join(s.Dir, "db"))
	b.WriteString("index objectClass,uid,mail,mailHost eq\n")
	b.WriteString("access to attrs=userPassword by self write by anonymous auth by * none\n")
	b.WriteString("access to * by * read\n")
	return b.String()
}

// ldif returns the initial entries: the suffix, ou=people, ou=groups, the users and the
// groups. A group without members gets the admin as member, because groupOfNames
// requires one.
func (s *Slapd) ldif(opts SlapdOptions) string {
	var b strings.Builder
	entry := func(dn string, attrs ...string) {
		ldifLine(&b, "dn", dn)
		for i := 0; i+1 < len(attrs); i += 2 {
			if attrs[i+1] != "" {
				ldifLine(&b, attrs[i], attrs[i+1])
			}
		}
		b.WriteString("\n")
	}
	entry(s.BaseDN, "objectClass", "dcObject", "objectClass", "organization", "o", "Example", "dc", "example")
	entry(s.PeopleDN, "objectClass", "organizationalUnit", "ou", "people")
	entry(s.GroupsDN, "objectClass", "organizationalUnit", "ou", "groups")
	for _, u := range opts.Users {
		cn := u.CN
		if cn == "" {
			cn = u.UID
		}
		entry(s.UserDN(u.UID),
			"objectClass", "inetOrgPerson", "objectClass", "inetLocalMailRecipient",
			"uid", u.UID, "cn", cn, "sn", cn, "mail", u.Mail, "mailHost", u.Home,
			"userPassword", u.Password)
	}
	for _, g := range opts.Groups {
		attrs := []string{"objectClass", "groupOfNames", "cn", g.CN}
		for _, uid := range g.Members {
			attrs = append(attrs, "member", s.UserDN(uid))
		}
		if len(g.Members) == 0 {
			attrs = append(attrs, "member", s.AdminDN)
		}
		entry(s.GroupDN(g.CN), attrs...)
	}
	return b.String()
}

// ldifLine writes one attribute line, base64-encoded where RFC 2849 requires it.
func ldifLine(b *strings.Builder, attr, value string) {
	if ldifSafe(value) {
		fmt.Fprintf(b, "%s: %s\n", attr, value)
		return
	}
	fmt.Fprintf(b, "%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(value)))
}

// ldifSafe reports whether value may be written as a SAFE-STRING (RFC 2849, section 2).
func ldifSafe(value string) bool {
	if value == "" {
		return true
	}
	if !utf8.ValidString(value) || strings.ContainsAny(value[:1], " :<") || strings.HasSuffix(value, " ") {
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == 0 || c == '\n' || c == '\r' || c > 0x7f {
			return false
		}
	}
	return true
}
